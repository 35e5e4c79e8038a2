"""Moments as people read them: `2026-01-05 09:00 UTC`, `in 3h`, `2d ago`."""

from __future__ import annotations

from datetime import datetime

from governance.durations import format_duration


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime, now: datetime) -> str:
    """`in 3h`, `2d ago`, or `now`."""
    delta = moment - now
    if abs(delta.total_seconds()) < 1:
        return "now"
    if delta.total_seconds() > 0:
        return f"in {format_duration(delta)}"
    return f"{format_duration(-delta)} ago"
