"""Messages and replies as Discord sees them: embeds within Discord's limits, choice buttons,
and mentions that can reach only the users named (never @everyone or a role)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.core.messages import Choice, Message, Reply
from bot.transports.common import choice_digest, clip

TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE = 256, 4096, 25, 256, 1024
FOOTER, EMBED_TOTAL, CONTENT = 2048, 6000, 2000
ROWS, ROW_WIDTH, BUTTON_LABEL, CUSTOM_ID = 5, 5, 80, 100
BUTTONS = ROWS * ROW_WIDTH
KEEP_OF_DESCRIPTION = 200
"""When an embed is over the total, the description shrinks first, but not below this."""
BLANK = "\u200b"

COLOURS = {"info": 0x5865F2, "success": 0x57F287, "warning": 0xFEE75C, "danger": 0xED4245}
STYLES = {"primary": discord.ButtonStyle.primary, "secondary": discord.ButtonStyle.secondary,
          "success": discord.ButtonStyle.success, "danger": discord.ButtonStyle.danger}
NO_MENTIONS = discord.AllowedMentions(everyone=False, users=False, roles=False,
                                      replied_user=False)


def user_mention(user_id: str) -> str:
    return f"<@{user_id}>"


# --- embeds ---------------------------------------------------------------------------------


def _size(title: str, description: str, fields: list[tuple[str, str, bool]], footer: str) -> int:
    return len(title) + len(description) + len(footer) + sum(len(n) + len(v) for n, v, _ in fields)


def fit_embed(message: Message, extra: str = "") -> discord.Embed:
    """The message as one embed, each part and the whole clipped to Discord's limits.

    `extra` is appended to the description (choices that did not fit as buttons).
    """
    title = clip(message.title, TITLE)
    description = "\n".join(p for p in (message.body, extra) if p)
    if message.url and not title:
        description = "\n".join(p for p in (description, message.url) if p)
    description = clip(description, DESCRIPTION)
    fields = [(clip(f.name, FIELD_NAME) or BLANK, clip(f.value, FIELD_VALUE) or BLANK, f.inline)
              for f in message.fields[:FIELDS]]
    hidden = len(message.fields) - len(fields)
    footer = message.footer
    excess = _size(title, description, fields, footer) - EMBED_TOTAL
    if excess > 0:
        keep = max(len(description) - excess, min(len(description), KEEP_OF_DESCRIPTION))
        description = clip(description, keep)
    while _size(title, description, fields, footer) > EMBED_TOTAL - 40 and fields:
        fields.pop()
        hidden += 1
    if hidden:
        footer = f"{footer} · {hidden} more not shown" if footer else f"{hidden} more not shown"
    footer = clip(footer, FOOTER)
    excess = _size(title, description, fields, footer) - EMBED_TOTAL
    if excess > 0:
        description = clip(description, len(description) - excess)
    if not (title or description or fields):
        description = "(empty message)"
    embed = discord.Embed(title=title or None, description=description or None,
                          colour=COLOURS.get(message.tone, COLOURS["info"]))
    if title and message.url.startswith(("http://", "https://")):
        embed.url = message.url
    for name, value, inline in fields:
        embed.add_field(name=name, value=value, inline=inline)
    if footer:
        embed.set_footer(text=footer)
    return embed


# --- choices as buttons ---------------------------------------------------------------------

CUSTOM_ID_PATTERN = re.compile(r"roadie(?P<kind>[:#])(?P<value>.+)", re.DOTALL)
ChoiceHandler = Callable[[discord.Interaction, str], Awaitable[None]]


def custom_id_for(command: str) -> str:
    """`roadie:<command>` when it fits Discord's 100 characters, else `roadie#<digest>`."""
    direct = f"roadie:{command}"
    return direct if len(direct) <= CUSTOM_ID else f"roadie#{choice_digest(command)}"


def command_for(custom_id: str, choices: tuple[Choice, ...]) -> str | None:
    """The command a button stands for; a digest is looked up among the message's choices."""
    match = CUSTOM_ID_PATTERN.fullmatch(custom_id)
    if match is None:
        return None
    if match["kind"] == ":":
        return match["value"]
    return next((c.command for c in choices if choice_digest(c.command) == match["value"]), None)


