"""Projects: the org's repositories that Roadie looks after, kept current from GitHub."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.cog import Cog, DigestSection, completer, on_github
from bot.core.commands import Arg, Invocation, Option, command
from bot.core.events import GitHubEvent
from governance.audit import Actor
from governance.people.roles import Role
from governance.people.service import holders
from governance.projects import service as projects


class ProjectsCog(Cog):
    name = "projects"

    @command("projects", "List the projects Roadie looks after, with their leads")
    async def list_projects(self, call: Invocation) -> str:
        def listing(session: Session) -> str:
            names = projects.project_names(session)
            if not names:
                return ("No projects yet. They appear when repositories are created in or "
                        "transferred to the org, or with `/project add`.")
            lines = []
            for name in names:
                leads = [p.display_login for p in holders(session, Role.LEAD, name)]
                lines.append(f"- {name}: lead {', '.join(leads)}" if leads else
                             f"- {name}: no lead")
            return "Projects:\n" + "\n".join(lines)

        return await self.ctx.db.run(listing)

    @command("project add", "Start looking after a repository of the org",
             Arg("name", "the repository's name"),
             Option("branch", "its default branch", default="main"), role=Role.ADMIN)
    async def add(self, call: Invocation, name: str, branch: str) -> str:
        def transact(session: Session) -> Any:
            existed = projects.find_project(session, name) is not None
            projects.register_project(session, name=name, now=call.now, actor=call.actor,
                                      default_branch=branch, source="command")
            return existed
        existed = await self.ctx.db.run(transact)
        return f"{name} was known already; updated." if existed else f"Added {name}."

    def digest_sections(self, session: Session, *, now: datetime,
                        since: datetime) -> list[DigestSection]:
        leaderless = [name for name in projects.project_names(session)
                      if not holders(session, Role.LEAD, name)]
        if not leaderless:
            return []
        return [DigestSection("Projects without a lead", tuple(leaderless), order=50)]

    @completer("projects")
    async def complete_projects(self, prefix: str) -> list[tuple[str, str]]:
        names = await self.ctx.db.run(projects.project_names)
        return [(n, n) for n in names if n.lower().startswith(prefix.lower())]

    @on_github("repository")
    async def repository_changed(self, event: GitHubEvent) -> bool:
        name = event.repo
        if not name:
            return False
        actor = Actor.github(event.sender) if event.sender else Actor.system()
        now = self.ctx.clock.now()
        def record(session: Session) -> bool:
            if event.action in ("created", "transferred", "publicized", "privatized"):
                projects.register_project(
                    session, name=name, now=now, actor=actor, source="github",
                    default_branch=event.text("repository", "default_branch", default="main"),
                    private=bool(event.get("repository", "private", default=False)))
                return True
            if event.action == "renamed":
                old = event.text("changes", "repository", "name", "from")
                if old and projects.find_project(session, old):
                    projects.rename_project(session, old=old, new=name, now=now, actor=actor)
                    return True
                projects.register_project(session, name=name, now=now, actor=actor,
                                          source="github")
                return True
            if event.action in ("archived", "unarchived", "deleted"):
                if projects.find_project(session, name) is None:
                    return False
                projects.set_archived(session, name=name, archived=event.action != "unarchived",
                                      now=now, actor=actor)
                return True
            return False

        return await self.ctx.db.run(record)


COG = ProjectsCog
