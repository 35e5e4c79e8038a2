"""The optional GitHub mirror: each ticket an issue in `escalations.github_repo`.

Tasks are queued with the change they mirror (`governance.escalations.mirror`) and carried
out by a worker here, woken after each commit and polling for retries. A GitHub failure
loses nothing: the task is retried with a growing pause, and one that fails for good is
reported to the admins.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.messages import Message, shorten
from bot.core.outbox import AFTER_COMMIT
from bot.core.polling import Poller
from bot.core.ports import PlatformError
from cogs.escalation.render import when
from governance.escalations import mirror as tasks
from governance.escalations.models import Ticket, TicketEvent

log = logging.getLogger("roadie.escalation.mirror")
GIVE_UP_AFTER = 8
MAX_BACKOFF = timedelta(minutes=30)
EVENT_ACTIONS = {"acknowledged": tasks.COMMENT, "assigned": tasks.COMMENT,
                 "commented": tasks.COMMENT, "resolved": tasks.CLOSE, "declined": tasks.CLOSE,
                 "reopened": tasks.REOPEN}


def issue_title(ticket: Ticket) -> str:
    urgent = "[urgent] " if ticket.urgent else ""
    title = f"{urgent}#{ticket.number} {ticket.project}: {ticket.kind}: {ticket.summary}"
    return shorten(title, 120)


def issue_body(ticket: Ticket) -> str:
    assignee = f"@{ticket.assignee}" if ticket.assignee else "nobody yet"
    quoted = "\n".join(f"> {line}" for line in ticket.summary.splitlines())
    return (f"**Escalation #{ticket.number}**: {ticket.severity} `{ticket.kind}` for "
            f"**{ticket.project}**, reported by @{ticket.reporter}, assigned to {assignee}.\n"
            f"To be acknowledged by {when(ticket.ack_due_at)} and resolved by "
            f"{when(ticket.resolve_due_at)}.\n\n{quoted}\n\n"
            "Mirrored by Roadie. Closing this issue resolves the ticket; closing it as not "
            "planned declines it.")


class Mirror:
    def __init__(self, ctx: CogContext, repo: str, poll: timedelta) -> None:
        self.ctx = ctx
        self.repo = repo
        self._poller = Poller("escalation-mirror", self.process, poll=poll.total_seconds())

    @property
    def enabled(self) -> bool:
        return bool(self.repo) and self.ctx.github is not None

    # --- queueing, in the caller's transaction -------------------------------------------

    def opened(self, session: Session, ticket: Ticket, now: datetime) -> None:
        if self.enabled and ticket.number is not None:
            tasks.queue(session, ticket=ticket.number, action=tasks.OPEN_ISSUE,
                        key=f"escalation:{ticket.number}:open", body=issue_body(ticket), now=now)
            self._wake_after_commit(session)

    def event(self, session: Session, ticket: Ticket, event: TicketEvent, now: datetime) -> None:
        action = EVENT_ACTIONS.get(event.kind)
        if not self.enabled or action is None or ticket.number is None:
            return
        body = (f"@{event.actor} commented: {event.text}" if event.kind == "commented"
                else f"Escalation #{ticket.number} {event.text}")
        tasks.queue(session, ticket=ticket.number, action=action,
                    key=f"escalation:{ticket.number}:event:{event.id}", body=body, now=now)
        self._wake_after_commit(session)

    def _wake_after_commit(self, session: Session) -> None:
        session.info.setdefault(AFTER_COMMIT, []).append(self.wake)

    # --- the worker ----------------------------------------------------------------------

    def wake(self) -> None:
        self._poller.wake()

    def start(self) -> None:
        if self.enabled:
            self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()

    async def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every task that is due has been tried."""
        return await self._poller.drain(timeout)

    async def process(self) -> int:
        """Try every due task once, in order per ticket; return how many were tried."""
        if not self.enabled:
            return 0
        db, clock = self.ctx.db, self.ctx.clock
        due = await db.run(lambda session: tasks.due(session, clock.now()))
        held: set[int] = set()
        tried = 0
        for row in due:
            if row.ticket in held or row.id is None:
                continue
            def transact(session: Session) -> Any:
                claimed = tasks.claim(session, row.id, clock.now())
                if claimed is not None and claimed.uncertain:
                    self._report(session, claimed.task.ticket, row.id,
                                 "Roadie stopped while GitHub was opening its issue, so it may "
                                 "or may not exist; check the repository, and mirror by hand.")
                return claimed
            claimed = await db.run(transact)
            if claimed is None or claimed.uncertain:
                held.add(row.ticket)
                continue
            tried += 1
            if not await self._attempt(claimed):
                held.add(row.ticket)
        return tried

    async def _attempt(self, claimed: tasks.Claimed) -> bool:
        github, task = self.ctx.github, claimed.task
        assert github is not None
        assert task.id is not None
        try:
            if task.action == tasks.OPEN_ISSUE:
                labels = ("escalation", claimed.ticket.kind) + ("urgent",) * claimed.ticket.urgent
                issue = await github.create_issue(self.repo, issue_title(claimed.ticket),
                                                  task.body, labels=labels)
                await self.ctx.db.run(lambda session: tasks.finish(
                    session, task.id, now=self.ctx.clock.now(), issue=issue.number,
                    issue_url=issue.url))
                return True
            assert claimed.issue is not None
            if task.action == tasks.CLOSE:
                await github.edit_issue(self.repo, claimed.issue, state="closed")
            elif task.action == tasks.REOPEN:
                await github.edit_issue(self.repo, claimed.issue, state="open")
            await github.comment_issue(self.repo, claimed.issue, task.body)
        except PlatformError as error:
            await self._failed(claimed, error)
            return False
        await self.ctx.db.run(lambda session: tasks.finish(
            session, task.id, now=self.ctx.clock.now()))
        return True

    async def _failed(self, claimed: tasks.Claimed, error: PlatformError) -> None:
        task, now = claimed.task, self.ctx.clock.now()
        task_id = task.id
        assert task_id is not None
        if error.permanent or task.attempts >= GIVE_UP_AFTER:
            def give_up(session: Session) -> None:
                tasks.fail(session, task_id, error=str(error))
                self._report(session, task.ticket, task_id, f"GitHub said: {error}.")

            await self.ctx.db.run(give_up)
            return
        pause = (timedelta(seconds=error.retry_after) if error.retry_after is not None
                 else min(timedelta(seconds=5 * 2 ** task.attempts), MAX_BACKOFF))
        await self.ctx.db.run(lambda session: tasks.retry(
            session, task_id, error=str(error), not_before=now + pause))
        log.warning("mirroring escalation #%s (%s) failed: %s; retrying", task.ticket,
                    task.action, error)

    def _report(self, session: Session, ticket: int, task_id: int, detail: str) -> None:
        log.error("mirroring escalation #%s to %s failed: %s", ticket, self.repo, detail)
        self.ctx.outbox.post(session, "admins", Message(
            title=f"Escalation #{ticket} could not be mirrored to GitHub ({self.repo})",
            body=f"{detail}\nThe ticket itself is fine; only its GitHub issue is behind.",
            tone="danger"), key=f"escalation:{ticket}:mirror:{task_id}:failed")
