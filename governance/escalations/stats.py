"""How fast escalations are handled: medians and the breach rate over a window of days."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from governance.escalations.models import DECLINED, RESOLVED, Ticket


@dataclass(frozen=True)
class Stats:
    days: int
    opened: int
    acknowledged: int
    resolved: int
    declined: int
    still_open: int
    median_to_acknowledge: timedelta | None
    median_to_resolve: timedelta | None
    breached: int

    @property
    def breach_rate(self) -> float | None:
        return self.breached / self.opened if self.opened else None


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def window_stats(session: Session, *, now: datetime, days: int) -> Stats:
    """Over the tickets opened in the last `days` days: time to the first acknowledgement,
    time from opening to resolution (declined ones left out), and the share that breached."""
    tickets = session.exec(select(Ticket).where(Ticket.opened_at > now - timedelta(days=days))
                           ).all()
    to_ack = [t.acknowledged_at - t.opened_at for t in tickets if t.acknowledged_at]
    done = [t for t in tickets if t.state == RESOLVED and t.closed_at]
    return Stats(
        days=days, opened=len(tickets), acknowledged=len(to_ack), resolved=len(done),
        declined=sum(1 for t in tickets if t.state == DECLINED),
        still_open=sum(1 for t in tickets if t.active),
        median_to_acknowledge=_median(to_ack),
        median_to_resolve=_median([t.closed_at - t.opened_at for t in done if t.closed_at]),
        breached=sum(1 for t in tickets if t.ever_breached(now)))
