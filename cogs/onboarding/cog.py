"""Onboarding: a checklist issue for every new project, tracked item by item.

A repository created in or transferred to the org gets a checklist issue; edits of its task
list tick items, closing it completes the checklist, and `/onboarding <project> done <item>`
ticks from chat (and edits the issue to match). Admin items are escalated when only they
are left or when they have waited too long; the leads get a check-in after a month.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.cog import Cog, CogContext, DigestSection, Job, completer, on_github
from bot.core.commands import Arg, Invocation, command
from bot.core.events import GitHubEvent
from bot.core.messages import Message
from cogs.escalation import owners
from cogs.escalation.api import EscalationsNotLoaded, known_kinds, open_escalation
from cogs.onboarding import render
from cogs.onboarding.issue import IssueKeeper
from cogs.onboarding.settings import OnboardingSettings
from cogs.onboarding.threads import ItemThreads, source_of
from governance.audit import Actor
from governance.durations import format_duration
from governance.errors import Refusal
from governance.onboarding import service
from governance.onboarding.models import ADMIN, OPENING, Checklist
from governance.onboarding.tasklist import parse_ticks, render_body
from governance.people.roles import Role
from governance.people.service import holders, normalize_login
from governance.projects.service import register_project

ACTIONS = ("done", "undo")
DIGEST_ORDER = 20


class OnboardingCog(Cog):
    name = "onboarding"
    Settings = OnboardingSettings
    settings: OnboardingSettings

    def __init__(self, ctx: CogContext, settings: OnboardingSettings) -> None:
        super().__init__(ctx, settings)
        self.issues = IssueKeeper(ctx)
        self.threads = ItemThreads(ctx, settings)

    async def start(self) -> None:
        owners.register(self.ctx, self.threads)
        kinds = known_kinds(self.ctx)
        if kinds is None:
            self.log.warning("the escalation cog is not loaded: admin items of onboarding "
                             "checklists cannot be escalated")
            return
        for key in (i.key for i in self.settings.items if i.who == ADMIN):
            if self.settings.kind_of(key) not in kinds:
                self.log.warning("onboarding item %s is escalated as %r, which is not one of "
                                 "[escalations] kinds; set onboarding.escalation_kinds.%s",
                                 key, self.settings.kind_of(key), key)

    async def stop(self) -> None:
        owners.unregister(self.ctx, self.threads)

    def jobs(self) -> list[Job]:
        return [Job("onboarding.sweep", self._scheduled_sweep, every=self.settings.sweep_interval)]

    async def _scheduled_sweep(self) -> None:
        done = await self.sweep()
        if done:
            self.log.info("onboarding sweep: %d thing(s) done", done)

    async def sweep(self) -> int:
        """Escalate admin items that are due, send due check-ins, and catch the GitHub
        issues up; return how many things were done."""
        escalated = await self.escalate_due()
        checkins = await self.send_checkins()
        return escalated + checkins + await self.issues.run_due()

    # --- GitHub ---------------------------------------------------------------------------

    def excluded(self, repo: str) -> bool:
        return any(fnmatch.fnmatchcase(repo.lower(), pattern.lower())
                   for pattern in self.settings.exclude)

    @on_github("repository")
    async def repository_event(self, event: GitHubEvent) -> bool:
        name, sender, now = event.repo, event.sender, self.ctx.clock.now()
        actor = Actor.github(sender) if sender else Actor.system()
        if not name:
            return False
        if event.action == "renamed":
            old = event.text("changes", "repository", "name", "from")
            return bool(old) and await self.ctx.db.run(lambda session: service.rename(
                session, old=old, new=name, actor=actor, now=now))
        if event.action not in self.settings.actions or self.excluded(name):
            return False

        def start(session: Session) -> tuple[int, bool, bool] | None:
            """(checklist id, opening, created) of the project's checklist; None if none."""
            # The projects cog registers it too; this keeps onboarding right in any cog order.
            register_project(session, name=name, now=now, actor=actor, source="github",
                             default_branch=event.text("repository", "default_branch",
                                                       default="main"),
                             private=bool(event.get("repository", "private", default=False)))
            created = service.start_checklist(
                session, project=name, repo=name, sender=sender,
                template=self._template(session, name, sender), timing=self._timing(),
                now=now, with_github=self.ctx.github is not None)
            checklist = created or service.find_checklist(session, name)
            if checklist is None or checklist.id is None:
                return None
            checklist_id, opening = checklist.id, checklist.state == OPENING
            if created is not None and not opening:
                self.ctx.outbox.post(session, self.ctx.destinations.for_project(name),
                                     render.started(checklist,
                                                    service.items_of(session, checklist_id)))
            return checklist_id, opening, created is not None

        started = await self.ctx.db.run(start)
        if started is None:
            return False
        checklist_id, opening, created = started
        if opening:  # also when a crash interrupted the first time this delivery was handled
            await self.issues.run(checklist_id)
        return created

    def _template(self, session: Session, repo: str, sender: str) -> service.Template:
        values = {"org": self.ctx.org, "project": repo, "sender": sender or "someone",
                  "admin_wait": format_duration(self.settings.admin_wait)}
        items = self.settings.item_specs(values)
        leads = [person.display_login for person in holders(session, Role.LEAD, repo)]
        assignees = [login for login in dict.fromkeys([sender, *leads])
                     if login and login.lower() != self.ctx.bot_login.lower()]
        return service.Template(
            title=self.settings.title.format(**values)[:256],
            body=render_body(self.settings.intro.format(**values), items), items=items,
            escalation_kinds={i.key: self.settings.kind_of(i.key) for i in items
                              if i.who == ADMIN},
            assignees=assignees)

    def _timing(self) -> service.Timing:
        return service.Timing(admin_wait=self.settings.admin_wait,
                              checkin_after=self.settings.checkin_after)

    @on_github("issues")
    async def issue_event(self, event: GitHubEvent) -> bool:
        sender, number = event.sender, event.get("issue", "number")
        if (event.action not in ("edited", "closed", "reopened") or not sender
                or sender.lower() == self.ctx.bot_login.lower() or not isinstance(number, int)
                or not event.repo):
            return False
        now, project, wait = self.ctx.clock.now(), event.repo, self.settings.admin_wait

        def follow(session: Session) -> tuple[int, bool] | None:
            """(checklist id, whether admin items are due now); None if nothing changed."""
            escalate = False
            checklist: Checklist | None
            if event.action == "edited":
                ticked = service.tick_from_issue(
                    session, project=project, issue=number, sender=sender, now=now,
                    admin_wait=wait, ticks=parse_ticks(event.text("issue", "body")))
                if ticked is None or not ticked.changed:
                    return None
                checklist, escalate = ticked.checklist, bool(ticked.escalate_now)
                self.threads.close_escalations(session, ticked, by=sender, via="github",
                                               where="on GitHub")
                if ticked.completed:
                    self._announce_completed(session, checklist)
            elif event.action == "closed":
                checklist = service.close_from_issue(session, project=project, issue=number,
                                                     sender=sender, now=now)
                if checklist is not None:
                    self._announce_completed(session, checklist)
            else:
                checklist = service.reopen_from_issue(session, project=project, issue=number,
                                                      sender=sender, now=now, admin_wait=wait)
                escalate = checklist is not None
            if checklist is None or checklist.id is None:
                return None
            return checklist.id, escalate

        followed = await self.ctx.db.run(follow)
        if followed is None:
            return False
        checklist_id, escalate = followed
        if escalate:
            await self.escalate_due()
        await self.issues.run(checklist_id)
        return True

    def _announce_completed(self, session: Session, checklist: Checklist) -> None:
        assert checklist.id is not None
        self.ctx.outbox.post(session, self.ctx.destinations.for_project(checklist.repo),
                             render.completed(checklist, service.items_of(session,
                                                                          checklist.id)))

    # --- chat -----------------------------------------------------------------------------

    @command("onboarding", "Onboarding checklists: the open ones, a project's items, or tick one",
             Arg("project", "the project; leave out to list the open checklists", optional=True,
                 default="", autocomplete="onboarding-projects"),
             Arg("action", "done ticks the item, undo unticks it", optional=True, default="",
                 choices=ACTIONS),
             Arg("item", "the item's key, as the issue writes it (such as webhook)",
                 optional=True, default="", autocomplete="onboarding-items"),
             role=Role.MEMBER)
    async def onboarding(self, call: Invocation, project: str, action: str,
                         item: str) -> str | Message:
        stuck_after = self.settings.stuck_after
        if not project:
            def transact(session: Session) -> Any:
                active = service.active_checklists(session)
                items = service.items_by_checklist(session, active)
                return active, items
            active, items = await self.ctx.db.run(transact)
            return render.listing(active, items, call.now, stuck_after)
        if not action:
            checklist, items = await self.ctx.db.run(
                lambda session: service.checklist_with_items(session, project))
            return render.detail(checklist, items, call.now, stuck_after)
        if not item:
            checklist, items = await self.ctx.db.run(
                lambda session: service.checklist_with_items(session, project))
            keys = ", ".join(i.key for i in items)
            raise Refusal(f"Say which item: `/onboarding {checklist.repo} {action} <item>`.",
                               f"Its items: {keys}.")
        return await self._tick(call, project, item, done=action == "done")

    async def _tick(self, call: Invocation, project: str, item: str, *, done: bool) -> str:
        call.require_linked()
        def transact(session: Session) -> Any:
            ticked = service.tick_from_chat(session, project=project, item_name=item, done=done,
                                            profile=call.profile, now=call.now,
                                            admin_wait=self.settings.admin_wait)
            checklist = ticked.checklist
            assert checklist.id is not None
            closed = self.threads.close_escalations(session, ticked, by=call.profile.login or "",
                                                    via="chat", where="in chat")
            if ticked.completed:
                self._announce_completed(session, checklist)
            items = service.items_of(session, checklist.id)
            return ticked, checklist, items, closed
        ticked, checklist, items, closed = await self.ctx.db.run(transact)
        key = (ticked.ticked or ticked.unticked)[0]
        if ticked.escalate_now:
            await self.escalate_due()
        await self.issues.run(checklist.id)
        pending = await self.ctx.db.run(lambda session: any(
            i.sync_pending for i in service.items_of(session, checklist.id) if i.key == key))
        verb = "Ticked" if done else "Unticked"
        text = f"{verb} `{key}` of {checklist.repo}: {render.progress(items)}."
        if checklist.issue_number is not None:
            text += (" The GitHub issue is behind: Roadie tries again until GitHub takes it."
                     if pending else " The GitHub issue shows it.")
        if closed:
            text += f" Escalation #{closed[0]} is resolved with it."
        if ticked.completed:
            text += " Every item is done: the onboarding is complete."
        elif ticked.escalate_now:
            text += (" Only admin items are left, so they go to the admins now: "
                     + ", ".join(ticked.escalate_now) + ".")
        return text

    @completer("onboarding-projects")
    async def complete_projects(self, prefix: str) -> list[tuple[str, str]]:
        names = [c.repo for c in await self.ctx.db.run(service.active_checklists)]
        return [(n, n) for n in names if n.lower().startswith(prefix.lower())]

    @completer("onboarding-items")
    async def complete_items(self, prefix: str) -> list[tuple[str, str]]:
        return [(f"{i.key}: {i.text}"[:100], i.key) for i in self.settings.items
                if i.key.startswith(prefix.lower())]

    # --- admin items, check-ins -----------------------------------------------------------

    async def escalate_due(self) -> int:
        """Open an escalation for every admin item that is due; return how many."""
        now = self.ctx.clock.now()
        due = await self.ctx.db.run(lambda session: service.due_escalations(session, now))
        opened = 0
        for item_id in due:
            try:
                opened += await self.ctx.db.run(
                    lambda session: self._escalate(session, item_id, now))
            except (Refusal, EscalationsNotLoaded) as error:
                failure = error
                await self.ctx.db.run(lambda session: self._record_escalation_failure(
                    session, item_id, failure, now))
        return opened

    def _record_escalation_failure(self, session: Session, item_id: int,
                                   error: Refusal | EscalationsNotLoaded, now: datetime) -> None:
        reason = error.reason if isinstance(error, Refusal) else str(error)
        failed = service.record_escalation_failure(session, item_id, error=reason, now=now)
        if failed is not None:
            self.ctx.outbox.post(session, "admins", render.escalation_failed(*failed, reason),
                                 key=f"onboarding:{failed[0].project}:"
                                     f"{failed[1].key}:escalation-failed")

    def _escalate(self, session: Session, item_id: int, now: datetime) -> int:
        taken = service.take_due_escalation(session, item_id, now)
        if taken is None:
            return 0
        checklist, item = taken
        assert checklist.id is not None
        reason = render.escalation_reason(service.items_of(session, checklist.id),
                                          self.settings.admin_wait)
        ticket = open_escalation(
            self.ctx, session, project=checklist.repo, kind=item.escalation_kind,
            summary=render.escalation_summary(checklist, item, reason),
            reporter_login=self._reporter(checklist),
            source=source_of(checklist, item))
        assert ticket.number is not None
        service.record_escalation(session, checklist, item, ticket=ticket.number, reason=reason,
                                  now=now)
        return 1

    def _reporter(self, checklist: Checklist) -> str:
        """Who reports an admin item: whoever moved the project in, unless that was a bot
        (such as `someapp[bot]`, not a login a person has), then Roadie itself."""
        try:
            return normalize_login(checklist.opened_by)
        except Refusal:
            return self.ctx.bot_login

    async def send_checkins(self) -> int:
        """Remind the leads of each project whose check-in is due; return how many."""
        now = self.ctx.clock.now()
        due = await self.ctx.db.run(lambda session: service.due_checkins(session, now))
        sent = 0
        for checklist_id in due:
            sent += await self.ctx.db.run(
                lambda session: self._send_checkin(session, checklist_id, now))
        return sent

    def _send_checkin(self, session: Session, checklist_id: int, now: datetime) -> int:
        """1 if this replica took the check-in and sent it, else 0."""
        checklist = service.take_checkin(session, checklist_id, now)
        if checklist is None:
            return 0
        items = service.items_of(session, checklist_id)
        leads = [p.display_login for p in holders(session, Role.LEAD, checklist.project)]
        key = f"onboarding:{checklist.project}:checkin"
        direct = render.checkin(checklist, items, now, leads, mention=False)
        reached = [lead for lead in leads if self.ctx.outbox.post_to_person(
            session, lead, direct, key=f"{key}:{lead.lower()}")]
        if not reached:
            self.ctx.outbox.post(session, self.ctx.destinations.for_project(
                checklist.repo), render.checkin(checklist, items, now, leads,
                                                mention=True), key=key)
        return 1

    # --- the digest -----------------------------------------------------------------------

    def digest_sections(self, session: Session, *, now: datetime,
                        since: datetime) -> list[DigestSection]:
        stuck = service.stuck_checklists(session, now, self.settings.stuck_after)
        if not stuck:
            return []
        items = service.items_by_checklist(session, stuck)
        return [DigestSection("Stuck onboarding", render.digest_lines(stuck, items, now),
                              order=DIGEST_ORDER)]


COG = OnboardingCog
