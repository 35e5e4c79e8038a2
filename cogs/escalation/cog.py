"""The escalation cog: commands, the reminder sweep, and the GitHub mirror's webhook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.core.cog import Cog, CogContext, DigestSection, Job, completer, on_github
from bot.core.commands import Arg, Flag, Invocation, Text, command
from bot.core.events import GitHubEvent
from bot.core.messages import Message
from cogs.escalation import api, owners, render
from cogs.escalation.settings import EscalationSettings
from governance.durations import format_duration
from governance.errors import Refusal
from governance.escalations import away, service
from governance.escalations.models import DECLINED, RESOLVED, AwayPeriod, Ticket, TicketEvent
from governance.escalations.stats import window_stats
from governance.people.roles import Role

Transition = Callable[[Session], tuple[Ticket, TicketEvent]]
NUMBER = Arg("number", "the escalation's number", kind="int", autocomplete="escalations")
SWEEP_BATCH = 200
STATS_WINDOWS = (30, 90)
DIGEST_HORIZON = timedelta(hours=24)


class EscalationCog(Cog):
    name = "escalation"
    section = "escalations"
    Settings = EscalationSettings
    settings: EscalationSettings

    def __init__(self, ctx: CogContext, settings: EscalationSettings) -> None:
        super().__init__(ctx, settings)
        self.opener = api.Opener(ctx, settings)
        self.policy = self.opener.policy
        self.announce = self.opener.announce
        self.mirror = self.opener.mirror

    async def start(self) -> None:
        api.register(self.opener)
        self.mirror.start()
        if self.settings.github_repo and self.ctx.github is None:
            self.log.warning("escalations.github_repo is set but no GitHub token is configured; "
                             "tickets are not mirrored")

    async def stop(self) -> None:
        await self.mirror.stop()
        api.unregister(self.opener)

    def jobs(self) -> list[Job]:
        return [Job("escalation.sweep", self._scheduled_sweep, every=self.settings.sweep_interval)]

    async def _scheduled_sweep(self) -> None:
        sent = await self.sweep()
        if sent:
            self.log.info("sent %d escalation reminder(s)", sent)

    # --- opening -------------------------------------------------------------------------

    @command("escalate", "Ask the admins for something only they can do for a project",
             Arg("project", "the project that is blocked", autocomplete="projects"),
             Arg("kind", "what is needed, such as ci, webhook, secrets or pypi",
                 autocomplete="escalation-kinds"),
             Text("summary", "what is needed, in a sentence"),
             Flag("urgent", "the project is stuck now: shorter deadlines"), role=Role.MEMBER)
    async def escalate(self, call: Invocation, project: str, kind: str, summary: str,
                       urgent: bool) -> str:
        login = call.require_linked()
        opened = await self.ctx.db.run(lambda session: self.opener.open(
            session, project=project, kind=kind, summary=summary, reporter=login, urgent=urgent,
            actor=None, source=None))
        return render.opened_reply(opened.ticket, call.now)

    # --- assignment and absence ----------------------------------------------------------

    @command("escalation assign", "Give an escalation to an admin",
             NUMBER, Arg("admin", "the admin's GitHub login", kind="login"), role=Role.ADMIN)
    async def assign(self, call: Invocation, number: int, admin: str) -> str:
        login = call.require_linked()
        ticket, _ = await self._transition(call, lambda s: service.assign(
            s, self.policy, number=number, assignee=admin, actor_login=login, now=call.now))
        note = ""
        period = await self.ctx.db.run(lambda session: away.current_away(
            session, ticket.assignee, call.now))
        if period is not None:
            note = f" Note: {ticket.assignee} is away until {render.when(period.until)}."
        return f"Escalation #{number} is now assigned to {ticket.assignee}.{note}"

    @command("escalation take", "Take an escalation yourself", NUMBER, role=Role.ADMIN)
    async def take(self, call: Invocation, number: int) -> str:
        login = call.require_linked()
        await self._transition(call, lambda s: service.assign(
            s, self.policy, number=number, assignee=login, actor_login=login, now=call.now))
        return (f"Escalation #{number} is yours. `/escalation ack {number}` tells the reporter "
                "that it is being handled.")

    @command("away", "Tell Roadie you are away: no new escalations, no breach mentions",
             Arg("duration", "how long, such as 3d or 2w", kind="duration"),
             Text("note", "where you are, or who stands in", optional=True), role=Role.ADMIN)
    async def away(self, call: Invocation, duration: timedelta, note: str) -> str:
        login = call.require_linked()
        def go_away(session: Session) -> tuple[AwayPeriod, list[Ticket]]:
            period = away.go_away(session, login=login, duration=duration, note=note,
                                  now=call.now, policy=self.policy)
            mine, _ = service.tickets_of(session, login)
            return period, mine

        period, mine = await self.ctx.db.run(go_away)
        held = (f" You still hold {len(mine)} open escalation(s): "
                + ", ".join(f"#{t.number}" for t in mine)
                + "; `/escalation assign <N> <admin>` hands one over.") if mine else ""
        return (f"You are away until {render.when(period.until)} "
                f"({format_duration(duration)}). New escalations go to other admins.{held} "
                "`/back` when you are back.")

    @command("back", "Tell Roadie you are back from being away", role=Role.ADMIN)
    async def back(self, call: Invocation) -> str:
        login = call.require_linked()
        await self.ctx.db.run(lambda session: away.come_back(session, login=login, now=call.now))
        return "Welcome back: new escalations may come to you again."

    # --- the life cycle ------------------------------------------------------------------

    @command("escalation ack", "Acknowledge an escalation: you are handling it", NUMBER,
             role=Role.ADMIN)
    async def ack(self, call: Invocation, number: int) -> str:
        login = call.require_linked()
        ticket, _ = await self._transition(call, lambda s: service.acknowledge(
            s, self.policy, number=number, actor_login=login, now=call.now))
        return (f"Acknowledged escalation #{number}; the reporter has been told. Resolve it by "
                f"{render.deadline_text(ticket.resolve_due_at, call.now)}: "
                f"`/escalation resolve {number} <note>`.")

    @command("escalation resolve", "Mark an escalation done", NUMBER,
             Text("note", "what was done"), role=Role.ADMIN)
    async def resolve(self, call: Invocation, number: int, note: str) -> str:
        login = call.require_linked()
        await self._transition(call, lambda s: service.resolve(
            s, number=number, note=note, actor_login=login, now=call.now))
        return f"Resolved escalation #{number}; the reporter has been told."

    @command("escalation decline", "Decline an escalation, saying why", NUMBER,
             Text("reason", "why it is declined (the reporter reads it)"), role=Role.ADMIN)
    async def decline(self, call: Invocation, number: int, reason: str) -> str:
        login = call.require_linked()
        await self._transition(call, lambda s: service.decline(
            s, number=number, reason=reason, actor_login=login, now=call.now))
        return f"Declined escalation #{number}; the reporter has been told why."

    @command("escalation reopen", "Reopen a resolved or declined escalation (reporter or admin)",
             NUMBER, Text("reason", "what is still wrong", optional=True), role=Role.MEMBER)
    async def reopen(self, call: Invocation, number: int, reason: str) -> str:
        login = call.require_linked()
        ticket, _ = await self._transition(call, lambda s: service.reopen(
            s, self.policy, number=number, actor_login=login, now=call.now, reason=reason))
        return (f"Reopened escalation #{number}; it is to be acknowledged by "
                f"{render.deadline_text(ticket.ack_due_at, call.now)}.")

    @command("escalation comment", "Add a comment to an escalation", NUMBER,
             Text("text", "the comment"), role=Role.MEMBER)
    async def comment(self, call: Invocation, number: int, text: str) -> str:
        login = call.require_linked()
        await self._transition(call, lambda s: service.comment(
            s, number=number, text=text, actor_login=login, now=call.now))
        return f"Added your comment to escalation #{number}."

    async def _transition(self, call: Invocation,
                          change: Transition) -> tuple[Ticket, TicketEvent]:
        """Run one change and queue what it tells, in one transaction."""
        def change_and_tell(session: Session) -> tuple[Ticket, TicketEvent]:
            ticket, event = change(session)
            self._tell(session, ticket, event, call.now)
            self.mirror.event(session, ticket, event, call.now)
            return ticket, event

        return await self.ctx.db.run(change_and_tell)

    def _tell(self, session: Session, ticket: Ticket, event: TicketEvent,
              now: datetime) -> None:
        """Queue what a change tells. Closing a ticket that another capability owns moves
        the owner's record too, and the two are told as one."""
        owner = owners.owner_of(self.ctx, ticket)
        if owner is not None and event.kind in (RESOLVED, DECLINED):
            outcome = owner.closed(session, ticket, event, now)
            self.announce.closed_in_thread(session, ticket, event, now, outcome)
        else:
            self.announce.event(session, ticket, event, now)

    # --- views ---------------------------------------------------------------------------

    @command("escalation show", "An escalation and its whole history", NUMBER,
             role=Role.MEMBER, group_default=True)
    async def show(self, call: Invocation, number: int) -> Message:
        def ticket_and_history(session: Session) -> tuple[Ticket, list[TicketEvent]]:
            return service.require_ticket(session, number), service.history(session, number)

        ticket, events = await self.ctx.db.run(ticket_and_history)
        url = (f"https://github.com/{self.ctx.org}/{self.settings.github_repo}/issues/"
               f"{ticket.github_issue}" if ticket.github_issue else "")
        owner = owners.owner_of(self.ctx, ticket)
        return render.detail(ticket, events, call.now, url,
                             owner.origin(ticket) if owner is not None else "")

    @command("escalations list", "The open escalations, overdue first", role=Role.MEMBER,
             group_default=True)
    async def list_open(self, call: Invocation) -> str:
        tickets = await self.ctx.db.run(lambda session: service.active_tickets(session))
        return render.listing("Open escalations", tickets, call.now,
                              "No open escalations. `/escalate` opens one.")

    @command("escalations mine", "The open escalations assigned to you or reported by you",
             role=Role.MEMBER)
    async def mine(self, call: Invocation) -> str:
        login = call.require_linked()
        def transact(session: Session) -> Any:
            assigned, reported = service.tickets_of(session, login)
            return assigned, reported
        assigned, reported = await self.ctx.db.run(transact)
        parts = []
        if assigned or call.profile.at_least(Role.ADMIN):
            parts.append(render.listing("Assigned to you", assigned, call.now,
                                        "Nothing is assigned to you."))
        parts.append(render.listing("Reported by you", reported, call.now,
                                    "You reported no open escalations."))
        return "\n".join(parts)

    @command("escalations stats", "How fast escalations are handled, over 30 and 90 days",
             role=Role.MEMBER)
    async def stats(self, call: Invocation) -> str:
        def transact(session: Session) -> Any:
            windows = [window_stats(session, now=call.now, days=d) for d in STATS_WINDOWS]
            return windows
        windows = await self.ctx.db.run(transact)
        return render.stats(windows)

    @completer("escalations")
    async def complete_tickets(self, prefix: str) -> list[tuple[str, str]]:
        tickets = await self.ctx.db.run(service.active_tickets)
        return [(f"#{t.number} {t.project}: {t.summary}"[:100], str(t.number))
                for t in tickets if str(t.number).startswith(prefix.lstrip("#"))]

    @completer("escalation-kinds")
    async def complete_kinds(self, prefix: str) -> list[tuple[str, str]]:
        return [(k, k) for k in self.policy.kinds if k.startswith(prefix.lower())]

    # --- the sweep -----------------------------------------------------------------------

    async def sweep(self) -> int:
        """Send every reminder point that is due; return how many were sent.

        One indexed query finds the due tickets; each is then handled in its own short
        transaction that locks the row, records the point and queues the message.
        """
        sent = 0
        while True:
            now = self.ctx.clock.now()
            numbers = await self.ctx.db.run(
                lambda session: service.due_numbers(session, now, limit=SWEEP_BATCH))
            for number in numbers:
                sent += await self.ctx.db.run(
                    lambda session: self._remind(session, number, now))
            if len(numbers) < SWEEP_BATCH:
                return sent

    def _remind(self, session: Session, number: int, now: datetime) -> int:
        """1 if a reminder point of the ticket was due and is now queued, else 0."""
        due = service.take_due_reminder(session, self.policy, number=number, now=now)
        if due is None:
            return 0
        self.announce.reminder(session, due, now)
        return 1

    # --- the daily digest ---------------------------------------------------------------

    def digest_sections(self, session: Session, *, now: datetime,
                        since: datetime) -> list[DigestSection]:
        sections = []
        tickets = service.due_by(session, now + DIGEST_HORIZON)
        if tickets:
            sections.append(DigestSection("Escalations breached or due within 24h", tuple(
                render.digest_line(t, now) for t in tickets), order=10))
        gone = away.away_admins(session, now)
        if gone:
            names = {login.lower(): login for login in away.admins(session)}
            sections.append(DigestSection("Admins away", tuple(
                render.away_line(names.get(login, login), period.until, period.note)
                for login, period in sorted(gone.items(), key=lambda i: (i[1].until, i[0]))),
                order=60))
        return sections

    # --- the GitHub mirror, the other way ------------------------------------------------

    @on_github("issues")
    async def mirrored_issue_changed(self, event: GitHubEvent) -> bool:
        """Closing the mirrored issue resolves the ticket (declines it when closed as not
        planned); reopening it reopens the ticket."""
        repo = self.settings.github_repo
        if not repo or event.repo.lower() != repo.lower() or event.action not in ("closed",
                                                                                  "reopened"):
            return False
        sender, number = event.sender, event.get("issue", "number")
        if not sender or sender.lower() == self.ctx.bot_login.lower() or not isinstance(number,
                                                                                      int):
            return False
        now = self.ctx.clock.now()
        def transact(session: Session) -> bool:
            ticket = service.by_github_issue(session, number)
            if ticket is None or ticket.number is None:
                return False
            try:
                ticket, change = self._from_github(session, event, ticket.number, sender)
            except Refusal:
                return False  # already in that state: a redelivery, or Roadie's own change
            self._tell(session, ticket, change, now)
            return True

        return await self.ctx.db.run(transact)

    def _from_github(self, session: Session, event: GitHubEvent, number: int,
                     sender: str) -> tuple[Ticket, TicketEvent]:
        now, url = self.ctx.clock.now(), event.text("issue", "html_url")
        if event.action == "reopened":
            return service.reopen(session, self.policy, number=number, actor_login=sender,
                                  now=now, reason=f"reopened {url}", via="github")
        declined = event.text("issue", "state_reason") == "not_planned"
        return service.close(session, number=number, outcome=DECLINED if declined else RESOLVED,
                             note=f"closed the GitHub issue {url}".strip(), actor_login=sender,
                             now=now, via="github")


COG = EscalationCog
