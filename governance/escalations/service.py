"""Escalation tickets: opening, assignment, the life cycle, and the reminders that are due.

Each function is one state change in the caller's transaction, with an audit entry and a
line in the ticket's history. A refusal changes nothing. The ticket row is locked before
it is changed, so that replicas and the sweep never race on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session, and_, col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from governance.audit import Actor, record
from governance.durations import format_duration
from governance.errors import Conflict, Forbidden, NotFound, Refusal
from governance.escalations.away import available_admins, choose_assignee
from governance.escalations.models import (
    ACKNOWLEDGE,
    ACKNOWLEDGED,
    ACTIVE_STATES,
    CLOSED_STATES,
    DECLINED,
    OPEN,
    RESOLVED,
    Ticket,
    TicketEvent,
)
from governance.escalations.policy import Policy
from governance.people.roles import Role
from governance.people.service import ensure_person, find_person, profile_for_login
from governance.projects.service import require_project

MAX_SUMMARY = 500
MAX_TEXT = 2000
Via = Literal["chat", "github"]


def target(number: int) -> str:
    return f"escalation:{number}"


# --- reading ------------------------------------------------------------------------------


def find_ticket(session: Session, number: int, *, lock: bool = False) -> Ticket | None:
    query = select(Ticket).where(Ticket.number == number)
    return session.exec(query.with_for_update() if lock else query).first()


def require_ticket(session: Session, number: int, *, lock: bool = False) -> Ticket:
    ticket = find_ticket(session, number, lock=lock)
    if ticket is None:
        raise NotFound(f"There is no escalation #{number}.",
                       "`/escalations` lists the open ones; `/escalations mine` yours.")
    return ticket


def history(session: Session, number: int) -> list[TicketEvent]:
    return list(session.exec(
        select(TicketEvent).where(TicketEvent.ticket == number).order_by(col(TicketEvent.id))
    ).all())


def active_tickets(session: Session) -> list[Ticket]:
    return list(session.exec(
        select(Ticket).where(col(Ticket.state).in_(ACTIVE_STATES)).order_by(col(Ticket.number))
    ).all())


def tickets_of(session: Session, login: str) -> tuple[list[Ticket], list[Ticket]]:
    """(active tickets assigned to `login`, active tickets reported by `login`)."""
    person = find_person(session, login)
    name = person.display_login if person else login
    active = active_tickets(session)
    return ([t for t in active if t.assignee == name], [t for t in active if t.reporter == name])


def due_by(session: Session, moment: datetime) -> list[Ticket]:
    """Active tickets whose current deadline is at or before `moment` (overdue ones too),
    the soonest deadline first."""
    tickets = session.exec(select(Ticket).where(or_(
        and_(col(Ticket.state) == OPEN, col(Ticket.ack_due_at) <= moment),
        and_(col(Ticket.state) == ACKNOWLEDGED, col(Ticket.resolve_due_at) <= moment)))).all()
    return sorted(tickets, key=lambda t: (t.ack_due_at if t.state == OPEN else t.resolve_due_at,
                                          t.number or 0))


def by_source(session: Session, source: str) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.source == source)).first()


def by_github_issue(session: Session, issue: int) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.github_issue == issue)).first()


# --- small helpers ------------------------------------------------------------------------


def _note(session: Session, ticket: Ticket, *, at: datetime, actor: str, kind: str,
          text: str = "") -> TicketEvent:
    assert ticket.number is not None
    event = TicketEvent(ticket=ticket.number, at=at, actor=actor, kind=kind, text=text)
    session.add(event)
    session.flush()
    return event


def _is_admin(session: Session, login: str) -> bool:
    return profile_for_login(session, login).at_least(Role.ADMIN)


def _require_admin(session: Session, login: str, doing: str) -> None:
    if not _is_admin(session, login):
        raise Forbidden(f"Only an admin can {doing}; {login} is not an admin.",
                        "`/roles admin` lists the admins; ask one of them.")


def _checked_text(text: str, what: str, limit: int = MAX_TEXT, *, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise Refusal(f"The {what} is empty.", f"Write the {what} after the ticket number.")
    if len(text) > limit:
        raise Refusal(f"The {what} is {len(text)} characters long; at most {limit} fit.",
                      "Shorten it, or put the details in a comment.")
    return text


def _start_phase(ticket: Ticket, policy: Policy, now: datetime) -> None:
    """Arm the reminders of the ticket's current deadline, in a new cycle."""
    ticket.cycle += 1
    ticket.last_point = -1
    deadline = ticket.deadline()
    if deadline is None:
        ticket.next_reminder_at = None
        return
    point = policy.first_point_after(ticket.clock_started_at, deadline[1], now)
    ticket.last_point = point - 1
    ticket.next_reminder_at = policy.point_time(ticket.clock_started_at, deadline[1], point)


