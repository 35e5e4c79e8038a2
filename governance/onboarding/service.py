"""Onboarding checklists: opening, ticking, completing, and what is due.

Each function is one state change in the caller's transaction, with an audit entry. The
checklist row is locked before it is changed, so that replicas, the sweep and webhook
handlers never race on it. A refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.db import insert_ignoring_conflicts
from governance.errors import Conflict, Forbidden, NotFound
from governance.onboarding.models import (
    ACTIVE_STATES,
    ADMIN,
    COMPLETED,
    LEAD,
    OPEN,
    OPENING,
    Checklist,
    ChecklistItem,
)
from governance.onboarding.tasklist import ItemSpec
from governance.people.roles import Role
from governance.people.service import Profile
from governance.projects.service import project_key


def target(project: str) -> str:
    return f"onboarding:{project_key(project)}"


# --- reading ------------------------------------------------------------------------------


def find_checklist(session: Session, project: str, *, lock: bool = False) -> Checklist | None:
    query = select(Checklist).where(Checklist.project == project_key(project))
    return session.exec(query.with_for_update() if lock else query).first()


def require_checklist(session: Session, project: str, *, lock: bool = False) -> Checklist:
    checklist = find_checklist(session, project, lock=lock)
    if checklist is None:
        names = [c.repo for c in active_checklists(session)]
        listing = ", ".join(names) if names else "none"
        raise NotFound(f"There is no onboarding checklist for {project!r}.",
                       f"Open checklists: {listing}. `/onboarding` lists them.")
    return checklist


def checklist_with_items(session: Session, project: str) -> tuple[Checklist, list[ChecklistItem]]:
    """A project's checklist and its items; NotFound (naming the open ones) if it has none."""
    checklist = require_checklist(session, project)
    assert checklist.id is not None
    return checklist, items_of(session, checklist.id)


def active_checklists(session: Session) -> list[Checklist]:
    return list(session.exec(
        select(Checklist).where(col(Checklist.state).in_(ACTIVE_STATES))
        .order_by(col(Checklist.started_at), col(Checklist.project))
    ).all())


def items_of(session: Session, checklist_id: int, *, lock: bool = False) -> list[ChecklistItem]:
    query = (select(ChecklistItem).where(ChecklistItem.checklist_id == checklist_id)
             .order_by(col(ChecklistItem.position)))
    return list(session.exec(query.with_for_update() if lock else query).all())


def items_by_checklist(session: Session,
                       checklists: Sequence[Checklist]) -> dict[int, list[ChecklistItem]]:
    """The items of several checklists in one query, by checklist id, in order."""
    ids = [c.id for c in checklists if c.id is not None]
    found: dict[int, list[ChecklistItem]] = {i: [] for i in ids}
    if ids:
        for item in session.exec(select(ChecklistItem)
                                 .where(col(ChecklistItem.checklist_id).in_(ids))
                                 .order_by(col(ChecklistItem.position))).all():
            found[item.checklist_id].append(item)
    return found


def stuck_checklists(session: Session, now: datetime, stuck_after: timedelta) -> list[Checklist]:
    """Open checklists without progress for `stuck_after`, longest stuck first (one whose
    GitHub issue has not opened yet counts: it is stuck all the more)."""
    return list(session.exec(
        select(Checklist).where(col(Checklist.state).in_(ACTIVE_STATES),
                                col(Checklist.last_progress_at) <= now - stuck_after)
        .order_by(col(Checklist.last_progress_at), col(Checklist.project))
    ).all())


def find_item(items: Sequence[ChecklistItem], name: str, project: str) -> ChecklistItem:
    """The item called `name` (its key, or its number in the list), or a refusal listing them."""
    wanted = name.strip().strip("`").lower()
    for index, item in enumerate(items, start=1):
        if wanted in (item.key, str(index)):
            return item
    raise NotFound(f"{project} has no onboarding item {name!r}.",
                   "Its items: " + ", ".join(i.key for i in items) + ".")


