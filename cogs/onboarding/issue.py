"""Keeping each checklist's GitHub issue in line with the checklist.

The database says what is to be done (`governance.onboarding.issue_work`); this does it,
one claimed checklist at a time, and records each step as soon as GitHub said yes. A
failure loses nothing: the work stays due and is tried again with a growing pause, and
the admins are told when GitHub refuses for good.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.ports import GitHubIssue, PlatformError
from cogs.onboarding import render
from governance.onboarding import issue_work
from governance.onboarding.service import items_of
from governance.onboarding.tasklist import MARKER, set_ticks

log = logging.getLogger("roadie.onboarding.issue")
HOLD = timedelta(minutes=2)
GIVE_UP_AFTER = 8
MAX_BACKOFF = timedelta(minutes=30)
ROUNDS = 3


class IssueKeeper:
    def __init__(self, ctx: CogContext) -> None:
        self.ctx = ctx

    async def run_due(self) -> int:
        """Work on every checklist whose GitHub work is due; return how many were done."""
        if self.ctx.github is None:
            return 0
        due = await self.ctx.db.run(lambda session: issue_work.due(session, self.ctx.clock.now()))
        return sum([await self.run(checklist_id) for checklist_id in due])

    async def run(self, checklist_id: int) -> bool:
        """Do the checklist's GitHub work now, if nobody else holds it; True when some was
        done. Work that comes up meanwhile (a tick in chat) is done in the same call."""
        worked = False
        for _ in range(ROUNDS):
            if not await self._attempt(checklist_id):
                break
            worked = True
        return worked

    async def _attempt(self, checklist_id: int) -> bool:
        if self.ctx.github is None:
            return False
        work = await self.ctx.db.run(lambda session: issue_work.claim(
            session, checklist_id, now=self.ctx.clock.now(), hold=HOLD))
        if work is None:
            return False
        try:
            if work.opening:
                await self._open(work)
            else:
                await self._update(work)
        except PlatformError as error:
            await self._failed(work, error)
            return False
        await self.ctx.db.run(lambda session: issue_work.finish(
            session, checklist_id, now=self.ctx.clock.now()))
        return True

    async def _open(self, work: issue_work.IssueWork) -> None:
        github = self.ctx.github
        assert github is not None
        unassigned: tuple[str, ...] = ()
        issue = await self._find_lost(work)
        adopted = issue is not None
        if issue is None:
            try:
                issue = await github.create_issue(work.repo, work.title, work.body,
                                                  assignees=work.assignees)
            except PlatformError as error:
                if error.status != 422 or not work.assignees:
                    raise
                # Someone without access to the repository cannot be assigned.
                issue = await github.create_issue(work.repo, work.title, work.body)
                unassigned = work.assignees
        now = self.ctx.clock.now()
        def transact(session: Session) -> None:
            checklist = issue_work.record_opened(session, work.checklist_id, issue=issue.number,
                                                 url=issue.url, adopted=adopted, now=now)
            issue_work.record_synced(session, work.checklist_id, work.ticks)
            if checklist is not None:
                items = items_of(session, work.checklist_id)
                self.ctx.outbox.post(session, self.ctx.destinations.for_project(checklist.repo),
                                     render.started(checklist, items, unassigned=unassigned),
                                     key=f"onboarding:{checklist.project}:started")
        await self.ctx.db.run(transact)

    async def _find_lost(self, work: issue_work.IssueWork) -> GitHubIssue | None:
        """The checklist's issue, if an earlier attempt opened it but never heard back."""
        github = self.ctx.github
        assert github is not None
        for issue in await github.list_issues(work.repo, creator=self.ctx.bot_login):
            if MARKER in issue.body:
                log.info("found the onboarding issue #%s of %s opened before", issue.number,
                         work.repo)
                return issue
        return None

    async def _update(self, work: issue_work.IssueWork) -> None:
        github = self.ctx.github
        assert github is not None
        assert work.issue is not None
        if work.ticks:
            current = await github.get_issue(work.repo, work.issue)
            body = set_ticks(current.body, work.ticks)
            if body != current.body:
                await github.edit_issue(work.repo, work.issue, body=body)
            await self.ctx.db.run(lambda session: issue_work.record_synced(
                session, work.checklist_id, work.ticks))
        for link in work.links:
            await github.comment_issue(work.repo, work.issue, render.escalation_comment(link))
            await self.ctx.db.run(lambda session: issue_work.record_linked(session, link.item_id))
        if work.close:
            await github.edit_issue(work.repo, work.issue, state="closed")
            await github.comment_issue(work.repo, work.issue, render.CLOSING_COMMENT)
            await self.ctx.db.run(lambda session: issue_work.record_closed(
                session, work.checklist_id))

    async def _failed(self, work: issue_work.IssueWork, error: PlatformError) -> None:
        now = self.ctx.clock.now()
        give_up = error.permanent or work.attempt >= GIVE_UP_AFTER
        pause = (timedelta(seconds=error.retry_after) if error.retry_after is not None
                 else min(timedelta(seconds=5 * 2 ** work.attempt), MAX_BACKOFF))

        def record(session: Session) -> None:
            checklist = issue_work.failed(session, work.checklist_id, error=str(error),
                                          retry_at=None if give_up else now + pause, now=now)
            if checklist is not None:
                self.ctx.outbox.post(session, "admins", render.github_failed(
                    checklist, str(error), opening=work.opening),
                    key=f"onboarding:{work.project}:github-failed:{now.isoformat()}")

        await self.ctx.db.run(record)
        log.warning("onboarding issue of %s: %s (%s)", work.repo, error,
                    "gave up" if give_up else f"retrying in {pause}")
