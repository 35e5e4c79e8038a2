"""Moderators publish a case on the public pages (`/case N publish`), with a summary they
write, naming the account only if they ask; `/case N unpublish` takes it off."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from governance.audit import history
from governance.audit.verification import verify_database
from governance.clock import FakeClock
from governance.db import Database
from governance.moderation import service as cases
from governance.moderation.models import ModerationCase
from tests.cogs.moderation.world import World, fake_github, iso, world

SUMMARY = "Posted crypto scam links in three repositories."


async def case_1(w: World) -> ModerationCase:
    return await w.roadie.db.run(lambda session: cases.get_case(session, 1))


async def blocked_sam(w: World, *flags: str) -> None:
    w.github.add_user("sam", created_at=iso(w.clock.now() - timedelta(days=3)))
    await w.link("sam", "2001")
    blocked = await w.say("bob", f"/block sam crypto spam {' '.join(flags)}")
    assert "Case #1: block of sam." in blocked


def audited(session: Session) -> list[str]:
    return [e.action for e in history(session, target="case:1")]


def verified(session: Session) -> Any:
    verdict = verify_database(session, [], None)
    assert verdict.replay is not None
    return verdict.replay


async def test_a_moderator_publishes_a_case_and_takes_it_off(tmp_path: Path, db: Database,
                                                             clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        await blocked_sam(w)
        answer = await w.say("dana", f"/case 1 publish {SUMMARY}")
        assert answer.splitlines() == [
            f"Case #1 is on the public moderation page, reading: an account: {SUMMARY}",
            "`/case 1 unpublish` takes it off."]
        assert w.replies[-1].private
        assert w.last("modlog").startswith("**Case #1: published by dana**")
        case = await case_1(w)
        assert (case.public, case.public_summary, case.public_name) == (True, SUMMARY, "")
        assert (case.published_by, case.published_at) == ("github:dana", clock.now())
        assert case.reason == "crypto spam"  # the internal reason is untouched

        named = await w.say("bob", f"/case 1 publish {SUMMARY} --name")
        assert named.startswith(f"Case #1 is on the public moderation page, reading: sam: "
                                f"{SUMMARY}")
        assert (await case_1(w)).public_name == "sam"
        again = await w.say("bob", f"/case 1 publish {SUMMARY} --name")
        assert again.startswith("✋ Case #1 is published so already.")
        shown = await w.say("bob", "/case 1")
        assert f"by bob, reading: sam: {SUMMARY}" in shown

        assert await w.say("dana", "/case 1 unpublish") == \
            "Case #1 is no longer on the public pages."
        case = await case_1(w)
        assert (case.public, case.public_summary, case.public_name, case.published_by) == (
            False, "", "", "")
        assert "taken off the public pages by dana" in w.last("modlog")
        assert (await w.say("dana", "/case 1 unpublish")).startswith(
            "✋ Case #1 is not published.")
        assert (await db.run(audited))[-3:] == ["moderation.publish", "moderation.publish",
                                                 "moderation.unpublish"]
        assert (await db.run(verified)).ok  # the log explains every published field


async def test_a_summary_changed_behind_roadies_back_fails_the_audit(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        await blocked_sam(w)
        await w.say("dana", f"/case 1 publish {SUMMARY}")

        def tamper(session: Session) -> Any:
            session.execute(text("UPDATE moderation_case SET public_summary = 'forged'"))
            return verified(session)
        report = await db.run(tamper)
        assert len(report.differences) == 1
        assert report.differences[0].problem.startswith(
            f"case 1: public_summary is 'forged' in the table, {SUMMARY!r} in the log")


async def test_only_moderators_publish_and_bad_requests_change_nothing(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        await blocked_sam(w, "--chat")
        before = await case_1(w)
        not_allowed = await w.say("carol", f"/case 1 publish {SUMMARY} --name")
        assert not_allowed.startswith("✋ /case needs the moderator role; Roadie knows you as "
                                       "carol (member).")
        assert (await w.say("bob", "/case 1 publish   ")).startswith(
            "✋ A published case needs a summary written for the public.")
        too_long = await w.say("bob", "/case 1 publish " + "x" * 501)
        assert too_long.startswith("✋ The public summary has 501 characters; at most 500")
        assert (await w.say("bob", "/case 1 reason spam --name")).startswith(
            "✋ `--name` goes with `publish` only.")
        assert (await w.say("bob", "/case 1 unpublish now")).startswith(
            "✋ `/case 1 unpublish` takes no more words.")
        assert (await w.say("bob", f"/case 9 publish {SUMMARY}")).startswith(
            "✋ There is no case #9.")
        after = await case_1(w)
        assert (after.public, after.public_summary, after.published_by) == (False, "", "")
        assert after.reason == before.reason
        assert "moderation.publish" not in await db.run(audited)
        # A chat-only block of a linked person still knows the GitHub login to name; an
        # unlinked chat account has none.
        assert "reading: sam:" in await w.say("bob", f"/case 1 publish {SUMMARY} --name")
        assert "Case #2: block of discord:3001." in await w.say(
            "bob", "/block discord:3001 spam --chat")
        unnamed = await w.say("bob", f"/case 2 publish {SUMMARY} --name")
        assert unnamed.startswith("✋ Case #2 holds no account with a GitHub login that Roadie "
                                  "knows, so it cannot be named.")
        assert not (await w.roadie.db.run(lambda session: cases.get_case(session, 2))).public


async def test_a_case_that_blocked_nobody_is_not_published(tmp_path: Path, db: Database,
                                                           clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("owner", created_at=iso(clock.now() - timedelta(days=3)))
        github.admins.add("owner")  # GitHub refuses to block an org owner: nothing blocked
        await w.say("bob", "/block owner spam --github")
        refused = await w.say("bob", f"/case 1 publish {SUMMARY}")
        assert refused.startswith("✋ Case #1 is refused: it blocked nobody; only a block that "
                                  "took effect is published.")
        assert not (await case_1(w)).public