# --- opening ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """What a new checklist is made of, already filled in for its project."""

    title: str
    body: str
    items: Sequence[ItemSpec]
    escalation_kinds: Mapping[str, str] = field(default_factory=dict)
    assignees: Sequence[str] = ()


@dataclass(frozen=True)
class Timing:
    admin_wait: timedelta
    checkin_after: timedelta


def start_checklist(session: Session, *, project: str, repo: str, sender: str,
                    template: Template, timing: Timing, now: datetime,
                    with_github: bool) -> Checklist | None:
    """Record a new checklist and its items, before anything is done on GitHub.

    None when the project has one already (a delivery processed twice, or a second event
    for the same repository). Without GitHub the checklist is kept in Roadie alone; an open
    checklist without an issue (GitHub refused it, or there was no GitHub) gets one now.
    """
    existing = find_checklist(session, project, lock=True)
    if existing is not None:
        if existing.state != OPEN or existing.issue_number is not None or not with_github:
            return None
        existing.state, existing.github_due_at = OPENING, now
        existing.github_attempts, existing.github_error = 0, ""
        record(session, actor=Actor.github(sender) if sender else Actor.system(),
               action="onboarding.retry", target=target(project), at=now,
               reason="the repository event came again")
        return existing
    inserted = insert_ignoring_conflicts(session, Checklist, [{
        "project": project_key(project), "repo": repo, "state": OPENING if with_github else OPEN,
        "opened_by": sender, "started_at": now, "last_progress_at": now,
        "issue_title": template.title, "issue_body": template.body,
        "assignees": ",".join(template.assignees), "close_pending": False,
        "github_due_at": now if with_github else None, "github_attempts": 0,
        "github_error": "", "checkin_due_at": now + timing.checkin_after,
        "completed_by": "", "issue_url": ""}], ("project",))
    if not inserted:
        return None  # another replica recorded it a moment ago
    checklist = find_checklist(session, project, lock=True)
    assert checklist is not None
    assert checklist.id is not None
    items = [ChecklistItem(checklist_id=checklist.id, key=spec.key, position=index,
                           text=spec.text, who=spec.who,
                           escalation_kind=template.escalation_kinds.get(spec.key, "other")
                           if spec.who == ADMIN else "",
                           escalate_at=now + timing.admin_wait if spec.who == ADMIN else None)
             for index, spec in enumerate(template.items, start=1)]
    session.add_all(items)
    _arm_when_only_admin_left(items, now)
    session.flush()
    record(session, actor=Actor.github(sender) if sender else Actor.system(),
           action="onboarding.open", target=target(project), at=now,
           data={"repo": repo, "items": [i.key for i in items], "github": with_github,
                 "assignees": list(template.assignees)})
    return checklist


def _arm_when_only_admin_left(items: Sequence[ChecklistItem], now: datetime) -> list[str]:
    """When only admin items are open, they are due for escalation now; their keys."""
    remaining = [i for i in items if not i.done]
    if not remaining or any(i.who != ADMIN for i in remaining):
        return []
    armed = []
    for item in remaining:
        if item.escalation is None and not item.escalation_error:
            if item.escalate_at is None or item.escalate_at > now:
                item.escalate_at = now
            armed.append(item.key)
    return armed


# --- ticking ------------------------------------------------------------------------------


@dataclass
class Ticked:
    checklist: Checklist
    ticked: list[str] = field(default_factory=list)
    unticked: list[str] = field(default_factory=list)
    completed: bool = False
    escalate_now: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.ticked or self.unticked)


def may_tick(profile: Profile, item: ChecklistItem, project: str) -> bool:
    """Whether someone may tick an item from chat: by who can do it."""
    if item.who == ADMIN:
        return profile.at_least(Role.ADMIN)
    if item.who == LEAD:
        return profile.is_lead_of(project) or profile.at_least(Role.ADMIN)
    return profile.at_least(Role.MEMBER)


