"""Newcomers: joining the org starts a probation without standing, which time or a vouch ends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from governance.clock import FakeClock
from governance.db import Database
from governance.moderation import newcomers
from governance.people.roles import Role
from governance.people.service import profile_for_login
from tests.cogs.moderation.test_signals import SECRET, deliver
from tests.cogs.moderation.world import World, fake_github, iso, world

WEBHOOKS = {"github": {"webhook_secret_env": "ROADIE_TEST_MODERATION_SECRET"}}
JOINED = "organization/member_added.payload.json"  # hacktocat joins the org


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADIE_TEST_MODERATION_SECRET", SECRET)


async def roles(w: World, login: str) -> frozenset[Role]:
    return (await w.roadie.db.run(lambda session: profile_for_login(session, login))).roles


async def test_a_new_org_member_is_on_probation_without_standing(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, WEBHOOKS) as w:
        github.add_user("hacktocat", created_at=iso(clock.now() - timedelta(days=3)),
                        member=True)
        assert await deliver(w, "organization", JOINED, "d-1") == 202
        assert Role.MEMBER not in await roles(w, "hacktocat")
        assert await w.roadie.db.run(
            lambda session: newcomers.on_probation(session, "hacktocat")) is not None

        # GitHub says it is an org member, but a newcomer has no standing: one moderator
        # blocks it at once.
        reply = await w.say("bob", "/block hacktocat spam")
        assert reply.splitlines()[:2] == ["Case #1: block of hacktocat.",
                                          "✅ GitHub: hacktocat is blocked in the jazzband org."]


async def test_the_probation_ends_with_time(tmp_path: Path, db: Database,
                                           clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, WEBHOOKS) as w:
        github.add_user("hacktocat", created_at=iso(clock.now() - timedelta(days=3)),
                        member=True)
        await deliver(w, "organization", JOINED, "d-1")
        clock.advance(timedelta(days=13, hours=23))
        await w.run_job("people.end_probations")
        assert Role.MEMBER not in await roles(w, "hacktocat")
        clock.advance(timedelta(hours=1))
        await w.run_job("people.end_probations")
        assert Role.MEMBER in await roles(w, "hacktocat")
        # Now an established member: blocking it needs a second moderator.
        reply = await w.say("bob", "/block hacktocat spam")
        assert "needs a second moderator, because hacktocat is a member of the jazzband org" \
            in reply


async def test_a_member_vouches(tmp_path: Path, db: Database, clock: FakeClock) -> None:
    overrides = {**WEBHOOKS, "people": {"members": ["carol"], "vouches": 1}}
    async with fake_github() as github, world(tmp_path, db, clock, github, overrides) as w:
        github.add_user("hacktocat", created_at=iso(clock.now() - timedelta(days=3)),
                        member=True)
        assert (await w.say("carol", "/vouch hacktocat")).startswith(
            "✋ hacktocat is not on probation, so there is nothing to vouch for.")
        await deliver(w, "organization", JOINED, "d-1")
        assert (await w.say("carol", "/vouch carol")).startswith(
            "✋ You cannot vouch for yourself.")
        assert await w.say("carol", "/vouch hacktocat") == (
            "You vouched for hacktocat: their probation is over, and they are a member.")
        assert Role.MEMBER in await roles(w, "hacktocat")
        assert "hacktocat is now a member" in w.last("modlog")
        # Delivered again, the join starts no second probation.
        assert await deliver(w, "organization", JOINED, "d-1") == 200
        assert Role.MEMBER in await roles(w, "hacktocat")


async def test_two_vouches_when_two_are_asked(tmp_path: Path, db: Database,
                                              clock: FakeClock) -> None:
    overrides = {**WEBHOOKS, "people": {"members": ["carol"], "admins": ["alice"],
                                        "vouches": 2}}
    async with fake_github() as github, world(tmp_path, db, clock, github, overrides) as w:
        github.add_user("hacktocat", created_at=iso(clock.now() - timedelta(days=3)))
        await deliver(w, "organization", JOINED, "d-1")
        assert await w.say("carol", "/vouch hacktocat") == (
            "You vouched for hacktocat: 1 of 2 vouches. They become a member with 1 more, or "
            "on 2026-01-19 09:00 UTC.")
        assert (await w.say("carol", "/vouch hacktocat")).startswith(
            "✋ You have vouched for hacktocat already.")
        assert "they are a member" in await w.say("alice", "/vouch hacktocat")
        assert Role.MEMBER in await roles(w, "hacktocat")


async def test_probation_off_makes_members_at_once(tmp_path: Path, db: Database,
                                                   clock: FakeClock) -> None:
    overrides = {**WEBHOOKS, "people": {"probation": "off"}}
    async with fake_github() as github, world(tmp_path, db, clock, github, overrides) as w:
        await deliver(w, "organization", JOINED, "d-1")
        assert Role.MEMBER in await roles(w, "hacktocat")
