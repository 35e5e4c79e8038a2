"""Who votes: the electorate of a vote, read from GitHub when Roadie has a token.

`project-team`: the members of the project's team on GitHub (without a token, the
project's leads as Roadie knows them), plus the admins. `org`: every member of the org
(without a token, everyone Roadie knows as a member), plus the admins. Roadie itself
never votes.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.ports import PlatformError
from cogs.voting.settings import VotingSettings
from governance.errors import Refusal
from governance.people.roles import GRANTABLE, Role
from governance.people.service import holders
from governance.votes.rules import Rules


async def read_electorate(ctx: CogContext, settings: VotingSettings, rules: Rules,
                          project: str) -> list[str]:
    """The binding voters of a vote on `project`, as lower-case logins."""
    def transact(session: Session) -> Any:
        admins = {p.login for p in holders(session, Role.ADMIN)}
        if rules.electorate == "org":
            known = {p.login for role in GRANTABLE for p in holders(session, role)}
        else:
            known = {p.login for p in holders(session, Role.LEAD, project)}
        return admins, known
    admins, known = await ctx.db.run(transact)
    voters = await _from_github(ctx, settings, rules, project) if ctx.github else known
    return sorted(({v.lower() for v in voters} | admins) - {ctx.bot_login.lower()})


async def _from_github(ctx: CogContext, settings: VotingSettings, rules: Rules,
                       project: str) -> set[str]:
    assert ctx.github is not None
    team = settings.team(settings.project_team, project)
    try:
        if rules.electorate == "org":
            return set(await ctx.github.org_members())
        return set(await ctx.github.team_members(team))
    except PlatformError as error:
        if error.permanent and rules.electorate == "project-team":
            raise Refusal(f"GitHub has no team {team!r} for {project} that Roadie can read "
                          f"({error.detail}).",
                          "Ask an admin to create the team, or set voting.project_team.") from None
        raise Refusal(f"GitHub did not answer when Roadie asked who votes ({error.detail}).",
                      "Nothing was opened; try again in a minute.") from None
