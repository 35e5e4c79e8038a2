"""The GitHub mirror's to-do list: each task written down in the transaction of the change
it mirrors, then done by a worker that claims it, and marked done once GitHub said yes.

Opening the issue is guarded twice: a ticket has one `open` task (its key is fixed), and
the issue number is stored on the ticket with the task's completion. If Roadie stopped
while GitHub was answering an `open`, nobody can tell whether the issue exists, so that
task is not tried again blindly: it is marked `uncertain` and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from governance.db import insert_ignoring_conflicts
from governance.escalations.models import MirrorTask, Ticket, TicketEvent

PENDING, CLAIMED, DONE, FAILED, UNCERTAIN = "pending", "claimed", "done", "failed", "uncertain"
OPEN_ISSUE, COMMENT, CLOSE, REOPEN = "open", "comment", "close", "reopen"
HOLD = timedelta(minutes=2)


def queue(session: Session, *, ticket: int, action: str, key: str, body: str,
          now: datetime) -> bool:
    """Add a task unless one with this key exists; True when added."""
    return bool(insert_ignoring_conflicts(session, MirrorTask, [{
        "ticket": ticket, "key": key, "action": action, "body": body, "status": PENDING,
        "attempts": 0, "not_before": now, "created_at": now, "last_error": ""}], ("key",)))


def due(session: Session, now: datetime, limit: int = 50) -> list[MirrorTask]:
    """Tasks to work on, oldest first: pending and due, or claimed by a worker that vanished."""
    return list(session.exec(
        select(MirrorTask).where(or_(
            (col(MirrorTask.status) == PENDING) & (col(MirrorTask.not_before) <= now),
            (col(MirrorTask.status) == CLAIMED) & (col(MirrorTask.claimed_until) < now)))
        .order_by(col(MirrorTask.id)).limit(limit)
    ).all())


@dataclass(frozen=True)
class Claimed:
    """A task to carry out on the ticket's `issue` (None for an `open`). `uncertain`: the
    task was an abandoned `open`, now settled as such, only to be reported."""

    task: MirrorTask
    ticket: Ticket
    issue: int | None
    uncertain: bool = False


def claim(session: Session, task_id: int, now: datetime) -> Claimed | None:
    """Take a task for one attempt; None when it is not to be done now (someone else has it,
    it waits for the ticket's issue to be opened, or it turned out settled)."""
    task = session.exec(select(MirrorTask).where(MirrorTask.id == task_id).with_for_update()
                        ).first()
    if task is None or task.status not in (PENDING, CLAIMED):
        return None
    abandoned = task.status == CLAIMED
    if abandoned and (task.claimed_until is None or task.claimed_until >= now):
        return None
    if not abandoned and task.not_before > now:
        return None
    ticket = session.get(Ticket, task.ticket)
    if ticket is None:
        return None
    if task.action == OPEN_ISSUE:
        if ticket.github_issue is not None:
            task.status, task.done_at = DONE, now
            return None
        if abandoned:
            task.status = UNCERTAIN
            task.last_error = "Roadie stopped while GitHub was opening the issue"
            return Claimed(task, ticket, None, uncertain=True)
    elif ticket.github_issue is None:
        opening = session.exec(select(MirrorTask.status).where(
            MirrorTask.ticket == task.ticket, MirrorTask.action == OPEN_ISSUE)).first()
        if opening in (PENDING, CLAIMED):
            return None
        task.status, task.last_error = FAILED, "the ticket has no GitHub issue"
        return None
    task.status, task.claimed_until = CLAIMED, now + HOLD
    task.attempts += 1
    return Claimed(task, ticket, ticket.github_issue)


def finish(session: Session, task_id: int, *, now: datetime, issue: int | None = None,
           issue_url: str = "") -> None:
    """Mark a task done; for an `open`, remember the issue on the ticket and in its history."""
    task = session.get(MirrorTask, task_id)
    if task is None:
        return
    task.status, task.done_at, task.claimed_until = DONE, now, None
    if issue is not None:
        session.execute(update(Ticket).where(col(Ticket.number) == task.ticket)
                        .values(github_issue=issue))
        session.add(TicketEvent(ticket=task.ticket, at=now, actor="roadie", kind="mirrored",
                                text=f"mirrored to GitHub issue #{issue} {issue_url}".strip()))


def retry(session: Session, task_id: int, *, error: str, not_before: datetime) -> None:
    task = session.get(MirrorTask, task_id)
    if task is not None:
        task.status, task.claimed_until, task.not_before = PENDING, None, not_before
        task.last_error = error[:2000]


def fail(session: Session, task_id: int, *, error: str) -> None:
    task = session.get(MirrorTask, task_id)
    if task is not None:
        task.status, task.claimed_until, task.last_error = FAILED, None, error[:2000]