def _require_active(ticket: Ticket, doing: str) -> None:
    if ticket.state in CLOSED_STATES:
        raise Conflict(f"Escalation #{ticket.number} is already {ticket.state}"
                       f"{f' by {ticket.closed_by}' if ticket.closed_by else ''}; "
                       f"there is nothing to {doing}.",
                       f"If it is not done, `/escalation reopen {ticket.number}` opens it again.")


def _audit(session: Session, ticket: Ticket, actor: Actor, action: str, at: datetime,
           reason: str = "", **data: object) -> None:
    assert ticket.number is not None
    record(session, actor=actor, action=f"escalation.{action}", target=target(ticket.number),
           at=at, reason=reason, data={"state": ticket.state, **data})


# --- opening and assignment -----------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    ticket: Ticket
    created: bool


def open_ticket(session: Session, policy: Policy, *, project: str, kind: str, summary: str,
                reporter: str, urgent: bool, now: datetime, actor: Actor | None = None,
                source: str | None = None) -> Opened:
    """Open a ticket and assign it by the policy. With a `source` already used, the ticket
    opened for it is returned instead (created=False), so that a retried caller opens one."""
    if source is not None:
        existing = by_source(session, source)
        if existing is not None:
            return Opened(existing, created=False)
    found = require_project(session, project)
    if found.archived:
        raise Conflict(f"{found.display_name} is archived.",
                       "Unarchive it on GitHub first, or escalate for another project.")
    wanted = kind.strip().lower()
    if wanted not in policy.kinds:
        raise Refusal(f"{kind!r} is not a kind of escalation.",
                      f"Use one of: {', '.join(policy.kinds)}.")
    summary = _checked_text(summary, "summary", MAX_SUMMARY)
    person = ensure_person(session, reporter, now)
    severity = policy.severity(urgent)
    deadlines = policy.deadlines[severity]
    ticket = Ticket(project=found.display_name, kind=wanted, severity=severity, summary=summary,
                    reporter=person.display_login, state=OPEN, source=source, opened_at=now,
                    clock_started_at=now, ack_due_at=now + deadlines.acknowledge,
                    resolve_due_at=now + deadlines.resolve)
    assignee = choose_assignee(session, policy, now)
    if assignee:
        ticket.assignee, ticket.assigned_at = assignee, now
    _start_phase(ticket, policy, now)
    session.add(ticket)
    session.flush()
    actor = actor or Actor.github(person.display_login)
    _note(session, ticket, at=now, actor=actor.name.removeprefix("github:"), kind="opened",
                  text=f"{severity} {wanted} for {found.display_name}: {summary}")
    if assignee:
        _note(session, ticket, at=now, actor="roadie", kind="assigned",
              text=f"assigned to {assignee} ({policy.assignment})")
    _audit(session, ticket, actor, "open", now, reason=summary, project=found.name, kind=wanted,
           severity=severity, assignee=assignee, reporter=person.display_login, source=source)
    return Opened(ticket, created=True)


def assign(session: Session, policy: Policy, *, number: int, assignee: str, actor_login: str,
           now: datetime) -> tuple[Ticket, TicketEvent]:
    """Give a ticket to an admin (`take` is assigning it to yourself)."""
    ticket = require_ticket(session, number, lock=True)
    _require_active(ticket, "assign")
    _require_admin(session, actor_login, "assign an escalation")
    person = find_person(session, assignee)
    if person is None or not _is_admin(session, person.login):
        names = ", ".join(available_admins(session, now)) or "none available"
        raise Refusal(f"{assignee} is not an admin, so cannot take escalations.",
                      f"Assign it to an admin: {names}.")
    if ticket.assignee == person.display_login:
        raise Conflict(f"Escalation #{number} is already assigned to {person.display_login}.")
    previous = ticket.assignee
    ticket.assignee, ticket.assigned_at = person.display_login, now
    taken = person.login == actor_login.lower()
    event = _note(session, ticket, at=now, actor=actor_login, kind="assigned",
                  text=(f"taken by {person.display_login}" if taken
                        else f"assigned to {person.display_login} by {actor_login}")
                       + (f" (was {previous})" if previous else ""))
    _audit(session, ticket, Actor.github(actor_login), "take" if taken else "assign", now,
           assignee=person.display_login, previous=previous)
    return ticket, event


