"""Votes with GitHub: the electorate from the project's team, and the elected lead added to
the leads team, retried when GitHub fails and escalated when it refuses; a lead who is not an
org member is invited, and followed until they accept or the invitation expires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.github.client import PyGithubPort
from governance.db import Database
from tests.cogs.voting.world import Scene, scene
from tests.fakes.github import FakeGitHub
from tests.support import github_payload, post_webhook

SECRET = "votes and webhooks"

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
    secret = tmp_path / "webhook-secret"
    secret.write_text(SECRET)
    try:
        port = PyGithubPort(org="jazzband", token="t", api_url=fake.url, throttle=False)
        async with scene(tmp_path, db, voting or TEAM_RULES, github=port, config_extra={
                "github": {"webhook_secret_file": str(secret)}}) as s:
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
        assert "zed is no GitHub user, so cannot lead a project of jazzband." in out


async def elect_frank(s: Scene, fake: FakeGitHub) -> str:
    """Nominate frank, a GitHub user outside the org, and elect him; return what was said."""
    fake.add_user("frank")
    out = await s.as_("carol", "/nominate frank django-sample Frank fixed the release")
    assert ("frank is not a member of jazzband yet: if elected, GitHub will invite them to the "
            "org, and they join the leads team when they accept the invitation.") in out
    await s.as_("carol", "/vote 1 +1")
    await s.as_("erin", "/vote 1 +1")
    return await s.at(61)


async def test_an_elected_non_member_is_invited_and_told_when_they_accept(
        tmp_path: Path, db: Database) -> None:
    async with github_scene(tmp_path, db) as (s, fake):
        out = await elect_frank(s, fake)
        assert "Passed" in out
        assert ("frank was invited to the GitHub org jazzband, as vote #1 decided: they join "
                "the team django-sample-leads when they accept the invitation") in out
        assert "is now in the GitHub team" not in out
        assert fake.teams["django-sample-leads"] == set()
        assert set(fake.invitations) == {"frank"}

        assert fake.accept_invitation("frank") == ["django-sample-leads"]
        accepted = github_payload("membership/added")
        accepted["member"]["login"] = "frank"
        accepted["team"]["slug"] = "django-sample-leads"
        start = len(s.console.text)
        status, _ = await post_webhook(s.roadie, "membership", accepted, secret=SECRET)
        assert status == 202
        await s.roadie.settle()
        joined = s.console.text[start:]
        assert ("frank accepted the invitation and is now in the GitHub team "
                "django-sample-leads, as vote #1 decided.") in joined
        # The org's member_added for the same acceptance tells nothing twice.
        added = github_payload("organization/member_added")
        added["membership"]["user"]["login"] = "frank"
        start = len(s.console.text)
        await post_webhook(s.roadie, "organization", added, secret=SECRET)
        await s.roadie.settle()
        assert "frank accepted" not in s.console.text[start:]
        assert "expired" not in await s.at(8 * 24 * 3600)


async def test_an_invitation_left_unanswered_expires_and_goes_to_the_admins(
        tmp_path: Path, db: Database) -> None:
    async with github_scene(tmp_path, db) as (s, fake):
        await elect_frank(s, fake)
        assert "frank" not in await s.at(6 * 24 * 3600)  # within the week: nothing yet
        fake.expire_invitation("frank")
        out = await s.at(7 * 24 * 3600 + 61)
        assert ("frank did not accept the invitation to the GitHub org jazzband within 7d, so "
                "is not in the team django-sample-leads; an admin is asked to sort it out.") in out
        assert "[#admins] **Escalation #1: permissions for django-sample**" in out
        assert "Their invitation to the org expired unanswered." in out


async def test_an_acceptance_whose_webhook_was_missed_is_found_at_the_deadline(
        tmp_path: Path, db: Database) -> None:
    async with github_scene(tmp_path, db) as (s, fake):
        await elect_frank(s, fake)
        fake.accept_invitation("frank")
        out = await s.at(7 * 24 * 3600 + 61)
        assert ("frank accepted the invitation and is now in the GitHub team "
                "django-sample-leads, as vote #1 decided.") in out
        assert "Escalation" not in out