def tick_from_chat(session: Session, *, project: str, item_name: str, done: bool,
                   profile: Profile, now: datetime, admin_wait: timedelta) -> Ticked:
    """Tick (or untick) one item as a chat user; GitHub is brought in line afterwards."""
    checklist = require_checklist(session, project, lock=True)
    if checklist.state not in (OPEN, OPENING):
        raise Conflict(f"The onboarding of {checklist.repo} is {checklist.state}; there is "
                       "nothing to tick.", f"`/onboarding {checklist.repo}` shows it.")
    assert checklist.id is not None
    items = items_of(session, checklist.id, lock=True)
    item = find_item(items, item_name, checklist.repo)
    if not may_tick(profile, item, checklist.project):
        raise Forbidden(f"`{item.key}` is for {_who_noun(item.who)}; Roadie knows you as "
                        f"{profile.login or 'an unlinked account'}.",
                        "If it is done, ask one of them to tick it"
                        + (", or tick it on the issue." if checklist.issue_number is not None
                           else "."))
    if item.done == done:
        state = (f"ticked by {item.done_by} on {item.done_at:%Y-%m-%d}" if item.done
                 else "not ticked")
        raise Conflict(f"`{item.key}` is already {state}.",
                       f"`/onboarding {checklist.repo}` shows every item.")
    login = profile.login or ""
    return _apply(session, checklist, items, {item.key: done}, by=login,
                  actor=profile.actor(), via="chat", now=now, admin_wait=admin_wait)


def tick_from_issue(session: Session, *, project: str, issue: int, ticks: Mapping[str, bool],
                    sender: str, now: datetime, admin_wait: timedelta) -> Ticked | None:
    """Bring the items in line with the issue's task list after an edit on GitHub.

    None when the issue is not this project's checklist. Keys not in the list are left alone.
    """
    checklist = find_checklist(session, project, lock=True)
    if checklist is None or checklist.issue_number != issue or checklist.state != OPEN:
        return None
    assert checklist.id is not None
    items = items_of(session, checklist.id, lock=True)
    return _apply(session, checklist, items, ticks, by=sender, actor=Actor.github(sender),
                  via="github", now=now, admin_wait=admin_wait)


def tick_from_escalation(session: Session, *, escalation: int, by: str, now: datetime,
                         admin_wait: timedelta) -> tuple[Ticked, ChecklistItem] | None:
    """The escalation of an admin item was resolved: the item is done. None when no open
    item has that escalation (it was ticked first, or its checklist is complete)."""
    checklist_id = session.exec(select(ChecklistItem.checklist_id)
                                .where(ChecklistItem.escalation == escalation)).first()
    if checklist_id is None:
        return None
    checklist = session.exec(select(Checklist).where(Checklist.id == checklist_id)
                             .with_for_update()).first()
    if checklist is None or checklist.state not in ACTIVE_STATES:
        return None
    items = items_of(session, checklist_id, lock=True)
    item = next(i for i in items if i.escalation == escalation)
    if item.done:
        return None
    ticked = _apply(session, checklist, items, {item.key: True}, by=by,
                    actor=Actor.github(by), via="escalation", now=now, admin_wait=admin_wait)
    return ticked, item


def item_of_escalation(session: Session, escalation: int) -> ChecklistItem | None:
    return session.exec(select(ChecklistItem)
                        .where(ChecklistItem.escalation == escalation)).first()


def tick_done_elsewhere(session: Session, *, project: str, key: str, by: str, via: str,
                        now: datetime, admin_wait: timedelta
                        ) -> tuple[Ticked, ChecklistItem] | None:
    """Tick the item `key` of the project's active checklist because what it asks for was
    done through Roadie (`/grant` appointed a lead). None when there is no such open item."""
    checklist = find_checklist(session, project, lock=True)
    if checklist is None or checklist.id is None or checklist.state not in ACTIVE_STATES:
        return None
    items = items_of(session, checklist.id, lock=True)
    item = next((i for i in items if i.key == key), None)
    if item is None or item.done:
        return None
    ticked = _apply(session, checklist, items, {key: True}, by=by, actor=Actor.github(by),
                    via=via, now=now, admin_wait=admin_wait)
    return ticked, item