# --- the life cycle -------------------------------------------------------------------------


def acknowledge(session: Session, policy: Policy, *, number: int, actor_login: str,
                now: datetime) -> tuple[Ticket, TicketEvent]:
    """An admin says: I have seen it, and it is being handled. The resolve clock takes over."""
    ticket = require_ticket(session, number, lock=True)
    _require_active(ticket, "acknowledge")
    if ticket.state == ACKNOWLEDGED:
        raise Conflict(f"Escalation #{number} is already acknowledged.",
                       f"`/escalation resolve {number} <note>` when it is done.")
    _require_admin(session, actor_login, "acknowledge an escalation")
    late = now > ticket.ack_due_at
    ticket.state = ACKNOWLEDGED
    ticket.acknowledged_at = ticket.acknowledged_at or now
    ticket.ack_breached = ticket.ack_breached or late
    if not ticket.assignee:
        ticket.assignee = ensure_person(session, actor_login, now).display_login
        ticket.assigned_at = now
    _start_phase(ticket, policy, now)
    waited = format_duration(now - ticket.clock_started_at)
    event = _note(session, ticket, at=now, actor=actor_login, kind="acknowledged",
                  text=f"acknowledged by {actor_login} after {waited}"
                       + (" (after its deadline)" if late else ""))
    _audit(session, ticket, Actor.github(actor_login), "ack", now, late=late)
    return ticket, event


def close(session: Session, *, number: int, outcome: str, note: str, actor_login: str,
          now: datetime, via: Via = "chat") -> tuple[Ticket, TicketEvent]:
    """Resolve or decline a ticket, with a note or reason (required).

    From chat only admins close; through GitHub (closing the mirrored issue), whoever GitHub
    let close it.
    """
    doing = "resolve" if outcome == RESOLVED else "decline"
    ticket = require_ticket(session, number, lock=True)
    _require_active(ticket, doing)
    what = "note" if outcome == RESOLVED else "reason"
    note = _checked_text(note, what)
    if via == "chat":
        _require_admin(session, actor_login, f"{doing} an escalation")
    late = now > ticket.resolve_due_at
    ticket.state, ticket.closed_at, ticket.closed_by = outcome, now, actor_login
    ticket.outcome = note
    ticket.resolve_breached = ticket.resolve_breached or late
    ticket.ack_breached = ticket.ack_breached or (ticket.acknowledged_at is None
                                                  and now > ticket.ack_due_at)
    ticket.next_reminder_at = None
    where = " on GitHub" if via == "github" else ""
    event = _note(session, ticket, at=now, actor=actor_login, kind=outcome,
                  text=f"{outcome} by {actor_login}{where}: {note}")
    _audit(session, ticket, Actor.github(actor_login), "resolve" if outcome == RESOLVED
           else "decline", now, reason=note, via=via)
    return ticket, event


def resolve(session: Session, *, number: int, note: str, actor_login: str, now: datetime,
            via: Via = "chat") -> tuple[Ticket, TicketEvent]:
    return close(session, number=number, outcome=RESOLVED, note=note, actor_login=actor_login,
                 now=now, via=via)


def decline(session: Session, *, number: int, reason: str, actor_login: str, now: datetime,
            via: Via = "chat") -> tuple[Ticket, TicketEvent]:
    return close(session, number=number, outcome=DECLINED, note=reason, actor_login=actor_login,
                 now=now, via=via)


def reopen(session: Session, policy: Policy, *, number: int, actor_login: str, now: datetime,
           reason: str = "", via: Via = "chat") -> tuple[Ticket, TicketEvent]:
    """Open a closed ticket again, by its reporter or an admin, with fresh deadlines."""
    ticket = require_ticket(session, number, lock=True)
    if ticket.active:
        raise Conflict(f"Escalation #{number} is still {ticket.state}; it needs no reopening.",
                       f"`/escalation comment {number} <text>` adds to it.")
    reporter = ticket.reporter.lower() == actor_login.lower()
    if via == "chat" and not reporter and not _is_admin(session, actor_login):
        raise Forbidden(f"Only the reporter ({ticket.reporter}) or an admin can reopen "
                        f"escalation #{number}.",
                        f"`/escalation comment {number} <text>` to say what is still wrong, "
                        "or `/escalate` a new one.")
    reason = _checked_text(reason, "reason", required=False)
    deadlines = policy.deadlines[ticket.severity]
    previous = ticket.state
    ticket.state, ticket.closed_at, ticket.closed_by, ticket.outcome = OPEN, None, "", ""
    ticket.clock_started_at = now
    ticket.ack_due_at, ticket.resolve_due_at = now + deadlines.acknowledge, now + deadlines.resolve
    _start_phase(ticket, policy, now)
    where = " on GitHub" if via == "github" else ""
    event = _note(session, ticket, at=now, actor=actor_login, kind="reopened",
                  text=f"reopened by {actor_login}{where} (was {previous})"
                       + (f": {reason}" if reason else ""))
    _audit(session, ticket, Actor.github(actor_login), "reopen", now, reason=reason,
           previous=previous, via=via)
    return ticket, event


