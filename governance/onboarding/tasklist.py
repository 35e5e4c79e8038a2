"""The checklist as its GitHub issue writes it: a task list, one line per item.

Each line starts with the item's key in backticks, so that Roadie can tell the items apart
however their text is edited, and so that people can type the key in chat:

    - [ ] `webhook` Add the Read the Docs webhook to the repository (an org admin)

Ticking a box on GitHub changes only the `[ ]`; Roadie reads and writes nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MARKER = "<!-- roadie:onboarding -->"
"""Hidden in every checklist issue Roadie opens, so that it can find one it lost track of."""

WHO_TEXT = {"member": "any member", "lead": "a project lead", "admin": "an org admin"}
_LINE = re.compile(r"(?P<head>\s*[-*+]\s+\[)(?P<mark>[ xX])(?P<tail>\]\s+`(?P<key>[^`\s]+)`.*)")


@dataclass(frozen=True)
class ItemSpec:
    """An item of the template: its key, what to do, and who can do it."""

    key: str
    text: str
    who: str


def item_line(item: ItemSpec, done: bool = False) -> str:
    return f"- [{'x' if done else ' '}] `{item.key}` {item.text} ({WHO_TEXT[item.who]})"


def render_body(intro: str, items: Iterable[ItemSpec], footer: str = "") -> str:
    parts = [intro.strip(), "\n".join(item_line(item) for item in items)]
    if footer.strip():
        parts.append(footer.strip())
    return "\n\n".join(parts) + "\n\n" + MARKER + "\n"


def parse_ticks(body: str) -> dict[str, bool]:
    """Whether each keyed line is ticked; the first line of a key counts."""
    ticks: dict[str, bool] = {}
    for line in body.splitlines():
        match = _LINE.fullmatch(line)
        if match and match["key"] not in ticks:
            ticks[match["key"]] = match["mark"] != " "
    return ticks


def set_ticks(body: str, ticks: Mapping[str, bool]) -> str:
    """The body with the boxes of these keys set; every other character is kept."""
    out, seen = [], set()
    for line in body.splitlines(keepends=True):
        text = line.rstrip("\r\n")
        match = _LINE.fullmatch(text)
        if match and match["key"] in ticks and match["key"] not in seen:
            seen.add(match["key"])
            mark = "x" if ticks[match["key"]] else " "
            line = match["head"] + mark + match["tail"] + line[len(text):]
        out.append(line)
    return "".join(out)