def _who_noun(who: str) -> str:
    return {ADMIN: "an org admin", LEAD: "a lead of the project"}.get(who, "members")


def _apply(session: Session, checklist: Checklist, items: Sequence[ChecklistItem],
           ticks: Mapping[str, bool], *, by: str, actor: Actor, via: str, now: datetime,
           admin_wait: timedelta) -> Ticked:
    outcome = Ticked(checklist)
    for item in items:
        wanted = ticks.get(item.key)
        if wanted is None or wanted == item.done:
            continue
        if via == "github" and item.sync_pending:
            continue  # changed in chat since; the issue is about to show that, not this
        if wanted:
            item.done_at, item.done_by, item.done_via, item.escalate_at = now, by, via, None
            outcome.ticked.append(item.key)
        else:
            item.done_at, item.done_by, item.done_via = None, "", ""
            if item.who == ADMIN and item.escalation is None and not item.escalation_error:
                item.escalate_at = now + admin_wait
            outcome.unticked.append(item.key)
        item.sync_pending = via != "github"
    if not outcome.changed:
        return outcome
    if outcome.ticked:
        checklist.last_progress_at = now
    if all(i.done for i in items):
        _complete(checklist, items, by=by, now=now)
        checklist.close_pending = checklist.issue_number is not None
        outcome.completed = True
    else:
        outcome.escalate_now = _arm_when_only_admin_left(items, now)
    if via != "github" or checklist.close_pending:
        _github_due(checklist, now)
    record(session, actor=actor, action="onboarding.tick", target=target(checklist.project),
           at=now, data={"ticked": outcome.ticked, "unticked": outcome.unticked, "via": via,
                         "completed": outcome.completed})
    return outcome


def _complete(checklist: Checklist, items: Sequence[ChecklistItem], *, by: str,
              now: datetime) -> None:
    checklist.state, checklist.completed_at, checklist.completed_by = COMPLETED, now, by
    for item in items:
        item.escalate_at = None


def _github_due(checklist: Checklist, now: datetime) -> None:
    if checklist.issue_number is not None and (checklist.github_due_at is None
                                               or checklist.github_due_at > now):
        checklist.github_due_at = now


def close_from_issue(session: Session, *, project: str, issue: int, sender: str,
                     now: datetime) -> Checklist | None:
    """The checklist's issue was closed: the checklist is complete, whatever is left."""
    checklist = find_checklist(session, project, lock=True)
    if checklist is None or checklist.issue_number != issue or checklist.state != OPEN:
        return None
    assert checklist.id is not None
    items = items_of(session, checklist.id, lock=True)
    _complete(checklist, items, by=sender, now=now)
    checklist.close_pending = False
    record(session, actor=Actor.github(sender), action="onboarding.complete",
           target=target(project), at=now, reason="the issue was closed",
           data={"open_items": [i.key for i in items if not i.done]})
    return checklist


def reopen_from_issue(session: Session, *, project: str, issue: int, sender: str,
                      now: datetime, admin_wait: timedelta) -> Checklist | None:
    """The checklist's issue was reopened: the checklist is tracked again."""
    checklist = find_checklist(session, project, lock=True)
    if checklist is None or checklist.issue_number != issue or checklist.state != COMPLETED:
        return None
    assert checklist.id is not None
    items = items_of(session, checklist.id, lock=True)
    checklist.state, checklist.completed_at, checklist.completed_by = OPEN, None, ""
    checklist.close_pending, checklist.last_progress_at = False, now
    for item in items:
        if item.who == ADMIN and not item.done and item.escalation is None:
            item.escalate_at = now + admin_wait
    _arm_when_only_admin_left(items, now)
    record(session, actor=Actor.github(sender), action="onboarding.reopen",
           target=target(project), at=now, reason="the issue was reopened")
    return checklist


