"""The rest of a vote's life: lapses, cancelling, the electorate read again, an early close,
the one reminder, the digest, and the audit log that recounts every vote."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.config import load_config
from cogs.voting.settings import VotingSettings
from governance.db import Database
from tests.cogs.voting.world import scene, voting_config


async def test_an_unanswered_nomination_lapses(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        await s.as_("carol", "/nominate dave django-sample Dave knows the code")
        assert await s.at(29) == ""
        out = await s.at(31)
        assert "- **Result**: lapsed: dave did not accept in time" in out
        out = await s.as_("dave", "/vote accept 1")
        assert "Nomination #1 is lapsed; there is nothing to accept." in out
        assert "No votes are open." in await s.as_("dave", "/votes")


async def test_the_proposer_or_an_admin_cancels(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        await s.as_("carol", "/dispute django-sample 9f8e7d6c5b4a skipped review")
        out = await s.as_("alice", "/vote cancel 1 the push was reverted by its author")
        assert "Vote #1 is cancelled." in out
        assert "- **Result**: cancelled by alice: the push was reverted by its author" in out
        out = await s.as_("bob", "/vote 1 keep")
        assert "Vote #1 was cancelled at 2026-01-05 09:00 UTC: no ballots after that." in out
        assert await s.at(61) == ""


async def test_refresh_reads_the_electorate_again_and_keeps_ballots(tmp_path: Path,
                                                                     db: Database) -> None:
    rules = {"dispute": {"electorate": "project-team", "quorum": 1, "advisory": False}}
    async with scene(tmp_path, db, rules) as s:
        await s.as_("alice", "/grant carol lead django-sample")
        await s.as_("carol", "/dispute django-sample 9f8e7d6c5b4a skipped review")
        await s.as_("carol", "/vote 1 revert")
        assert "not in the electorate" in await s.as_("dave", "/vote 1 keep")
        await s.as_("alice", "/grant dave lead django-sample")
        out = await s.as_("alice", "/vote refresh 1")
        assert ("Vote #1 now has 3 binding voters (joined: dave). Ballots already cast stay as "
                "they were.") in out
        out = await s.as_("dave", "/vote 1 keep")
        assert "Your binding ballot on vote #1 is keep." in out
        assert "- **Ballots**: carol revert; dave keep" in out


async def test_a_settled_vote_closes_early(tmp_path: Path, db: Database) -> None:
    # Under majority five +1 stay ahead whatever one voter changes to; under consensus a
    # single reasoned -1 would change the outcome, so such a vote runs to its deadline.
    rules = {"nomination": {"nominee_accepts": False, "threshold": "majority"}}
    async with scene(tmp_path, db, rules) as s:
        await s.as_("carol", "/nominate carol django-sample I maintain it")
        for voter in ("alice", "bob", "dave", "erin"):
            out = await s.as_(voter, "/vote 1 +1")
            assert "is closed" not in out
        out = await s.as_("frank", "/vote 1 +1")
        assert ("Everyone has voted and nothing can change the outcome: vote #1 is closed."
                in out)
        assert "[#feed] **Vote #1 closed: carol as lead of django-sample**" in out


async def test_non_voters_are_reminded_once(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        for login in ("alice", "bob", "dave", "erin", "frank"):
            await s.as_(login, "/whoami")  # link their console accounts
        await s.as_("carol", "/dispute django-sample 9f8e7d6c5b4a skipped review")
        await s.as_("alice", "/vote 1 keep")
        assert await s.at(39) == ""
        out = await s.at(41)
        for login in ("bob", "carol", "dave", "erin", "frank"):
            assert f"[@{login}] **Vote #1 closes in 19s**" in out
        assert "[@alice]" not in out
        assert await s.at(50) == ""


async def test_the_digest_shows_votes_closing_and_decided(tmp_path: Path, db: Database) -> None:
    rules = {"nomination": {"nominee_accepts": False}}
    async with scene(tmp_path, db, rules) as s:
        await s.as_("carol", "/nominate carol django-sample I maintain it")
        await s.as_("erin", "/dispute pip-tools-demo 1a2b3c4d pushed on a Friday")
        for voter in ("alice", "bob", "dave"):
            await s.as_(voter, "/vote 1 +1")
        await s.at(61)
        out = await s.as_("dave", "/digest")
        assert "Votes decided in the last day" in out
        assert "#1 carol as lead of django-sample: passed" in out
        assert "#2 the direct push 1a2b3c4d to pip-tools-demo: closes" not in out  # closed too
        assert "#2 the direct push 1a2b3c4d to pip-tools-demo: no decision (no quorum" in out


def _forge_outcome(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vote SET outcome = 'failed' WHERE number = 1"))
    db.dispose()


async def test_audit_verify_recounts_votes_and_names_a_forged_result(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = voting_config(tmp_path)
    path = tmp_path / "roadie.toml"
    db = Database(config.database_url)
    async with scene(tmp_path, db) as s:
        await s.as_("carol", "/nominate carol django-sample I maintain it")
        for voter in ("alice", "bob", "dave"):
            await s.as_(voter, "/vote 1 +1")
        await s.at(61)
    db.dispose()
    assert load_config(path).database_url == config.database_url
    assert await asyncio.to_thread(main, ["audit", "verify", "--config", str(path)]) == 0
    assert "votes OK: 1 closed vote(s) counted again from the log" in capsys.readouterr().out
    await asyncio.to_thread(_forge_outcome, config.database_url)
    assert await asyncio.to_thread(main, ["audit", "verify", "--config", str(path)]) == 1
    assert ("vote count WRONG: vote #1: the vote says failed, the log says passed"
            in capsys.readouterr().err)


async def test_voters_who_cannot_be_reminded_are_named_to_the_proposer(
        tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        for login in ("alice", "dave"):
            await s.as_(login, "/whoami")  # linked; bob, erin and frank are not
        await s.as_("carol", "/dispute django-sample 9f8e7d6c5b4a skipped review")
        await s.as_("alice", "/vote 1 keep")
        out = await s.at(41)
        assert "[@dave] **Vote #1 closes in 19s**" in out
        assert "[@carol] **Vote #1 closes in 19s: 3 voter(s) could not be reminded**" in out
        assert ("bob, erin, frank have not voted on the direct push 9f8e7d6c5b to "
                "django-sample and have no chat account linked to Roadie") in out


async def test_the_digest_lists_as_closing_only_votes_whose_ballots_are_open(
        tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db, {"nomination": {"accept_within": "7d"}}) as s:
        await s.as_("carol", "/nominate dave django-sample Dave knows the code")
        await s.as_("erin", "/dispute pip-tools-demo 1a2b3c4d pushed on a Friday")
        out = await s.as_("dave", "/digest")
        closing = out.split("**Votes closing within 24h**")[1].split("**")[0]
        assert "#2 the direct push 1a2b3c4d to pip-tools-demo: closes in 1m" in closing
        assert "#1" not in closing
        assert "**Nominations waiting for the nominee** (1)" in out
        assert "#1 dave as lead of django-sample: waits for dave to accept, until in 7d" in out


async def test_a_declined_nomination_shows_no_ballots(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        await s.as_("carol", "/nominate dave django-sample Dave knows the code")
        out = await s.as_("dave", "/vote decline 1 not now")
        assert "- **Result**: dave declined: not now" in out
        assert "Ballots" not in out
        assert "Ballots" not in await s.at(31)


async def test_the_ballot_that_closes_a_vote_is_not_said_to_be_changeable(
        tmp_path: Path, db: Database) -> None:
    rules = {"nomination": {"nominee_accepts": False, "threshold": "majority"}}
    async with scene(tmp_path, db, rules) as s:
        await s.as_("carol", "/nominate carol django-sample I maintain it")
        out = await s.as_("alice", "/vote 1 +1")
        assert "You can change it until the close." in out
        for voter in ("bob", "dave", "erin"):
            await s.as_(voter, "/vote 1 +1")
        out = await s.as_("frank", "/vote 1 +1")
        assert "vote #1 is closed" in out
        assert "change it until the close" not in out


async def test_a_fraction_of_two_thirds_in_the_config(tmp_path: Path) -> None:
    settings = VotingSettings(dispute={"threshold": "supermajority", "fraction": "2/3"})
    assert settings.dispute.rules().describe().startswith(
        "supermajority (at least 2/3 of the binding ballots that take a side)")
    with pytest.raises(ValueError, match="more than 1/2"):
        VotingSettings(dispute={"fraction": "1/2"})
