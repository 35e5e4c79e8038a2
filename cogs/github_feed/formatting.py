"""Text from payloads made safe to show, and the shapes every notice shares.

Payload text is whatever people typed: it may hold control characters, lone surrogates,
mentions that would ping a whole server, or a megabyte of prose. `clean` and `excerpt` make
it short and harmless; `topic_for_item` and `topic_for_branch` give Zulip topics.
"""

from __future__ import annotations

import re
from typing import Any

from bot.core.events import GitHubEvent
from bot.core.messages import shorten

TOPIC_MAX = 60
ZERO_SHA = "0" * 40
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(?=[\w*])")
_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
_BLANK_LINES = re.compile(r"\n\s*\n+")


def clean(value: Any, limit: int = 300) -> str:
    """A payload string as plain, safe text of at most `limit` characters ("" if no string).

    Control and direction-override characters go, lone surrogates become U+FFFD, and an `@`
    that could start a mention gets a zero-width space after it, so that a title cannot ping
    `@everyone` or `@**all**`.
    """
    if not isinstance(value, str):
        return ""
    text = value[: limit * 4].encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\t", " "))
    text = _MENTION.sub("@\u200b", text)
    return shorten(text.strip(), limit)


def one_line(value: Any, limit: int = 100) -> str:
    return shorten(" ".join(clean(value, limit * 2).split()), limit)


def excerpt(value: Any, limit: int) -> str:
    """The start of a body of text (comment, description, release notes) as a quote."""
    if not isinstance(value, str):
        return ""
    text = _HTML_COMMENT.sub("", value[: limit * 8])
    text = _BLANK_LINES.sub("\n", clean(text, limit * 4)).strip()
    text = shorten(text, limit)
    return "\n".join(f"> {line}" for line in text.splitlines() if line.strip())


def fit_topic(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TOPIC_MAX else text[: TOPIC_MAX - 1].rstrip() + "…"


def topic_for_item(repo: str, number: int, title: str) -> str:
    """`repo / #N title`, at most 60 characters (Zulip's limit)."""
    return fit_topic(f"{repo} / #{number} {title}")


def topic_for_branch(repo: str, branch: str) -> str:
    return fit_topic(f"{repo} / {branch}")


def login(value: Any) -> str:
    """A GitHub login from a payload, or "someone" when it is missing or odd."""
    text = clean(value, 60).replace("\u200b", "")
    return text if text and re.fullmatch(r"[\w.\-\[\]]+", text) else "someone"


def short_sha(value: Any) -> str:
    return value[:7] if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{7,64}", value) else ""


def url(value: Any) -> str:
    return value if isinstance(value, str) and value.startswith("https://") and len(
        value) < 500 and not any(c.isspace() for c in value) else ""


def number(value: Any) -> int:
    """A positive whole number that fits a database integer, else 0."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31
    return value if ok else 0


def repo_name(event: GitHubEvent) -> str:
    """The repository's name as shown, or "" when the payload has none that makes sense."""
    name = one_line(event.repo, 100).replace("\u200b", "")
    return name if re.fullmatch(r"[\w.\-]+", name or "-") else ""


def sender(event: GitHubEvent) -> str:
    return login(event.get("sender", "login"))


def is_bot(login_or_empty: str, kind: Any = None) -> bool:
    return login_or_empty.lower().endswith("[bot]") or kind == "Bot"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"
