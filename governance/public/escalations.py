"""The escalations page: open tickets with their clocks, per project and per admin, recent
history and monthly figures. No summaries, reporters or comments: a ticket's text may name
people or things that were said in private."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlmodel import Session, col

from governance.escalations.models import ACTIVE_STATES, CLOSED_STATES, OPEN, RESOLVED, Ticket
from governance.public.scope import Scope, iso, month_start, seconds_between
from governance.public.sql import month_of, seconds_from

OPEN_LIMIT = 200
HISTORY_LIMIT = 25
MONTHS = 12


def deadline_column() -> Any:
    return case((col(Ticket.state) == OPEN, col(Ticket.ack_due_at)),
                else_=col(Ticket.resolve_due_at))


def open_tickets(session: Session, scope: Scope, *, limit: int = OPEN_LIMIT,
                 overdue_only: bool = False, upcoming_only: bool = False,
                 due_by: datetime | None = None) -> list[dict[str, Any]]:
    """Open tickets, the most urgent deadline first; `due_by`: only those whose deadline is
    at or before then (overdue ones too)."""
    deadline = deadline_column()
    query = select(Ticket.number, Ticket.project, Ticket.kind, Ticket.severity, Ticket.state,
                   Ticket.assignee, Ticket.opened_at, deadline.label("due_at")).where(
        col(Ticket.state).in_(ACTIVE_STATES), scope.shown(col(Ticket.project)))
    if overdue_only:
        query = query.where(deadline <= scope.now)
    if upcoming_only:
        query = query.where(deadline > scope.now)
    if due_by is not None:
        query = query.where(deadline <= due_by)
    rows = session.execute(query.order_by(deadline, col(Ticket.number)).limit(limit)).all()
    return [ticket_row(row, scope.now) for row in rows]


def ticket_row(row: Any, now: datetime) -> dict[str, Any]:
    left = seconds_between(now, row.due_at)
    return {"number": row.number, "project": row.project, "kind": row.kind,
            "severity": row.severity, "state": row.state,
            "waits_on": row.assignee or None,
            "deadline": "acknowledge" if row.state == OPEN else "resolve",
            "opened_at": iso(row.opened_at), "due_at": iso(row.due_at),
            "seconds_left": left, "overdue": left <= 0}


def _counts_by(session: Session, scope: Scope, column: Any) -> list[dict[str, Any]]:
    overdue = func.sum(case((deadline_column() <= scope.now, 1), else_=0))
    rows = session.execute(
        select(column.label("key"), func.count().label("open"), overdue.label("overdue"))
        .where(col(Ticket.state).in_(ACTIVE_STATES), scope.shown(col(Ticket.project)))
        .group_by(column).order_by(func.count().desc(), column).limit(100)).all()
    return [{"name": row.key or None, "open": row.open, "overdue": int(row.overdue or 0)}
            for row in rows]


def monthly(session: Session, scope: Scope, months: int = MONTHS) -> list[dict[str, Any]]:
    """Per month of opening, over the last `months` months: tickets opened, acknowledged,
    resolved, the mean hours to acknowledge and to resolve, and how many breached a deadline
    (still-open tickets past theirs included)."""
    start = month_start(scope.now, months)
    month = month_of(session, col(Ticket.opened_at))
    to_ack = seconds_from(session, col(Ticket.opened_at), col(Ticket.acknowledged_at))
    to_resolve = seconds_from(session, col(Ticket.opened_at), col(Ticket.closed_at))
    resolved = col(Ticket.state) == RESOLVED
    breached = (col(Ticket.ack_breached) | col(Ticket.resolve_breached)
                | and_(col(Ticket.state).in_(ACTIVE_STATES), deadline_column() <= scope.now))
    rows = session.execute(
        select(month.label("month"), func.count().label("opened"),
               func.count(Ticket.acknowledged_at).label("acknowledged"),
               func.sum(case((resolved, 1), else_=0)).label("resolved"),
               func.avg(to_ack).label("ack_seconds"),
               func.avg(case((resolved, to_resolve), else_=None)).label("resolve_seconds"),
               func.sum(case((breached, 1), else_=0)).label("breached"))
        .where(col(Ticket.opened_at) >= start, scope.shown(col(Ticket.project)))
        .group_by(month).order_by(month)).all()
    return [{"month": row.month, "opened": row.opened, "acknowledged": row.acknowledged,
             "resolved": int(row.resolved or 0),
             "mean_hours_to_acknowledge": _hours(row.ack_seconds),
             "mean_hours_to_resolve": _hours(row.resolve_seconds),
             "breached": int(row.breached or 0),
             "breach_rate": round(int(row.breached or 0) / row.opened, 3) if row.opened else None}
            for row in rows]


def recently_closed(session: Session, scope: Scope,
                    limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Ticket.number, Ticket.project, Ticket.kind, Ticket.state, Ticket.opened_at,
               Ticket.closed_at)
        .where(col(Ticket.state).in_(CLOSED_STATES), scope.shown(col(Ticket.project)))
        .order_by(col(Ticket.number).desc()).limit(limit)).all()
    return [{"number": r.number, "project": r.project, "kind": r.kind, "state": r.state,
             "opened_at": iso(r.opened_at), "closed_at": iso(r.closed_at)} for r in rows]


def totals(session: Session, scope: Scope, *,
           due_by: datetime | None = None) -> tuple[int, int]:
    """How many tickets are open, and how many of them are overdue (or, with `due_by`, due
    at or before then)."""
    overdue = func.sum(case((deadline_column() <= (due_by or scope.now), 1), else_=0))
    row = session.execute(select(func.count(), overdue).where(
        col(Ticket.state).in_(ACTIVE_STATES), scope.shown(col(Ticket.project)))).one()
    return int(row[0]), int(row[1] or 0)


def escalations_page(session: Session, scope: Scope, *,
                     figures: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The page; `figures` are the monthly figures when the caller kept them (`monthly`)."""
    open_count, overdue_count = totals(session, scope)
    return {"open": open_tickets(session, scope),
            "open_count": open_count, "overdue_count": overdue_count,
            "by_project": _counts_by(session, scope, col(Ticket.project)),
            "by_admin": _counts_by(session, scope, col(Ticket.assignee)),
            "monthly": monthly(session, scope) if figures is None else figures,
            "recently_closed": recently_closed(session, scope)}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600, 1)

