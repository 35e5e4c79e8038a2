"""Durations written the way people write them: `30s`, `15m`, `72h`, `7d`, `2w`, or `1d12h`."""

from __future__ import annotations

import re
from datetime import timedelta

from governance.errors import Refusal

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")

DURATION_HINT = "a duration such as 30s, 15m, 72h, 7d or 1d12h"
MAX_DURATION = timedelta(weeks=520)
"""Ten years: longer than anything Roadie schedules, short enough that a moment that far from
now is still a date every database stores."""


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise ValueError naming the accepted form when it is not one, and a
    Refusal when it is longer than MAX_DURATION."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned or not _WHOLE.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not {DURATION_HINT}")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration; write {DURATION_HINT}")
    if seconds > MAX_DURATION.total_seconds():
        raise Refusal(f"{text.strip()[:40]!r} is longer than the longest duration Roadie "
                      f"accepts, {format_duration(MAX_DURATION)} (ten years).",
                      f"Write {DURATION_HINT}.")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The two largest units of a duration, e.g. `3d 4h`, `15m`, `40s`; negative gives `-3h`."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    return sign + " ".join(parts)
