"""Zulip's words: finding a command in a message, mentions, places, and rendering."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.messages import Choice, Message, Reply, render_text
from bot.core.outbox import DIRECT_PREFIX
from bot.transports.common import clip

MENTION = re.compile(r"@_?\*\*(?P<name>[^*|]+?)(?:\|(?P<id>\d+))?\*\*")
LEADING_MENTION = re.compile(r"\s*" + MENTION.pattern + r"[\s:,]*")
DIGITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""Zulip's emoji names for 1 to 9: the reactions that answer a numbered choice."""
SEPARATOR = "\n"


@dataclass(frozen=True)
class RealmRules:
    """What a Zulip organization allows, as `POST /register` tells it.

    Longer content or topics the server would cut with its own marker, so Roadie clips them
    first; content may be edited only within `edit_window` seconds of sending (None: always),
    and not at all unless `editing`.
    """

    content: int = 10000
    topic: int = 60
    edit_window: float | None = 600.0
    editing: bool = True

    @classmethod
    def from_register(cls, registered: Mapping[str, Any], current: RealmRules) -> RealmRules:
        """The rules in a `/register` answer; what it does not say stays as it was."""
        window = registered.get("realm_message_content_edit_limit_seconds", current.edit_window)
        return cls(content=int(registered.get("max_message_length") or current.content),
                   topic=int(registered.get("max_topic_length") or current.topic),
                   # 0 meant "no limit" before Zulip 6.0
                   edit_window=float(window) if window else None,
                   editing=bool(registered.get("realm_allow_message_editing", current.editing)))

    def updated(self, changes: Mapping[str, Any]) -> RealmRules:
        """The rules after a `realm` update event's data."""
        renamed = {f"realm_{name}": value for name, value in changes.items()
                   if name in ("message_content_edit_limit_seconds", "allow_message_editing")}
        return RealmRules.from_register(renamed, self) if renamed else self

    def may_edit(self, age: float | None) -> bool:
        """Whether content sent `age` seconds ago may still be edited (None: age unknown)."""
        if not self.editing:
            return False
        return age is None or self.edit_window is None or age < self.edit_window


# --- places -----------------------------------------------------------------------------------


def stream_place(stream: str, topic: str, topic_limit: int) -> str:
    """A place in a stream: `stream` and `topic` (clipped to the realm's limit), which
    neither may contain a newline."""
    return f"{stream}{SEPARATOR}{clip(topic, topic_limit)}"


def split_place(place: str) -> tuple[str, str]:
    stream, _, topic = place.partition(SEPARATOR)
    return stream, topic


def with_topic(place: str, topic: str, topic_limit: int) -> str:
    """The place with the message's own topic, when it has one."""
    if not topic or place.startswith(DIRECT_PREFIX):
        return place
    return stream_place(split_place(place)[0], topic, topic_limit)


# --- commands in messages -------------------------------------------------------------------


@dataclass(frozen=True)
class Addressed:
    text: str
    explicit: bool
    """True when the bot was named (a mention, or a direct message): unknown commands get an
    answer; a bare `/word` in a stream is answered only when it is one of Roadie's commands."""


def command_in(content: str, *, private: bool, bot_id: int, bot_names: Iterable[str]
               ) -> Addressed | None:
    """The command a message gives Roadie, if any: `/name ...`, `@**Roadie** name ...`, or
    anything in a direct message."""
    text = content.strip()
    names = {n.lower() for n in bot_names}
    match = LEADING_MENTION.match(text)
    if match and (match["id"] == str(bot_id) or match["name"].strip().lower() in names):
        return Addressed(text[match.end():].strip().removeprefix("/").strip(), True)
    if text.startswith("/") and len(text) > 1:
        return Addressed(text[1:].strip(), private)
    if private and text:
        return Addressed(text, True)
    return None


def rewrite_mentions(text: str, ids_by_name: Mapping[str, int]) -> str:
    """`@**Jane Doe|12**` (or `@**Jane Doe**` of a known name) becomes the target `zulip:12`."""
    def replace(match: re.Match[str]) -> str:
        user_id = match["id"] or ids_by_name.get(match["name"].strip().lower())
        return f"zulip:{user_id}" if user_id is not None else match.group(0)

    return MENTION.sub(replace, text)


# --- rendering --------------------------------------------------------------------------------


def choices_block(choices: tuple[Choice, ...], *, reactions: bool, private: bool = False) -> str:
    lines = [f"{index}. {choice.label}: `/{choice.command}`"
             for index, choice in enumerate(choices, start=1)]
    if private:
        how = ("Answer with the command in a direct message to the bot: here, everyone would "
               "see your choice")
    else:
        how = "Answer with the command, or `/choose <number>`"
    if reactions and not private:
        how += ", or react with the number's emoji (:one:, :two:, ...)"
    return "\n".join([*lines, how + "."])


def offers_reactions(message: Message) -> bool:
    """Digit reactions answer a choice, unless choosing must stay private (reactions are
    public) or there are more choices than digits."""
    return 0 < len(message.choices) <= len(DIGITS) and not message.private_choices


def render(message: Message, mention: Callable[[str], str], *, limit: int,
           reactions: bool = False) -> str:
    text = render_text(message, mention=mention, choice_hint=False)
    if message.choices:
        block = choices_block(message.choices, reactions=reactions,
                              private=message.private_choices)
        text = f"{text}\n{block}".strip()
    return clip(text or "(empty message)", limit)  # Zulip refuses empty messages


def render_reply(answer: Reply, mention: Callable[[str], str], *, limit: int) -> str:
    parts = [answer.text] if answer.text else []
    if answer.message is not None:
        parts.append(render(answer.message, mention, limit=limit))
    return clip("\n".join(parts) or "Done.", limit)


def replacing(content: str, earlier_id: int, *, limit: int) -> str:
    """Content posted anew because the realm no longer lets Roadie edit message
    `earlier_id`: it says which message it replaces (a link Zulip renders)."""
    note = (f"\n*This replaces [an earlier message](#narrow/near/{earlier_id}), which Zulip no "
            "longer lets Roadie edit.*")
    return clip(content, limit - len(note)) + note
