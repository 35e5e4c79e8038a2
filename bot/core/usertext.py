"""Text that people typed or posted, kept apart from Roadie's own words on every platform.

`UserText(text)` marks a piece of someone else's text. It is a `str`, so it goes into
f-strings, message fields, the outbox's JSON and the database like any text; the marks travel
with it. Each renderer then gives marked text its platform's quoting:

- a mark that starts a line becomes a quoted block (`> ...`), with a blank line after it, so
  that none of its lines can pass for one of Roadie's notices; a mark inside a line stays
  inline, its line breaks folded into spaces;
- on Zulip, mentions are defused everywhere but in the mentions Roadie means (a message's
  `mentions`): wildcard (`@**all**`, `@**everyone**`, `@**stream**`, `@**channel**`,
  `@**topic**`), user (`@**name**`, `@**name|12**`), silent (`@_**name**`) and group
  (`@*group*`, `@_*group*`) mentions, and code fences that could swallow Roadie's lines;
- on GitHub, `@user` and `@org/team` in marked text;
- on Discord, `allowed_mentions` already lets only the users Roadie names be pinged.

A zero-width space after the `@` breaks a mention on both platforms and leaves the text as
people wrote it to the eye.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

OPEN, CLOSE = "\ue000", "\ue001"
"""Private-use characters: nothing people type means them, and UserText removes them."""
BREAK = "\u200b"

ZULIP_MENTION = re.compile(r"@(?=_?\*)")
ZULIP_FENCE = re.compile(r"(`{3,}|~{3,})")
GITHUB_MENTION = re.compile(r"@(?=[A-Za-z0-9])")

LIVE_ZULIP_MENTION = re.compile(r"(?<![^\s'\"({\[/<])@_?(?:\*\*[^*\n]+\*\*|\*[^*\n]+\*)")
"""What Zulip's markdown takes for a mention (users, wildcards, silent ones and groups)."""
LIVE_GITHUB_MENTION = re.compile(r"(?<![A-Za-z0-9`])@[A-Za-z0-9][A-Za-z0-9-]*(?:/[\w.-]+)?")
"""What GitHub takes for a mention of a user or of a team."""


class UserText(str):
    """Someone else's text, marked so that every renderer quotes and defuses it."""

    def __new__(cls, text: object = "") -> UserText:
        raw = strip_marks(str(text))
        return super().__new__(cls, f"{OPEN}{raw}{CLOSE}" if raw else "")


def strip_marks(text: str) -> str:
    return text.replace(OPEN, "").replace(CLOSE, "")


def spans(text: str) -> Iterator[tuple[str, bool]]:
    """The pieces of a text, each with True when it is someone else's. A mark left open (a
    text cut short) runs to the end."""
    position = 0
    while position < len(text):
        start = text.find(OPEN, position)
        if start < 0:
            yield strip_marks(text[position:]), False
            return
        if start > position:
            yield strip_marks(text[position:start]), False
        end = text.find(CLOSE, start + 1)
        end = len(text) if end < 0 else end
        yield strip_marks(text[start + 1:end]), True
        position = end + 1


def render_marked(text: str, defuse: Callable[[str], str] = str, *,
                  inline: bool = False) -> str:
    """Marked text as quoted blocks or inline text, defused by the platform's rule. `inline`
    keeps every piece inline (a title, a label)."""
    out: list[str] = []
    after_block = False
    for piece, theirs in spans(text):
        if after_block and piece:
            # A blank line ends the quote: Markdown would carry on the next line in it.
            out.append("\n" * max(0, 2 - (len(piece) - len(piece.lstrip("\n")))))
            after_block = False
        if not theirs:
            out.append(piece)
            continue
        so_far = "".join(out)
        if not inline and (so_far == "" or so_far.endswith("\n")):
            lines = piece.strip("\n").splitlines() or [""]
            out.append("\n".join(f"> {defuse(line)}".rstrip() for line in lines))
            after_block = True
        else:
            out.append(defuse(" ".join(piece.split())))
    return "".join(out)


# --- per platform -------------------------------------------------------------------------


def defuse_zulip_mentions(text: str) -> str:
    return ZULIP_MENTION.sub("@" + BREAK, text)


def defuse_zulip(text: str) -> str:
    """No mention of any kind, and no code fence, survives in the text."""
    return ZULIP_FENCE.sub(lambda m: BREAK.join(m.group(1)), defuse_zulip_mentions(text))


def defuse_github(text: str) -> str:
    return GITHUB_MENTION.sub("@" + BREAK, text)


def for_zulip(text: str) -> str:
    """Roadie's text with people's text quoted, and no live mention anywhere in it."""
    return defuse_zulip_mentions(render_marked(text, defuse_zulip))


def for_github(text: str, *, inline: bool = False) -> str:
    """Roadie's text (its own mentions kept) with people's text quoted and defused."""
    return render_marked(text, defuse_github, inline=inline)


def for_plain(text: str, *, inline: bool = False) -> str:
    """For the console and Discord: people's text quoted, mentions left to the platform."""
    return render_marked(text, inline=inline)
