"""Who hears of what, queued in the transaction of the change it tells about.

Every key is derived from the ticket and the event or reminder point, so that nothing is
told twice, whoever retries.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.messages import Message
from cogs.escalation import owners, render
from governance.escalations.away import admins, available_admins, current_away
from governance.escalations.models import Ticket, TicketEvent
from governance.escalations.service import DueReminder

ADMINS = "admins"


class Announcer:
    def __init__(self, ctx: CogContext, breach_repeat: timedelta) -> None:
        self.ctx = ctx
        self.breach_repeat = breach_repeat

    def feed_of(self, ticket: Ticket) -> str:
        return self.ctx.destinations.for_project(ticket.project)

    def to_person(self, session: Session, login: str, ticket: Ticket, message: Message, *,
                  key: str) -> None:
        """A direct message; without a linked chat account, a mention in the project's feed."""
        if not self.ctx.outbox.post_to_person(session, login, message, key=key):
            self.ctx.outbox.post(session, self.feed_of(ticket),
                                 _with_mentions(message, (login,)), key=key)

    def opened(self, session: Session, ticket: Ticket, now: datetime, *,
               source: str | None = None) -> None:
        """A new ticket: to the admins and the project's feed; to the reporter when the
        ticket was opened for them (the command's reply tells them otherwise). A ticket that
        another capability owns (an onboarding item) is one message to the admins: its owner
        has told the project already."""
        n = ticket.number
        owner = owners.owner_of(self.ctx, ticket)
        origin = owner.origin(ticket) if owner is not None else ""
        self.ctx.outbox.post(session, ADMINS, render.opened(ticket, now, for_admins=True,
                                                             origin=origin),
                             key=f"escalation:{n}:opened:admins")
        if owner is not None:
            return
        feed = self.feed_of(ticket)
        if feed != ADMINS:
            self.ctx.outbox.post(session, feed, render.opened(ticket, now, for_admins=False),
                                 key=f"escalation:{n}:opened:feed")
        if source is not None:
            self.to_person(session, ticket.reporter, ticket,
                           render.opened_for_reporter(ticket, now),
                           key=f"escalation:{n}:opened:reporter")

    def event(self, session: Session, ticket: Ticket, event: TicketEvent, now: datetime) -> None:
        """A transition or comment: to the reporter and the assignee (not to whoever did it),
        and closings and reopenings to the project's feed, reopenings to the admins too."""
        actor = event.actor.lower()
        told = {actor}
        for login in (ticket.reporter, ticket.assignee):
            if login and login.lower() not in told:
                told.add(login.lower())
                self.to_person(session, login, ticket, render.event_message(ticket, event, now),
                               key=f"escalation:{ticket.number}:event:{event.id}:{login.lower()}")
        public = render.event_message(ticket, event, now)
        if event.kind in ("resolved", "declined", "reopened"):
            self.ctx.outbox.post(session, self.feed_of(ticket), public,
                                 key=f"escalation:{ticket.number}:event:{event.id}:feed")
        if event.kind == "reopened" and self.feed_of(ticket) != ADMINS:
            self.ctx.outbox.post(session, ADMINS,
                                 _with_mentions(public, (ticket.assignee,) * bool(ticket.assignee)),
                                 key=f"escalation:{ticket.number}:event:{event.id}:admins")

    def closed_in_thread(self, session: Session, ticket: Ticket, event: TicketEvent,
                         now: datetime, outcome: str) -> None:
        """An owned ticket was closed and its owner's record moved with it: one message, in
        the project's feed, saying both."""
        message = render.event_message(ticket, event, now)
        message = replace(message, body=f"{message.body}\n{outcome}".strip())
        self.ctx.outbox.post(session, self.feed_of(ticket), message,
                             key=f"escalation:{ticket.number}:event:{event.id}:feed")

    def reminder(self, session: Session, due: DueReminder, now: datetime) -> None:
        """Before the deadline, the assignee (the admins when nobody is assigned or the
        assignee is away); at and after it, the admins, every one who is not away mentioned
        (all of them when all are away: someone must hear)."""
        ticket = due.ticket
        message = render.reminder(due, now, repeat_every=self.breach_repeat)
        assignee = ticket.assignee
        if assignee and not due.breach and current_away(session, assignee, now) is None:
            if self.ctx.outbox.post_to_person(session, assignee, message, key=due.key):
                return
            mentioned = [assignee]
        else:
            mentioned = available_admins(session, now) or admins(session)
        self.ctx.outbox.post(session, ADMINS, _with_mentions(message, tuple(mentioned)),
                             key=due.key)


def _with_mentions(message: Message, logins: tuple[str, ...]) -> Message:
    return replace(message, mentions=tuple(dict.fromkeys((*message.mentions, *logins))))