class ChoiceButton(discord.ui.DynamicItem[discord.ui.Button[Any]],  # type: ignore[misc]
                   template=CUSTOM_ID_PATTERN):
    """A choice's button. Dispatch goes by custom_id, so it works on any message, even one
    sent before a restart: the client only needs `add_dynamic_items(ChoiceButton)`."""

    def __init__(self, custom_id: str, *, label: str | None = None,
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary,
                 row: int | None = None) -> None:
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id),
                         row=row)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: re.Match[str],
                             /) -> ChoiceButton:
        button = item if isinstance(item, discord.ui.Button) else None
        return cls(match.string, label=button.label if button else None,
                   style=button.style if button else discord.ButtonStyle.secondary)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler: ChoiceHandler | None = getattr(interaction.client, "on_roadie_choice", None)
        if handler is not None:
            await handler(interaction, self.custom_id)


def as_buttons(choices: tuple[Choice, ...]) -> tuple[list[Choice], list[Choice]]:
    """(the choices that become buttons, the rest). A custom_id must be unique in a message,
    so a second choice of the same command is not a button; Discord takes 5 rows of 5."""
    buttons: list[Choice] = []
    rest: list[Choice] = []
    seen: set[str] = set()
    for choice in choices:
        custom_id = custom_id_for(choice.command)
        if custom_id in seen:
            continue
        if len(buttons) < BUTTONS:
            seen.add(custom_id)
            buttons.append(choice)
        else:
            rest.append(choice)
    return buttons, rest


def choices_view(choices: tuple[Choice, ...]) -> discord.ui.View | None:
    """The choices as buttons, five to a row."""
    buttons, _ = as_buttons(choices)
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, choice in enumerate(buttons):
        label = clip(choice.label, BUTTON_LABEL) or clip(choice.command, BUTTON_LABEL)
        view.add_item(ChoiceButton(custom_id_for(choice.command), label=label,
                                   style=STYLES.get(choice.style, discord.ButtonStyle.secondary),
                                   row=index // ROW_WIDTH))
    return view


def overflow_choices(choices: tuple[Choice, ...]) -> str:
    _, rest = as_buttons(choices)
    return "Also: " + " · ".join(f"{c.label}: `/{c.command}`" for c in rest) if rest else ""


# --- whole messages -------------------------------------------------------------------------


@dataclass
class Rendered:
    """Keyword arguments for discord.py's send and edit calls."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    user_ids: list[int] = field(default_factory=list)

    @property
    def allowed_mentions(self) -> discord.AllowedMentions:
        return discord.AllowedMentions(everyone=False, roles=False, replied_user=False,
                                       users=[discord.Object(i) for i in self.user_ids])

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"allowed_mentions": self.allowed_mentions}
        if self.content:
            kwargs["content"] = self.content
        if self.embed is not None:
            kwargs["embed"] = self.embed
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """Like send_kwargs, but clearing what the new version no longer has."""
        return {"content": self.content, "embed": self.embed, "view": self.view,
                "allowed_mentions": self.allowed_mentions}


def _mentions(message: Message, mentions: Mapping[str, str]) -> tuple[str, list[int]]:
    """The `cc` line (mentions ping only in content, not in embeds) and the ids it names."""
    if not message.mentions:
        return "", []
    ids = [int(mentions[login.lower()]) for login in message.mentions
           if mentions.get(login.lower(), "").isdigit()]
    parts = [user_mention(mentions[login.lower()]) if mentions.get(login.lower(), "").isdigit()
             else f"@{login}" for login in message.mentions]
    return clip("cc " + " ".join(parts), CONTENT), ids


def notice(message: Message, mentions: Mapping[str, str]) -> Rendered:
    """A message for a channel or a DM: an embed, buttons for its choices, a `cc` line."""
    content, ids = _mentions(message, mentions)
    embed = fit_embed(message, overflow_choices(message.choices))
    return Rendered(content or None, embed, choices_view(message.choices), ids)


def reply(answer: Reply, mentions: Mapping[str, str]) -> Rendered:
    """A command's answer: its text as content (or as an embed when it is too long)."""
    text = answer.text
    if answer.message is None:
        if len(text) <= CONTENT:
            return Rendered(content=text or "Done.")
        return Rendered(embed=fit_embed(Message(body=text)))
    rendered = notice(answer.message, mentions)
    content = "\n".join(p for p in (text, rendered.content or "") if p)
    rendered.content = clip(content, CONTENT) or None
    return rendered
