"""What is to be done on a checklist's GitHub issue, claimed by one worker at a time.

The work is derived from the checklist's state, never queued as commands: open the issue
(state `opening`), set the boxes of items ticked in chat (`sync_pending`), name each
escalation in a comment (`escalation_linked`), close the issue once every item is done
(`close_pending`). `github_due_at` says when to look. A claim holds the checklist for a
while; a worker that dies lets the claim run out, and the next one picks the work up
(an issue being opened is looked for on GitHub before another one is opened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.onboarding.models import OPEN, OPENING, Checklist, ChecklistItem
from governance.onboarding.service import items_of, target
from governance.onboarding.tasklist import set_ticks


@dataclass(frozen=True)
class Link:
    item_id: int
    key: str
    text: str
    escalation: int
    kind: str


@dataclass(frozen=True)
class IssueWork:
    checklist_id: int
    project: str
    repo: str
    attempt: int
    opening: bool
    title: str
    body: str
    assignees: tuple[str, ...]
    issue: int | None
    ticks: dict[str, bool]
    links: tuple[Link, ...]
    close: bool


def due(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Checklists with GitHub work due (indexed on `github_due_at`)."""
    return [i for i in session.exec(
        select(Checklist.id).where(col(Checklist.github_due_at) <= now)
        .order_by(col(Checklist.github_due_at)).limit(limit)
    ).all() if i is not None]


def claim(session: Session, checklist_id: int, *, now: datetime,
          hold: timedelta) -> IssueWork | None:
    """Take the checklist's GitHub work for one attempt; None when there is none to take now.

    The claim moves `github_due_at` to its end, so that the work comes due again by itself
    if this worker never reports back.
    """
    checklist = session.exec(select(Checklist).where(Checklist.id == checklist_id)
                             .with_for_update()).first()
    if checklist is None or checklist.github_due_at is None or checklist.github_due_at > now:
        return None
    if checklist.github_claimed_until is not None and checklist.github_claimed_until > now:
        return None
    items = items_of(session, checklist_id)
    opening = checklist.state == OPENING
    # A new issue shows every item as it stands (some may have been ticked in chat already).
    ticks = {i.key: i.done for i in items if i.sync_pending or opening}
    links = tuple(Link(i.id, i.key, i.text, i.escalation, i.escalation_kind) for i in items
                  if i.escalation is not None and not i.escalation_linked and i.id is not None)
    if not opening and (checklist.issue_number is None
                        or not (ticks or links or checklist.close_pending)):
        checklist.github_due_at = None
        return None
    checklist.github_attempts += 1
    checklist.github_claimed_until = checklist.github_due_at = now + hold
    return IssueWork(
        checklist_id=checklist_id, project=checklist.project, repo=checklist.repo,
        attempt=checklist.github_attempts, opening=opening, title=checklist.issue_title,
        body=set_ticks(checklist.issue_body, ticks) if opening else checklist.issue_body,
        assignees=tuple(a for a in checklist.assignees.split(",") if a),
        issue=checklist.issue_number, ticks=ticks, links=links, close=checklist.close_pending)


def record_opened(session: Session, checklist_id: int, *, issue: int, url: str, adopted: bool,
                  now: datetime) -> Checklist | None:
    """The issue exists (opened now, or found after a lost answer): remember it."""
    checklist = session.exec(select(Checklist).where(Checklist.id == checklist_id)
                             .with_for_update()).first()
    if checklist is None or checklist.state != OPENING:
        return None
    checklist.state, checklist.issue_number, checklist.issue_url = OPEN, issue, url
    record(session, actor=Actor.system(), action="onboarding.issue",
           target=target(checklist.project), at=now,
           reason="found the issue opened before" if adopted else "",
           data={"issue": issue, "url": url})
    return checklist


def record_synced(session: Session, checklist_id: int, ticks: dict[str, bool]) -> None:
    """The issue shows these boxes now; items changed again since stay pending."""
    for key, done in ticks.items():
        session.execute(
            update(ChecklistItem)
            .where(col(ChecklistItem.checklist_id) == checklist_id, col(ChecklistItem.key) == key,
                   (col(ChecklistItem.done_at).is_not(None)) if done
                   else col(ChecklistItem.done_at).is_(None))
            .values(sync_pending=False))


def record_linked(session: Session, item_id: int) -> None:
    session.execute(update(ChecklistItem).where(col(ChecklistItem.id) == item_id)
                    .values(escalation_linked=True))


def record_closed(session: Session, checklist_id: int) -> None:
    session.execute(update(Checklist).where(col(Checklist.id) == checklist_id)
                    .values(close_pending=False))


def finish(session: Session, checklist_id: int, *, now: datetime) -> None:
    """The attempt went through: release the claim; due again at once if more work came."""
    checklist = session.exec(select(Checklist).where(Checklist.id == checklist_id)
                             .with_for_update()).first()
    if checklist is None:
        return
    checklist.github_claimed_until, checklist.github_attempts = None, 0
    checklist.github_error = ""
    items = items_of(session, checklist_id)
    more = checklist.state == OPEN and checklist.issue_number is not None and (
        checklist.close_pending
        or any(i.sync_pending or (i.escalation is not None and not i.escalation_linked)
               for i in items))
    checklist.github_due_at = now if more else None


def failed(session: Session, checklist_id: int, *, error: str, retry_at: datetime | None,
           now: datetime) -> Checklist | None:
    """The attempt failed: try again at `retry_at`, or (None) give up and return the
    checklist so that the caller reports it."""
    checklist = session.exec(select(Checklist).where(Checklist.id == checklist_id)
                             .with_for_update()).first()
    if checklist is None:
        return None
    checklist.github_claimed_until, checklist.github_error = None, error[:2000]
    checklist.github_due_at = retry_at
    if retry_at is not None:
        return None
    if checklist.state == OPENING:
        checklist.state = OPEN  # tracked in Roadie alone from now on
    checklist.github_attempts = 0
    record(session, actor=Actor.system(), action="onboarding.github_failed",
           target=target(checklist.project), at=now, reason=error,
           data={"state": checklist.state, "issue": checklist.issue_number})
    return checklist

