"""Finding and registering projects; unknown names are refused with the valid ones listed."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.errors import NotFound
from governance.projects.models import Project


def project_key(name: str) -> str:
    """How a project's name is stored and looked up: trimmed, lower-case."""
    return name.strip().lower()


def find_project(session: Session, name: str) -> Project | None:
    return session.exec(select(Project).where(Project.name == project_key(name))).first()


def project_names(session: Session, *, include_archived: bool = False) -> list[str]:
    query = select(Project.display_name)
    if not include_archived:
        query = query.where(col(Project.archived).is_(False))
    return list(session.exec(query.order_by(col(Project.name))).all())


def require_project(session: Session, name: str) -> Project:
    project = find_project(session, name)
    if project is None:
        known = project_names(session)
        listing = ", ".join(known[:40]) + (" …" if len(known) > 40 else "") if known else "none yet"
        raise NotFound(f"There is no project called {name!r}.", f"Known projects: {listing}.")
    return project


def register_project(session: Session, *, name: str, now: datetime, actor: Actor,
                     default_branch: str = "main", private: bool = False, source: str = "config",
                     reason: str = "") -> Project:
    """Add a project, or refresh what is known of it; audited when something changes."""
    name = name.strip()
    project = find_project(session, name)
    if project is None:
        project = Project(name=project_key(name), display_name=name,
                          default_branch=default_branch, private=private, added_at=now,
                          source=source)
        session.add(project)
        record(session, actor=actor, action="project.add", target=f"project:{project.name}",
               at=now, reason=reason, data={"default_branch": default_branch, "source": source})
    elif (project.default_branch, project.private, project.display_name) != (
        default_branch, private, name
    ):
        project.default_branch, project.private, project.display_name = (default_branch, private,
                                                                         name)
        record(session, actor=actor, action="project.update", target=f"project:{project.name}",
               at=now, reason=reason, data={"default_branch": default_branch, "private": private})
    session.flush()
    return project


def rename_project(session: Session, *, old: str, new: str, now: datetime, actor: Actor) -> Project:
    project = require_project(session, old)
    project.name, project.display_name = project_key(new), new.strip()
    record(session, actor=actor, action="project.rename", target=f"project:{project.name}", at=now,
           data={"from": old})
    return project


def set_archived(session: Session, *, name: str, archived: bool, now: datetime,
                 actor: Actor) -> Project:
    project = require_project(session, name)
    if project.archived != archived:
        project.archived = archived
        record(session, actor=actor, action="project.archive" if archived else "project.unarchive",
               target=f"project:{project.name}", at=now)
    return project
