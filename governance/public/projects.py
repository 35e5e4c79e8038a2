"""The projects page: leads, onboarding progress (done, left, who can do the next item), and
where each project's feed goes (from the config, handed in by the caller)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlmodel import Session, col

from governance.onboarding.models import ACTIVE_STATES, Checklist, ChecklistItem
from governance.people.models import Person, RoleGrant
from governance.projects.models import Project
from governance.public.scope import Scope, iso

LIMIT = 500


def _lead_of(project_name: Any, display_name: Any) -> Any:
    return exists().where(RoleGrant.role == "lead", col(RoleGrant.revoked_at).is_(None),
                          or_(RoleGrant.project == project_name,
                              RoleGrant.project == display_name))


def without_lead(session: Session, scope: Scope, limit: int = 50) -> list[str]:
    """Active projects that nobody leads."""
    rows = session.execute(
        select(Project.display_name).where(
            col(Project.archived).is_(False), scope.shown(col(Project.name)),
            ~_lead_of(col(Project.name), col(Project.display_name)))
        .order_by(col(Project.name)).limit(limit)).scalars().all()
    return list(rows)


def stuck(session: Session, scope: Scope, stuck_after: timedelta,
          limit: int = 20) -> list[dict[str, Any]]:
    """Open checklists without progress for `stuck_after`, longest stuck first: how many
    items are done and left, and the next item with who can do it."""
    rows = session.execute(
        select(Checklist.id, Checklist.project, Checklist.last_progress_at,
               Checklist.issue_url).where(
            col(Checklist.state).in_(ACTIVE_STATES),
            col(Checklist.last_progress_at) <= scope.now - stuck_after,
            scope.shown(col(Checklist.project)))
        .order_by(col(Checklist.last_progress_at)).limit(limit)).all()
    ids = [r.id for r in rows]
    progress, next_items = _progress(session, ids), _next_items(session, ids)
    found = []
    for r in rows:
        done, total = progress.get(r.id, (0, 0))
        found.append({"project": r.project, "last_progress_at": iso(r.last_progress_at),
                      "issue_url": r.issue_url or None, "done": done, "left": total - done,
                      "next": next_items.get(r.id)})
    return found


def _progress(session: Session, ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """(items done, items) per checklist: of these checklists, or of all."""
    query = select(ChecklistItem.checklist_id,
                   func.sum(case((col(ChecklistItem.done_at).is_not(None), 1), else_=0)),
                   func.count()).group_by(ChecklistItem.checklist_id)
    if ids is not None:
        query = query.where(col(ChecklistItem.checklist_id).in_(ids))
    return {checklist_id: (int(done or 0), total)
            for checklist_id, done, total in session.execute(query)}


def _next_items(session: Session, ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    """The first item not done, and who can do it, per checklist: of these, or of all."""
    query = (select(ChecklistItem.checklist_id, ChecklistItem.text, ChecklistItem.who)
             .where(col(ChecklistItem.done_at).is_(None))
             .order_by(col(ChecklistItem.checklist_id), col(ChecklistItem.position)))
    if ids is not None:
        query = query.where(col(ChecklistItem.checklist_id).in_(ids))
    found: dict[int, dict[str, Any]] = {}
    for item in session.execute(query):
        found.setdefault(item.checklist_id, {"item": item.text, "who": item.who})
    return found


def projects_page(session: Session, scope: Scope,
                  feeds_of: Callable[[str], list[str]]) -> dict[str, Any]:
    projects = session.scalars(
        select(Project).where(scope.shown(col(Project.name)))
        .order_by(col(Project.archived), col(Project.name)).limit(LIMIT)).all()
    leads: dict[str, list[str]] = defaultdict(list)
    for project, login in session.execute(
            select(RoleGrant.project, Person.display_login)
            .join(Person, col(Person.id) == col(RoleGrant.person_id))
            .where(RoleGrant.role == "lead", col(RoleGrant.revoked_at).is_(None))
            .order_by(col(Person.login))):
        leads[project.lower()].append(login)
    checklists = {c.project.lower(): c for c in session.execute(
        select(Checklist.id, Checklist.project, Checklist.state, Checklist.started_at,
               Checklist.last_progress_at, Checklist.completed_at, Checklist.issue_url))}
    progress, next_items = _progress(session), _next_items(session)
    shown = []
    for project in projects:
        checklist = checklists.get(project.name)
        onboarding = None
        if checklist is not None and checklist.id is not None:
            done, total = progress.get(checklist.id, (0, 0))
            onboarding = {"state": checklist.state, "done": done, "left": total - done,
                          "next": next_items.get(checklist.id),
                          "started_at": iso(checklist.started_at),
                          "last_progress_at": iso(checklist.last_progress_at),
                          "completed_at": iso(checklist.completed_at),
                          "issue_url": checklist.issue_url or None}
        shown.append({"name": project.display_name, "archived": project.archived,
                      "leads": leads.get(project.name, []), "onboarding": onboarding,
                      "feeds": feeds_of(project.name)})
    return {"projects": shown, "count": len(shown)}
