"""What people read about escalations: announcements, reminders, the list, a ticket, stats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.messages import Choice, Field, Message, Tone, shorten
from bot.core.moments import relative, when
from governance.durations import format_duration
from governance.escalations.models import (
    ACKNOWLEDGE,
    ACKNOWLEDGED,
    DECLINED,
    OPEN,
    RESOLVED,
    Ticket,
    TicketEvent,
)
from governance.escalations.service import DueReminder
from governance.escalations.stats import Stats

PHASE_NOUN = {ACKNOWLEDGE: "acknowledgement", "resolve": "resolution"}
PHASE_VERB = {ACKNOWLEDGE: "acknowledged", "resolve": "resolved"}


def deadline_text(moment: datetime, now: datetime) -> str:
    return f"{when(moment)} ({relative(moment, now)})"


def title(ticket: Ticket) -> str:
    urgent = "urgent " if ticket.urgent else ""
    return f"Escalation #{ticket.number}: {urgent}{ticket.kind} for {ticket.project}"


def assignee_text(ticket: Ticket) -> str:
    return ticket.assignee or "nobody yet (every admin is away, or nobody is assigned by policy)"


def opened(ticket: Ticket, now: datetime, *, for_admins: bool, origin: str = "") -> Message:
    """The announcement of a new ticket, to the admins (with its choices) or to a feed.
    `origin` says what opened it, when another capability did."""
    fields = [Field("From", origin, False)] if origin else []
    fields += [Field("Reporter", ticket.reporter), Field("Severity", ticket.severity),
              Field("Assigned to", assignee_text(ticket)),
              Field("Acknowledge by", deadline_text(ticket.ack_due_at, now)),
              Field("Resolve by", deadline_text(ticket.resolve_due_at, now))]
    choices = (Choice("Take it", f"/escalation take {ticket.number}"),
               Choice("Acknowledge", f"/escalation ack {ticket.number}", "primary"))
    return Message(title=title(ticket), body=ticket.summary, fields=tuple(fields),
                   mentions=(ticket.assignee,) if for_admins and ticket.assignee else (),
                   choices=choices if for_admins else (),
                   tone="warning" if ticket.urgent else "info",
                   footer=f"`/escalation {ticket.number}` shows its history.")


def digest_line(ticket: Ticket, now: datetime) -> str:
    """`#3 urgent webhook for django-sample: acknowledgement overdue by 1d 2h; alice`."""
    current = ticket.deadline()
    assert current is not None, "only active tickets have a deadline to report"
    phase, deadline = current
    noun = PHASE_NOUN[phase]
    timing = (f"{noun} overdue by {format_duration(now - deadline)}" if deadline <= now
              else f"{noun} due in {format_duration(deadline - now)}")
    urgent = "urgent " if ticket.urgent else ""
    return (f"#{ticket.number} {urgent}{ticket.kind} for {ticket.project}: {timing}; "
            f"assigned to {ticket.assignee or 'nobody'}")


def away_line(login: str, until: datetime, note: str) -> str:
    return f"{login} until {when(until)}" + (f": {note}" if note else "")


def opened_reply(ticket: Ticket, now: datetime) -> str:
    who = f"assigned to {ticket.assignee}" if ticket.assignee else "not assigned yet"
    return (f"Escalation #{ticket.number} is open ({ticket.severity} {ticket.kind} for "
            f"{ticket.project}), {who}. An admin acknowledges it by "
            f"{deadline_text(ticket.ack_due_at, now)} and resolves it by "
            f"{deadline_text(ticket.resolve_due_at, now)}. You hear of every change; "
            f"`/escalation {ticket.number}` shows it.")


def opened_for_reporter(ticket: Ticket, now: datetime) -> Message:
    return Message(title=f"Escalation #{ticket.number} was opened for you",
                   body=f"{ticket.summary}\n" + opened_reply(ticket, now))


EVENT_TONES: dict[str, Tone] = {"resolved": "success", "declined": "warning",
                                "reopened": "warning"}
EVENT_TITLES = {"acknowledged": "acknowledged", "resolved": "resolved", "declined": "declined",
                "reopened": "reopened", "assigned": "reassigned", "commented": "has a comment"}


def event_message(ticket: Ticket, event: TicketEvent, now: datetime) -> Message:
    """A transition or comment, as told to the reporter or a feed."""
    lines = [event.text if event.kind != "commented" else f"{event.actor}: {event.text}"]
    deadline = ticket.deadline()
    if deadline is not None:
        lines.append(f"To be {PHASE_VERB[deadline[0]]} by {deadline_text(deadline[1], now)}.")
    about = Field("About", f"{ticket.kind} for {ticket.project}: {ticket.summary}", False)
    return Message(title=f"Escalation #{ticket.number} {EVENT_TITLES.get(event.kind, event.kind)}",
                   body="\n".join(lines), fields=(about,),
                   tone=EVENT_TONES.get(event.kind, "info"))


def _act(ticket: Ticket, phase: str) -> tuple[tuple[Choice, ...], str]:
    """The one-step choice that meets the deadline, or (for a resolution, which needs a
    note that a button cannot give) the command to type."""
    if phase == ACKNOWLEDGE:
        return (Choice("Acknowledge", f"/escalation ack {ticket.number}", "primary"),), ""
    return (), f"\nResolve it with `/escalation resolve {ticket.number} <note>`."


def reminder(due: DueReminder, now: datetime, *, repeat_every: timedelta) -> Message:
    """A reminder before the deadline (to the assignee), or a breach alert (to the admins)."""
    ticket, noun = due.ticket, PHASE_NOUN[due.phase]
    about = (f"{ticket.summary}\nReported by {ticket.reporter}; assigned to "
             f"{ticket.assignee or 'nobody'}.")
    act, how = _act(ticket, due.phase)
    if not due.breach:
        share = round((due.fraction or 0) * 100)
        return Message(
            title=f"Reminder: escalation #{ticket.number} waits for {noun}",
            body=f"{share}% of its time is gone: to be {PHASE_VERB[due.phase]} by "
                 f"{deadline_text(due.deadline, now)}.\n{about}{how}",
            choices=act, tone="warning")
    # An assigned ticket is not offered to be taken: its holder would only be refused, and
    # another admin who takes over says so with `/escalation take`.
    take = () if ticket.assignee else (Choice("Take it", f"/escalation take {ticket.number}"),)
    again = (f"Alert {due.repeat + 1}; it repeats every {format_duration(repeat_every)} until "
             f"the ticket is {PHASE_VERB[due.phase]}.")
    return Message(
        title=f"Overdue: escalation #{ticket.number} was not {PHASE_VERB[due.phase]} in time",
        body=f"{title(ticket)}. It was due {deadline_text(due.deadline, now)}.\n{about}{how}\n"
             f"{again}",
        choices=(*take, *act), tone="danger")


def status_line(ticket: Ticket, now: datetime) -> str:
    """`#3 django-sample · ci · urgent: summary` and, indented, its state and clock."""
    urgent = " · urgent" if ticket.urgent else ""
    head = f"#{ticket.number} {ticket.project} · {ticket.kind}{urgent}: {_short(ticket.summary)}"
    parts = [f"assigned to {ticket.assignee}" if ticket.assignee else "unassigned",
             ticket.state, f"age {format_duration(now - ticket.opened_at)}"]
    deadline = ticket.deadline()
    if deadline is not None:
        phase, due = deadline
        if due <= now:
            parts.append(f"OVERDUE by {format_duration(now - due)} to be {PHASE_VERB[phase]}")
        else:
            parts.append(f"{format_duration(due - now)} left to be {PHASE_VERB[phase]}")
    return f"{head}\n  " + " · ".join(parts)


def _short(text: str, limit: int = 80) -> str:
    line = text.splitlines()[0] if text else ""
    return shorten(line, limit)


def listing(header: str, tickets: Sequence[Ticket], now: datetime, empty: str) -> str:
    if not tickets:
        return empty
    ordered = sorted(tickets, key=lambda t: (not t.overdue(now), _due(t), t.number or 0))
    overdue = sum(1 for t in tickets if t.overdue(now))
    note = f", {overdue} overdue" if overdue else ""
    return "\n".join([f"{header} ({len(tickets)}{note}):",
                      *(status_line(t, now) for t in ordered)])


def _due(ticket: Ticket) -> datetime:
    deadline = ticket.deadline()
    return deadline[1] if deadline else ticket.opened_at


def detail(ticket: Ticket, events: Sequence[TicketEvent], now: datetime,
           issue_url: str = "", origin: str = "") -> Message:
    """A ticket and its whole history."""
    fields = [Field("Project", ticket.project), Field("Kind", ticket.kind),
              Field("Severity", ticket.severity), Field("Reporter", ticket.reporter),
              Field("Assigned to", ticket.assignee or "nobody"), Field("State", ticket.state),
              Field("Opened", deadline_text(ticket.opened_at, now))]
    if ticket.state == OPEN:
        fields.append(Field("Acknowledge by", deadline_text(ticket.ack_due_at, now)))
    if ticket.state in (OPEN, ACKNOWLEDGED):
        fields.append(Field("Resolve by", deadline_text(ticket.resolve_due_at, now)))
    if ticket.state in (RESOLVED, DECLINED) and ticket.closed_at:
        fields.append(Field(ticket.state.capitalize(),
                            f"{deadline_text(ticket.closed_at, now)} by {ticket.closed_by}: "
                            f"{ticket.outcome}", False))
    if origin:
        fields.append(Field("From", origin, False))
    if issue_url:
        fields.append(Field("On GitHub", issue_url, False))
    history = "\n".join(f"{when(e.at)} · {e.kind} · {e.text}" for e in events)
    return Message(title=title(ticket), body=f"{ticket.summary}\n\nHistory:\n{history}",
                   fields=tuple(fields), tone="danger" if ticket.overdue(now) else "info")


def _median(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else "n/a"


def stats(windows: Sequence[Stats]) -> str:
    lines = ["Escalations opened in the last…"]
    for item in windows:
        if not item.opened:
            lines.append(f"- {item.days} days: none opened.")
            continue
        rate = f"{item.breach_rate:.0%}" if item.breach_rate is not None else "n/a"
        lines.append(
            f"- {item.days} days: {item.opened} opened, {item.acknowledged} acknowledged, "
            f"{item.resolved} resolved, {item.declined} declined, {item.still_open} still open. "
            f"Median time to acknowledge {_median(item.median_to_acknowledge)}, to resolve "
            f"{_median(item.median_to_resolve)}. Breach rate {rate} "
            f"({item.breached} of {item.opened} missed a deadline).")
    return "\n".join(lines)
