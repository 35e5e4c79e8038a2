"""The rules an escalation follows: kinds, deadlines, reminder points, assignment.

A deadline phase runs from `start` to `deadline`. Its reminder points are numbered: the
points before the deadline first (fractions of the window, to the assignee), then the
breach at the deadline itself, then the repeats of the breach alert every `repeat`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from governance.escalations.models import NORMAL, URGENT

Assignment = Literal["balanced", "round-robin", "none"]
ASSIGNMENTS: tuple[Assignment, ...] = ("balanced", "round-robin", "none")
DEFAULT_KINDS = ("ci", "required-checks", "webhook", "secrets", "release", "pypi",
                 "permissions", "repo-settings", "transfer", "other")


@dataclass(frozen=True)
class Deadlines:
    acknowledge: timedelta
    resolve: timedelta


@dataclass(frozen=True)
class Policy:
    kinds: tuple[str, ...] = DEFAULT_KINDS
    deadlines: dict[str, Deadlines] = field(default_factory=lambda: {
        NORMAL: Deadlines(timedelta(hours=72), timedelta(days=7)),
        URGENT: Deadlines(timedelta(hours=4), timedelta(hours=24)),
    })
    reminder_points: tuple[float, ...] = (0.5, 0.9)
    breach_repeat: timedelta = timedelta(hours=24)
    assignment: Assignment = "balanced"
    max_away: timedelta = timedelta(days=90)

    def severity(self, urgent: bool) -> str:
        return URGENT if urgent else NORMAL

    @property
    def breach_point(self) -> int:
        return len(self.reminder_points)

    def point_time(self, start: datetime, deadline: datetime, point: int) -> datetime:
        """When reminder point `point` of the phase from `start` to `deadline` falls due."""
        if point < self.breach_point:
            return start + (deadline - start) * self.reminder_points[point]
        return deadline + self.breach_repeat * (point - self.breach_point)

    def first_point_after(self, start: datetime, deadline: datetime, now: datetime) -> int:
        """The first point still ahead at the start of a phase; the breach if it is past.

        Points already behind when a phase begins (an acknowledgement late in the resolve
        window) are not sent: they would only say what the breach alert says louder.
        """
        for point in range(self.breach_point):
            if self.point_time(start, deadline, point) > now:
                return point
        return self.breach_point

    def latest_due_point(self, start: datetime, deadline: datetime, point: int,
                         now: datetime) -> int:
        """The latest point from `point` on that is due at `now` (given that `point` is).

        When the sweep ran late over several points, only the loudest one is sent.
        """
        if now >= deadline:
            repeats = int((now - deadline) / self.breach_repeat)
            return max(point, self.breach_point + repeats)
        while (point + 1 < self.breach_point
               and self.point_time(start, deadline, point + 1) <= now):
            point += 1
        return point
