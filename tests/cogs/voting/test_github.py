"""Votes with GitHub: the electorate from the project's team, and the elected lead added to
the leads team, retried when GitHub fails and escalated when it refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.github.client import PyGithubPort
from governance.db import Database
from tests.cogs.voting.world import Scene, scene
from tests.fakes.github import FakeGitHub

TEAM_RULES = {"nomination": {"electorate": "project-team", "quorum": 2,
                             "nominee_accepts": False}}


@asynccontextmanager
async def github_scene(tmp_path: Path, db: Database,
                       voting: dict[str, Any] | None = None) -> AsyncIterator[tuple[Scene,
                                                                                  FakeGitHub]]:
    fake = FakeGitHub()
    for login in ("alice", "bob", "carol", "dave", "erin"):
        fake.add_user(login, member=True)
    fake.teams["django-sample"] = {"carol", "dave", "erin"}
    fake.teams["django-sample-leads"] = set()
    await fake.start()
    try:
        port = PyGithubPort(org="jazzband", token="t", api_url=fake.url, throttle=False)
        async with scene(tmp_path, db, voting or TEAM_RULES, github=port) as s:
            yield s, fake
    finally:
        await fake.stop()


async def test_the_team_votes_and_the_elected_lead_joins_the_leads_team(tmp_path: Path,
                                                                         db: Database) -> None:
    async with github_scene(tmp_path, db) as (s, fake):
        out = await s.as_("carol", "/nominate dave django-sample Dave triages every issue")
        assert "Vote #1 on dave as lead of django-sample is open" in out
        # The team on GitHub (less the nominee) and the admins.
        assert "- **Electorate**: 3 binding voters (the team)" in out
        out = await s.as_("bob", "/vote 1 +1")
        assert "Your advisory ballot on vote #1 is +1." in out
        await s.as_("carol", "/vote 1 +1")
        await s.as_("erin", "/vote 1 +1 yes")
        out = await s.at(61)
        assert "Passed (no reasoned objection: 2 for, 0 against)" in out
        assert "advisory (not counted): 1 for, 0 against, 0 abstaining" in out
        assert "dave is now in the GitHub team django-sample-leads, as vote #1 decided." in out
        assert "Escalation" not in out
        assert fake.teams["django-sample-leads"] == {"dave"}


async def test_adding_to_the_team_is_retried_then_escalated(tmp_path: Path,
                                                              db: Database) -> None:
    async with github_scene(tmp_path, db) as (s, fake):
        await s.as_("carol", "/nominate dave django-sample Dave triages every issue")
        await s.as_("carol", "/vote 1 +1")
        await s.as_("erin", "/vote 1 +1")
        fake.fail("PUT", "/orgs/jazzband/teams/django-sample-leads/memberships", status=502)
        out = await s.at(61)
        assert "Passed" in out
        assert "is now in the GitHub team" not in out
        assert fake.teams["django-sample-leads"] == set()
        out = await s.at(200)  # the retry, a couple of minutes later
        assert "dave is now in the GitHub team django-sample-leads" in out

        await s.as_("carol", "/nominate erin django-sample Erin wrote the docs")
        await s.as_("carol", "/vote 2 +1")
        await s.as_("dave", "/vote 2 +1")
        del fake.teams["django-sample-leads"]
        out = await s.at(300)
        assert "[#admins] **Escalation #1: permissions for django-sample**" in out
        assert ("Vote #2 elected erin as a lead of django-sample: add them to the GitHub team "
                "django-sample-leads (Roadie could not do it itself). GitHub answered:") in out


async def test_github_failing_when_reading_the_team_opens_nothing(tmp_path: Path,
                                                                   db: Database) -> None:
    async with github_scene(tmp_path, db) as (s, fake):
        fake.fail("GET", "/orgs/jazzband/teams/django-sample", status=502, times=5)
        out = await s.as_("carol", "/nominate dave django-sample Dave triages every issue")
        assert "GitHub did not answer when Roadie asked who votes" in out
        assert "Nothing was opened; try again in a minute." in out
        assert "/votes" not in out
        assert "No votes are open." in await s.as_("carol", "/votes")
        out = await s.as_("carol", "/nominate zed django-sample why not")
        assert "zed is not a member of jazzband" in out
