"""The overview page: what is overdue, what closes next, projects without a lead and
onboarding checklists that are stuck."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from governance.public import escalations, projects
from governance.public.scope import Scope, iso, seconds_between
from governance.votes.models import OPEN, Vote

NEXT = 5


def closing_votes(session: Session, scope: Scope, limit: int = NEXT, *,
                  by: datetime | None = None) -> list[dict[str, Any]]:
    """Votes open for ballots, the one closing first first; `by`: only those closing by then."""
    query = (select(Vote.number, Vote.kind, Vote.project, Vote.subject, Vote.closes_at)
             .where(Vote.state == OPEN, col(Vote.closes_at).is_not(None),
                    scope.shown(col(Vote.project))))
    if by is not None:
        query = query.where(col(Vote.closes_at) <= by)
    rows = session.execute(query.order_by(col(Vote.closes_at)).limit(limit)).all()
    return [{"number": r.number, "kind": r.kind, "project": r.project, "subject": r.subject,
             "closes_at": iso(r.closes_at), "seconds_left": seconds_between(scope.now, r.closes_at)}
            for r in rows]


def overview_page(session: Session, scope: Scope, stuck_after: timedelta) -> dict[str, Any]:
    open_count, overdue_count = escalations.totals(session, scope)
    return {"escalations": {"open": open_count, "overdue": overdue_count},
            "overdue": escalations.open_tickets(session, scope, limit=10, overdue_only=True),
            "next_deadlines": escalations.open_tickets(session, scope, limit=NEXT,
                                                       upcoming_only=True),
            "closing_votes": closing_votes(session, scope),
            "without_lead": projects.without_lead(session, scope),
            "stuck_checklists": projects.stuck(session, scope, stuck_after),
            "stuck_after_days": days_of(stuck_after)}


def days_of(delta: timedelta) -> float | int:
    """A length in days, whole when it is."""
    days = delta.total_seconds() / 86400
    return int(days) if days.is_integer() else round(days, 1)