def involved(session: Session, ticket: Ticket, login: str) -> bool:
    """The reporter, the assignee, admins and the project's leads take part in a ticket."""
    if login.lower() in (ticket.reporter.lower(), ticket.assignee.lower()):
        return True
    profile = profile_for_login(session, login)
    return profile.at_least(Role.ADMIN) or profile.is_lead_of(ticket.project)


def comment(session: Session, *, number: int, text: str, actor_login: str,
            now: datetime) -> tuple[Ticket, TicketEvent]:
    ticket = require_ticket(session, number, lock=True)
    if not involved(session, ticket, actor_login):
        raise Forbidden(f"Only the people involved in escalation #{number} comment on it: its "
                        f"reporter ({ticket.reporter}), its assignee, the admins and the "
                        f"leads of {ticket.project}.",
                        "`/escalate` opens a ticket of your own.")
    text = _checked_text(text, "comment")
    event = _note(session, ticket, at=now, actor=actor_login, kind="commented", text=text)
    _audit(session, ticket, Actor.github(actor_login), "comment", now, reason=text)
    return ticket, event


# --- reminders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReminder:
    """A reminder point to send now. `key` is its outbox key: the same point, the same key."""

    ticket: Ticket
    phase: str
    point: int
    deadline: datetime
    breach: bool
    repeat: int
    fraction: float | None
    skipped: int
    key: str


def due_query(now: datetime, limit: int = 500) -> SelectOfScalar[int | None]:
    """Tickets with a reminder point due: one range scan of the next_reminder_at index."""
    return (select(Ticket.number).where(col(Ticket.next_reminder_at) <= now)
            .order_by(col(Ticket.next_reminder_at)).limit(limit))


def due_numbers(session: Session, now: datetime, limit: int = 500) -> list[int]:
    return [n for n in session.exec(due_query(now, limit)).all() if n is not None]


def reminder_key(ticket: Ticket, phase: str, point: int) -> str:
    return f"escalation:{ticket.number}:{ticket.cycle}:{phase}:{point}"


def take_due_reminder(session: Session, policy: Policy, *, number: int,
                      now: datetime) -> DueReminder | None:
    """Record the reminder point due for a ticket and arm the next one; None if none is due.

    The row is locked and its `last_point` moves on in the same transaction as the
    message is queued, so a point is sent once even when two sweeps meet or Roadie stops.
    """
    ticket = find_ticket(session, number, lock=True)
    if ticket is None or ticket.next_reminder_at is None or ticket.next_reminder_at > now:
        return None
    deadline = ticket.deadline()
    if deadline is None:
        ticket.next_reminder_at = None
        return None
    phase, due_at = deadline
    start = ticket.clock_started_at
    first = ticket.last_point + 1
    point = policy.latest_due_point(start, due_at, first, now)
    ticket.last_point = point
    ticket.next_reminder_at = policy.point_time(start, due_at, point + 1)
    breach = point >= policy.breach_point
    if breach and phase == ACKNOWLEDGE:
        ticket.ack_breached = True
    elif breach:
        ticket.resolve_breached = True
    reminder = DueReminder(
        ticket=ticket, phase=phase, point=point, deadline=due_at, breach=breach,
        repeat=point - policy.breach_point if breach else 0,
        fraction=None if breach else policy.reminder_points[point], skipped=point - first,
        key=reminder_key(ticket, phase, point))
    if reminder.fraction is None:
        _note(session, ticket, at=now, actor="roadie", kind="breached",
              text=f"{phase} deadline passed (alert {reminder.repeat + 1})")
    else:
        _note(session, ticket, at=now, actor="roadie", kind="reminded",
              text=f"{round(reminder.fraction * 100)}% of the {phase} window gone")
    _audit(session, ticket, Actor.system(), "remind", now, phase=phase, point=point,
           breach=breach, skipped=reminder.skipped)
    return reminder
