"""Which projects may be shown: the private repositories' ones only when the cooperative
chooses to publish them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, select, union
from sqlmodel import col

from governance.clock import aware
from governance.projects.models import Project


@dataclass(frozen=True)
class Scope:
    now: datetime
    publish_private_repos: bool = False

    def shown(self, project_column: Any) -> ColumnElement[bool]:
        """A condition on a row's project name: true when the row may be shown."""
        if self.publish_private_repos:
            return ~false()
        # Tables name a project by its key (lower case) or as written: hide both spellings.
        hidden = union(select(Project.name).where(col(Project.private)),
                       select(Project.display_name).where(col(Project.private)))
        return ~project_column.in_(hidden)


def iso(moment: datetime | None) -> str | None:
    """A stored moment as ISO 8601 UTC; SQLite hands them back without a zone."""
    if moment is None:
        return None
    return aware(moment).astimezone(UTC).isoformat(timespec="seconds")


def seconds_between(start: datetime, end: datetime) -> int:
    return int((aware(end) - aware(start)).total_seconds())


def month_start(now: datetime, months: int) -> datetime:
    """The first moment of the month `months - 1` months before `now`'s."""
    moment = aware(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(months - 1):
        moment = (moment - timedelta(days=1)).replace(day=1)
    return moment
