"""How the digest reads: a title with the day, then each section with its lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core.cog import DigestSection
from bot.core.messages import Message

FOOTER = "`/digest` shows today's digest again, as of the moment you ask."


def title(day: date) -> str:
    return f"Daily digest, {day:%A %Y-%m-%d}"


def section_text(section: DigestSection, max_lines: int) -> str:
    shown = section.lines[:max_lines]
    lines = [f"**{section.title}** ({len(section.lines)})", *(f"- {line}" for line in shown)]
    if len(section.lines) > len(shown):
        lines.append(f"- … and {len(section.lines) - len(shown)} more")
    return "\n".join(lines)


def digest(day: date, sections: Sequence[DigestSection], *, max_lines: int,
           quiet_line: str) -> Message:
    if not sections:
        return Message(title=title(day), body=quiet_line, footer=FOOTER)
    return Message(title=title(day),
                   body="\n\n".join(section_text(s, max_lines) for s in sections),
                   footer=FOOTER)