def rename(session: Session, *, old: str, new: str, actor: Actor, now: datetime) -> bool:
    checklist = find_checklist(session, old, lock=True)
    if checklist is None or find_checklist(session, new) is not None:
        return False
    checklist.project, checklist.repo = project_key(new), new
    record(session, actor=actor, action="onboarding.rename", target=target(new), at=now,
           data={"from": old})
    return True


# --- admin items: escalation ----------------------------------------------------------------


def due_escalations(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Ids of admin items due for escalation (indexed on `escalate_at`)."""
    return [i for i in session.exec(
        select(ChecklistItem.id).where(col(ChecklistItem.escalate_at) <= now)
        .order_by(col(ChecklistItem.escalate_at), col(ChecklistItem.id)).limit(limit)
    ).all() if i is not None]


def take_due_escalation(session: Session, item_id: int,
                        now: datetime) -> tuple[Checklist, ChecklistItem] | None:
    """Lock an item that is due for escalation, and its checklist (that one first, as every
    change does); None when it is not due (any more)."""
    checklist_id = session.exec(select(ChecklistItem.checklist_id)
                                .where(ChecklistItem.id == item_id)).first()
    if checklist_id is None:
        return None
    checklist = session.exec(select(Checklist).where(Checklist.id == checklist_id)
                             .with_for_update()).first()
    item = session.exec(select(ChecklistItem).where(ChecklistItem.id == item_id)
                        .with_for_update()).first()
    if checklist is None or item is None or item.escalate_at is None or item.escalate_at > now:
        return None
    if checklist.state not in ACTIVE_STATES or item.done or item.escalation is not None:
        item.escalate_at = None
        return None
    return checklist, item


def record_escalation(session: Session, checklist: Checklist, item: ChecklistItem, *,
                      ticket: int, reason: str, now: datetime) -> None:
    item.escalation, item.escalate_at, item.escalation_linked = ticket, None, False
    _github_due(checklist, now)
    record(session, actor=Actor.system(), action="onboarding.escalate",
           target=target(checklist.project), at=now, reason=reason,
           data={"item": item.key, "escalation": ticket, "kind": item.escalation_kind})


def record_escalation_failure(session: Session, item_id: int, *, error: str,
                              now: datetime) -> tuple[Checklist, ChecklistItem] | None:
    """The escalation could not be opened (a kind or project it refuses): stop trying."""
    taken = take_due_escalation(session, item_id, now)
    if taken is None:
        return None
    checklist, item = taken
    item.escalate_at, item.escalation_error = None, error[:2000]
    record(session, actor=Actor.system(), action="onboarding.escalate_failed",
           target=target(checklist.project), at=now, reason=error,
           data={"item": item.key, "kind": item.escalation_kind})
    return taken


# --- the check-in -------------------------------------------------------------------------


def due_checkins(session: Session, now: datetime, limit: int = 200) -> list[int]:
    return [i for i in session.exec(
        select(Checklist.id).where(col(Checklist.checkin_due_at) <= now)
        .order_by(col(Checklist.checkin_due_at)).limit(limit)
    ).all() if i is not None]


def take_checkin(session: Session, checklist_id: int, now: datetime) -> Checklist | None:
    """Claim a due check-in, once: the caller queues it in the same transaction."""
    checklist = session.exec(select(Checklist).where(Checklist.id == checklist_id)
                             .with_for_update()).first()
    if checklist is None or checklist.checkin_due_at is None or checklist.checkin_due_at > now:
        return None
    checklist.checkin_due_at, checklist.checkin_sent_at = None, now
    record(session, actor=Actor.system(), action="onboarding.checkin",
           target=target(checklist.project), at=now)
    return checklist
