"""A platform-neutral message; each transport renders it its own way."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

Tone = Literal["info", "success", "warning", "danger"]
ChoiceStyle = Literal["primary", "secondary", "success", "danger"]


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True)
class Choice:
    """Something the reader can do in one step: a button on Discord, a command elsewhere.

    `command` is the text command that choosing it runs, as the person who chose it, such
    as `escalation ack 5`. A leading slash is dropped (the transports show it where people
    type one), so `/escalation ack 5` means the same.
    """

    label: str
    command: str
    style: ChoiceStyle = "secondary"

    def __post_init__(self) -> None:
        object.__setattr__(self, "command", self.command.strip().removeprefix("/").lstrip())


@dataclass(frozen=True)
class Message:
    title: str = ""
    body: str = ""
    fields: tuple[Field, ...] = ()
    url: str = ""
    topic: str = ""
    mentions: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    tone: Tone = "info"
    footer: str = ""
    private_choices: bool = False
    """Choosing reveals what the chooser picked (a secret ballot): transports offer the
    choices only in ways others cannot see (Discord's buttons answer privately; on Zulip,
    no reactions, and the command goes in a direct message)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Message:
        data: dict[str, Any] = json.loads(text)
        return cls(
            title=data.get("title", ""),
            body=data.get("body", ""),
            fields=tuple(Field(**f) for f in data.get("fields", ())),
            url=data.get("url", ""),
            topic=data.get("topic", ""),
            mentions=tuple(data.get("mentions", ())),
            choices=tuple(Choice(**c) for c in data.get("choices", ())),
            tone=data.get("tone", "info"),
            footer=data.get("footer", ""),
            private_choices=data.get("private_choices", False),
        )


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def render_text(message: Message, *, mention: Any = None, choice_hint: bool = True) -> str:
    """Markdown text of a message, for the console and for Zulip.

    `mention(login)` renders a mention; by default `@login`.
    """
    mention = mention or (lambda login: f"@{login}")
    lines: list[str] = []
    if message.title:
        title = f"**{message.title}**"
        lines.append(f"{title} ({message.url})" if message.url else title)
    elif message.url and not message.body:
        lines.append(message.url)
    if message.body:
        lines.append(message.body)
    for item in message.fields:
        lines.append(f"- **{item.name}**: {item.value}")
    if message.mentions:
        lines.append("cc " + " ".join(mention(login) for login in message.mentions))
    if message.choices and choice_hint:
        lines.append(" · ".join(f"{c.label}: `/{c.command}`" for c in message.choices))
    if message.footer:
        lines.append(f"*{message.footer}*")
    return "\n".join(lines)


@dataclass(frozen=True)
class Reply:
    """What a command answers to the person who gave it.

    `private` replies are ephemeral on Discord and sent as a direct message on Zulip.
    """

    text: str = ""
    message: Message | None = None
    private: bool = False
    refused: bool = False

    def as_text(self) -> str:
        parts = [self.text] if self.text else []
        if self.message is not None:
            parts.append(render_text(self.message))
        return "\n".join(parts)
