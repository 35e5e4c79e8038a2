"""Spam signals from real, signed webhook deliveries and from chat joins."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import Session

from bot.core.events import MemberJoined
from bot.runtime.webhooks import signature_for
from governance.audit import history
from governance.clock import FakeClock
from governance.db import Database
from tests.cogs.moderation.world import FIXTURES, World, fake_github, iso, world

SECRET = "moderation-test-secret"
# Anyone may join this org, so membership gives no standing (see docs/moderation.md).
OPEN_ORG = {"github": {"webhook_secret_env": "ROADIE_TEST_MODERATION_SECRET"},
            "moderation": {"standing": ["project-lead", "account-age"]}}


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADIE_TEST_MODERATION_SECRET", SECRET)


async def deliver(w: World, event: str, fixture: str, delivery: str) -> int:
    """POST an octokit payload to Roadie's webhook endpoint, signed, and wait until handled."""
    body = (FIXTURES / fixture).read_bytes()
    assert w.roadie.server is not None
    url = f"http://127.0.0.1:{w.roadie.server.port}/github/webhook"
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
               "X-Hub-Signature-256": signature_for(SECRET.encode(), body),
               "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(url, data=body,
                                                          headers=headers) as response:
        status = response.status
    await w.roadie.settle()
    return status


async def test_an_org_join_with_spam_signals_alerts_the_moderators(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, OPEN_ORG) as w:
        payload = json.loads((FIXTURES / "organization/member_added.payload.json").read_text())
        login = payload["membership"]["user"]["login"]
        assert login == "hacktocat"
        github.add_user(login, created_at=iso(clock.now() - timedelta(days=3)), public_repos=0,
                        followers=0, name="")

        assert await deliver(w, "organization", "organization/member_added.payload.json",
                             "d-1") == 202

        alert = w.at("moderators")[-1].message
        assert alert.title == "Spam signals: hacktocat joined the jazzband org"
        assert alert.body == "Score 5 (alerts from 3)."
        assert [(f.name, f.value) for f in alert.fields] == [
            ("account 3d old", "+2"), ("no public repositories", "+1"), ("no followers", "+1"),
            ("empty profile", "+1")]
        block = alert.choices[0]
        assert block.label == "Block"
        assert block.command == ("block hacktocat spam signals: account 3d old, no public "
                                "repositories, no followers, empty profile --github")
        assert alert.footer == "Roadie blocks nobody by itself; a moderator decides."
        assert not github.called("PUT", "/orgs/jazzband/blocks/hacktocat")

        # GitHub delivers again: no second alert.
        assert await deliver(w, "organization", "organization/member_added.payload.json",
                             "d-1") == 200
        assert len(w.at("moderators")) == 1

        # One step from the alert: a moderator chooses Block.
        reply = await w.say("bob", block.command)
        assert reply.splitlines()[:2] == ["Case #1: block of hacktocat.",
                                          "✅ GitHub: hacktocat is blocked in the jazzband org."]
        assert "hacktocat" in github.blocked
        shown = await w.say("bob", "/case 1")
        assert ("Reason: spam signals: account 3d old, no public repositories, no followers, "
                "empty profile") in shown


async def test_an_established_account_raises_no_alert(tmp_path: Path, db: Database,
                                                      clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, OPEN_ORG) as w:
        github.add_user("hacktocat", created_at="2015-01-01T00:00:00Z", public_repos=12,
                        followers=40, bio="I write parsers")
        assert await deliver(w, "organization", "organization/member_added.payload.json",
                             "d-2") == 202
        assert w.at("moderators") == []
        def transact(session: Session) -> None:
            assert history(session, action_prefix="moderation.signal") == []
        await db.run(transact)


async def test_a_team_membership_counts_as_a_join(tmp_path: Path, db: Database,
                                                  clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, OPEN_ORG) as w:
        github.add_user("Codertocat", created_at=iso(clock.now() - timedelta(days=1)),
                        public_repos=0, followers=0)
        assert await deliver(w, "membership", "membership/added.payload.json", "d-3") == 202
        alert = w.at("moderators")[-1].message
        assert alert.title == "Spam signals: Codertocat joined the github team"


async def test_auto_block_only_when_configured(tmp_path: Path, db: Database,
                                               clock: FakeClock) -> None:
    auto = {**OPEN_ORG, "moderation": {**OPEN_ORG["moderation"],
                                       "signals": {"auto_block_score": 5}}}
    async with fake_github() as github, world(tmp_path, db, clock, github, auto) as w:
        github.add_user("hacktocat", created_at=iso(clock.now() - timedelta(days=3)),
                        public_repos=0, followers=0, name="")
        await deliver(w, "organization", "organization/member_added.payload.json", "d-4")

        assert "hacktocat" in github.blocked
        alert = w.at("moderators")[-1].message
        assert alert.footer == "Roadie blocks at this score by itself (auto_block_score)."
        modlog = w.last("modlog")
        assert "**Case #1: block of hacktocat**" in modlog
        assert "By Roadie: automatic, spam signals: account 3d old" in modlog


async def test_chat_joins_score_names_age_and_bursts(tmp_path: Path, db: Database,
                                                     clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, OPEN_ORG) as w:
        now = clock.now()
        await w.roadie.member_joined(MemberJoined("discord", "3001", "CryptoKing", now,
                                                  account_created_at=now - timedelta(hours=5)))
        await w.roadie.settle()
        alert = w.at("moderators")[-1].message
        assert alert.title == "Spam signals: discord:3001 joined Discord"
        assert [f.name for f in alert.fields] == ["account 5h old",
                                                  "name matches a spam pattern"]
        assert alert.choices[0].command == ("block discord:3001 spam signals: account 5h old, "
                                           "name matches a spam pattern --chat")

        # Five ordinary joins within ten minutes: the fifth one is part of a burst, but a
        # burst alone (2 points) stays under the alert score.
        for n in range(4):
            await w.roadie.member_joined(MemberJoined("discord", f"40{n}", f"person{n}",
                                                      now + timedelta(minutes=n)))
        await w.roadie.settle()
        assert len(w.at("moderators")) == 1
        await w.roadie.member_joined(MemberJoined("discord", "4100", "fresh", now,
                                                  account_created_at=now - timedelta(days=2)))
        await w.roadie.settle()
        burst = w.at("moderators")[-1].message
        assert [f.name for f in burst.fields] == ["account 2d old",
                                                  "one of 6 joins in a short time"]

        reply = await w.say("dana", alert.choices[0].command)
        assert reply.splitlines()[1] == "✅ Discord: 3001 is banned. (told them how to appeal.)"
        assert w.chat.bans == [("3001", "case #1: spam signals: account 5h old, name matches a "
                                        "spam pattern", 0)]
