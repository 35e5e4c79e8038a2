"""Admins who are away, and who gets a new ticket."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.durations import format_duration
from governance.errors import Conflict, Refusal
from governance.escalations.models import ACTIVE_STATES, AwayPeriod, Ticket
from governance.escalations.policy import Policy
from governance.people.roles import Role
from governance.people.service import ensure_person, holders

MAX_NOTE = 300


def current_away(session: Session, login: str, now: datetime, *,
                 lock: bool = False) -> AwayPeriod | None:
    query = select(AwayPeriod).where(AwayPeriod.login == login.lower(), AwayPeriod.until > now,
                                     col(AwayPeriod.ended_at).is_(None),
                                     AwayPeriod.starts_at <= now)
    if lock:
        query = query.with_for_update()
    return session.exec(query.order_by(col(AwayPeriod.until).desc())).first()


def away_admins(session: Session, now: datetime) -> dict[str, AwayPeriod]:
    """Lower-case login to the away period of every admin away now."""
    rows = session.exec(
        select(AwayPeriod).where(AwayPeriod.until > now, col(AwayPeriod.ended_at).is_(None),
                                 AwayPeriod.starts_at <= now)
    ).all()
    return {row.login: row for row in rows}


def admins(session: Session) -> list[str]:
    """Every admin's login, as written."""
    return [person.display_login for person in holders(session, Role.ADMIN)]


def available_admins(session: Session, now: datetime) -> list[str]:
    """Admins who are not away, as written, in login order."""
    away = away_admins(session, now)
    return [login for login in admins(session) if login.lower() not in away]


def go_away(session: Session, *, login: str, duration: timedelta, note: str, now: datetime,
            policy: Policy) -> AwayPeriod:
    """Mark an admin away for `duration`; a new period replaces one that is running."""
    if duration > policy.max_away:
        raise Refusal(f"{format_duration(duration)} is longer than the longest absence Roadie "
                      f"takes ({format_duration(policy.max_away)}).",
                      "Give a shorter duration, and renew it when you know more.")
    if len(note) > MAX_NOTE:
        raise Refusal(f"The note is {len(note)} characters long; at most {MAX_NOTE} fit.",
                      "Shorten it.")
    person = ensure_person(session, login, now)
    running = current_away(session, person.login, now, lock=True)
    if running is not None:
        running.ended_at = now
    period = AwayPeriod(login=person.login, starts_at=now, until=now + duration, note=note)
    session.add(period)
    record(session, actor=Actor.github(person.display_login), action="escalation.away",
           target=f"github:{person.display_login}", at=now, reason=note,
           data={"until": period.until.isoformat(), "replaces": running.id if running else None})
    session.flush()
    return period


def come_back(session: Session, *, login: str, now: datetime) -> AwayPeriod:
    running = current_away(session, login, now, lock=True)
    if running is None:
        raise Conflict("You are not marked away.", "`/away <duration> [note]` marks you away.")
    running.ended_at = now
    record(session, actor=Actor.github(login), action="escalation.back",
           target=f"github:{login}", at=now, data={"away_since": running.starts_at.isoformat()})
    return running


def choose_assignee(session: Session, policy: Policy, now: datetime) -> str:
    """The admin a new ticket goes to, or "" when the policy assigns nobody or all are away.

    balanced: fewest open tickets first, then whoever was assigned longest ago.
    round-robin: whoever was assigned longest ago.
    """
    candidates = available_admins(session, now)
    if policy.assignment == "none" or not candidates:
        return ""
    load = dict(session.exec(
        select(Ticket.assignee, func.count()).where(col(Ticket.state).in_(ACTIVE_STATES))
        .group_by(Ticket.assignee)
    ).all())
    last = dict(session.exec(
        select(Ticket.assignee, func.max(Ticket.assigned_at)).group_by(Ticket.assignee)
    ).all())

    def turn(login: str) -> tuple[float, str]:
        when = last.get(login)
        return (when.timestamp() if when else float("-inf"), login.lower())

    if policy.assignment == "round-robin":
        return min(candidates, key=turn)
    return min(candidates, key=lambda login: (load.get(login, 0), *turn(login)))
