"""Blocks end to end: the real PyGithub against the fake GitHub, and a recording Discord."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.core.ports import PlatformError
from cogs.moderation.blocking import CLAIM
from governance.audit import Actor, history
from governance.clock import FakeClock
from governance.db import Database
from governance.moderation import service as cases
from governance.moderation.subjects import github_account
from tests.cogs.moderation.world import OrderedChat, fake_github, iso, world

SPAMMER_DISCORD = "2001"


async def test_a_block_reaches_github_and_chat(tmp_path: Path, db: Database,
                                               clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        await w.link("sam", SPAMMER_DISCORD)

        reply = await w.say("bob", "/block sam crypto spam links --delete-messages 2")

        assert reply.splitlines() == [
            "Case #1: block of sam.",
            "✅ GitHub: sam is blocked in the jazzband org.",
            "✅ Discord: sam (2001) is banned. (told them how to appeal.)",
        ]
        assert w.replies[-1].private  # the channel does not see it; the modlog does
        assert github.called("PUT", "/orgs/jazzband/blocks/sam")
        assert "sam" in github.blocked
        assert w.chat.bans == [(SPAMMER_DISCORD, "case #1: crypto spam links", 2)]
        # The appeal notice went to the person before the ban took their access away.
        notice = w.at(f"dm:{SPAMMER_DISCORD}")
        assert len(notice) == 1
        assert "case #1" in notice[0].text
        assert "write to the jazzband moderators" in notice[0].text
        assert w.chat.events.index(f"send dm:{SPAMMER_DISCORD}") < w.chat.events.index(
            f"ban {SPAMMER_DISCORD}")
        modlog = w.last("modlog")
        assert "**Case #1: block of sam**" in modlog
        assert "By bob: crypto spam links" in modlog
        assert "✅ GitHub: sam is blocked in the jazzband org." in modlog

        shown = await w.say("dana", "/case 1")
        assert "**Case #1**: sam, active" in shown
        assert "Chat messages of the last 2 days deleted with the ban." in shown
        def transact(session: Session) -> Any:
            actions = [e.action for e in history(session, target="case:1")]
            return actions
        actions = await db.run(transact)
        assert actions == ["moderation.block", "moderation.block.blocked",
                           "moderation.block.blocked"]


async def test_a_partial_failure_is_reported_then_retried(tmp_path: Path, db: Database,
                                                          clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        await w.link("sam", SPAMMER_DISCORD)
        w.chat.fail_next(1, PlatformError("discord", "503 Service Unavailable"), only=("ban",))

        reply = await w.say("bob", "/block sam crypto spam")

        assert "✅ GitHub: sam is blocked in the jazzband org." in reply
        assert ("⏳ Discord: sam (2001) is NOT blocked yet: discord answered: 503 Service "
                "Unavailable. Roadie tries again at 2026-01-05 09:00 UTC (attempt 2 of 12). "
                "(told them how to appeal.)") in reply
        assert "sam (2001) is banned" not in reply
        assert w.chat.bans == []
        assert "⏳ Discord: sam (2001) is NOT blocked yet" in w.last("modlog")

        await w.run_job("moderation.sweep")  # not due yet: nothing happens
        assert w.chat.bans == []

        clock.advance(timedelta(seconds=31))
        await w.run_job("moderation.sweep")

        assert w.chat.bans == [(SPAMMER_DISCORD, "case #1: crypto spam", 0)]
        assert len(w.at(f"dm:{SPAMMER_DISCORD}")) == 1  # told once, not again on the retry
        update = w.last("modlog")
        assert "**Case #1: sam, update**" in update
        assert "✅ Discord: sam (2001) is banned." in update
        told = w.texts("dm:1002")  # bob, who opened the case, hears of it directly
        assert told
        assert "✅ Discord: sam (2001) is banned." in told[-1]
        shown = await w.say("bob", "/case 1")
        assert "✅ GitHub: sam is blocked" in shown
        assert "✅ Discord: sam (2001) is banned." in shown


async def test_a_block_recorded_but_never_carried_out_is_done_by_the_sweep(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        # As if Roadie stopped right after recording the case, before calling anyone.
        await db.run(lambda session: cases.open_case(
            session, actor=Actor.github('bob'), now=clock.now(), hold=CLAIM,
            opening=cases.Opening(subject='sam', accounts=(github_account('sam'),), reason='spam')))
        await w.run_job("moderation.sweep")
        assert not github.called("PUT", "/orgs/jazzband/blocks/sam")  # still held by its claim

        clock.advance(CLAIM)
        await w.run_job("moderation.sweep")
        assert "sam" in github.blocked
        assert "✅ GitHub: sam is blocked in the jazzband org." in w.last("modlog")


async def test_a_refusing_platform_is_reported_and_not_retried(tmp_path: Path, db: Database,
                                                               clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("owner", created_at=iso(clock.now() - timedelta(days=3)))
        github.admins.add("owner")  # an org admin Roadie does not know: GitHub says 422

        reply = await w.say("bob", "/block owner spam")

        assert ("❌ GitHub: owner is NOT blocked: github answered: 422 Blocking an org admin is "
                "not allowed. Roadie does not try again.") in reply
        assert "owner" not in github.blocked
        clock.advance(timedelta(hours=2))
        calls = len(github.called("PUT", "/orgs/jazzband/blocks/owner"))
        await w.run_job("moderation.sweep")
        assert len(github.called("PUT", "/orgs/jazzband/blocks/owner")) == calls


async def test_a_platform_down_for_long_is_given_up_and_reported(tmp_path: Path, db: Database,
                                                                 clock: FakeClock) -> None:
    overrides = {"moderation": {"give_up_after": 2}}
    async with fake_github() as github, world(tmp_path, db, clock, github, overrides) as w:
        w.chat.fail_next(2, PlatformError("discord", "502 Bad Gateway"), only=("ban",))
        reply = await w.say("bob", f"/block discord:{SPAMMER_DISCORD} raid")
        assert "is NOT blocked yet: discord answered: 502 Bad Gateway" in reply
        clock.advance(timedelta(minutes=1))
        await w.run_job("moderation.sweep")
        assert w.chat.bans == []
        update = w.last("modlog")
        assert ("❌ Discord: 2001 is NOT blocked: gave up after 2 attempts; the last: discord "
                "answered: 502 Bad Gateway. Roadie does not try again.") in update


async def test_the_two_person_rule(tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("olive", created_at=iso(clock.now() - timedelta(days=3)), member=True)

        reply = await w.say("bob", "/block olive rude --for 7d")
        assert reply.splitlines()[0] == (
            "Case #1: nothing is blocked yet. Blocking olive needs a second moderator, because "
            "olive is a member of the jazzband org.")
        assert not github.called("PUT", "/orgs/jazzband/blocks/olive")
        ask = w.at("moderators")[-1]
        assert ask.message.title == "Case #1: block of olive needs a second moderator"
        assert [c.command for c in ask.message.choices] == ["block confirm 1"]
        assert "Case #1: block of olive needs a second moderator" in w.last("modlog")

        assert await w.roadie.complete("awaiting-cases", "") == [("#1 olive: rude", "1")]
        refused = await w.say("bob", "/block confirm 1")
        assert refused.startswith("✋ You opened case #1; a second moderator must confirm it.")
        assert "olive" not in github.blocked

        clock.advance(timedelta(hours=1))
        confirmed = await w.say("dana", "/block confirm 1")
        assert confirmed.splitlines()[:2] == [
            "Case #1: block of olive, confirmed by dana.",
            "✅ GitHub: olive is blocked in the jazzband org."]
        assert "olive" in github.blocked
        # The request in the moderators channel now says what came of it, without its choice.
        assert ask.edits[-1].title == "Case #1: block of olive, confirmed by dana"
        assert ask.edits[-1].choices == ()
        shown = await w.say("bob", "/case 1")
        assert "Confirmed 2026-01-05 10:00 UTC by dana." in shown
        assert "Until 2026-01-12 10:00 UTC (in 7d)." in shown  # seven days from the confirmation

        again = await w.say("dana", "/block confirm 1")
        assert "Case #1 does not wait for a confirmation (it is active, confirmed by" in again


async def test_an_unconfirmed_block_lapses(tmp_path: Path, db: Database,
                                           clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("veteran", created_at="2012-01-01T00:00:00Z")

        reply = await w.say("bob", "/block veteran spam")
        assert "because the GitHub account veteran is 14 years old." in reply

        clock.advance(timedelta(hours=25))
        await w.run_job("moderation.sweep")

        assert "**Case #1: lapsed, nothing was blocked**" in w.last("modlog")
        assert "lapsed, nothing was blocked" in w.last("moderators")
        late = await w.say("dana", "/block confirm 1")
        assert "✋ Case #1 does not wait for a confirmation (it is lapsed)." in late
        assert not github.called("PUT", "/orgs/jazzband/blocks/veteran")
        # The account is free again: a new case may be opened.
        assert "Case #2" in await w.say("dana", "/block veteran spam, again")


async def test_when_github_cannot_tell_a_second_moderator_is_asked(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        github.fail("GET", "/orgs/jazzband/members/sam", status=502)
        reply = await w.say("bob", "/block sam spam")
        assert ("needs a second moderator, because GitHub could not say whether sam is an org "
                "member (502 fake failure)") in reply
        assert "sam" not in github.blocked


async def test_two_person_always_and_never(tmp_path: Path, db: Database,
                                           clock: FakeClock) -> None:
    async with fake_github() as github:
        github.add_user("newbie", created_at=iso(clock.now() - timedelta(days=1)))
        github.add_user("olive", created_at="2012-01-01T00:00:00Z", member=True)
        always = {"moderation": {"two_person": "always"}}
        async with world(tmp_path, db, clock, github, always) as w:
            reply = await w.say("bob", "/block newbie spam")
            assert 'because every block needs a second moderator here (two_person = "always")' \
                in reply
            withdrawn = await w.say("bob", "/unblock newbie wrong account")
            assert withdrawn.splitlines() == ["Case #1: withdrawn by bob.",
                                              "➖ GitHub: newbie was not blocked."]
            assert w.at("moderators")[-1].text.startswith("**Case #1: withdrawn by bob**")
            assert not github.called("PUT", "/orgs/jazzband/blocks/newbie")
        never = {"moderation": {"two_person": "never"}}
        async with world(tmp_path, db, clock, github, never) as w:
            reply = await w.say("bob", "/block olive spam")
            assert "✅ GitHub: olive is blocked in the jazzband org." in reply


async def test_every_refusal_says_why_and_goes_to_the_modlog(tmp_path: Path, db: Database,
                                                             clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        refusals = {
            "/block alice spam": "alice is an admin; admins cannot be blocked.",
            "/block dana spam": "dana is a moderator; moderators cannot be blocked.",
            "/block roadie-bot spam": "roadie-bot is Roadie itself; Roadie does not block "
                                      "itself.",
            "/block bob spam": "You cannot block yourself.",
            "/block discord:1002 spam": "You cannot block yourself.",
            "/block sam spam --delete-messages 9": "`--delete-messages` takes 0 to 7 days, "
                                                   "not 9.",
            "/block sam spam --github --delete-messages 1": "`--delete-messages` deletes chat "
                                                           "messages, but this block is for "
                                                           "GitHub only.",
            "/block sam spam --chat": "sam has no chat account that Roadie knows.",
            "/block discord:2001 spam --github": "discord:2001 has no GitHub login that Roadie "
                                                 "knows.",
            "/unblock sam changed my mind": "sam is not blocked by any open case.",
            "/block confirm 7": "There is no case #7.",
        }
        for command, reason in refusals.items():
            reply = await w.say("bob", command)
            assert reply.startswith(f"✋ {reason}"), (command, reply)
            assert reason in w.last("modlog"), command
            assert w.last("modlog").startswith("**Refused: bob's `")
        assert not github.called("PUT", "/orgs/jazzband/blocks/sam")
        assert w.chat.bans == []
        assert "✋ A block needs a reason" not in await w.say("bob", "/block sam")  # usage
        assert "`reason` is missing" in w.replies[-1].text
        # Only moderators block: the framework refuses members before anything runs.
        assert (await w.say("carol", "/block sam spam")).startswith(
            "✋ /block user needs the moderator role")

        assert "Case #1" in await w.say("bob", "/block sam spam")
        taken = await w.say("dana", "/block sam spam again")
        assert taken.startswith("✋ sam is already blocked by case #1.")


async def test_a_timed_block_lifts_itself_after_a_restart(tmp_path: Path, db: Database,
                                                          clock: FakeClock) -> None:
    chat = OrderedChat()
    async with fake_github() as github:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        async with world(tmp_path, db, clock, github, chat=chat) as w:
            await w.link("sam", SPAMMER_DISCORD)
            reply = await w.say("bob", "/block sam spam --for 2h")
            assert "✅ GitHub: sam is blocked in the jazzband org." in reply
            assert "Until 2026-01-05 11:00 UTC (in 2h)." in w.last("modlog")
        assert "sam" in github.blocked

        clock.advance(timedelta(hours=3))
        restarted = Database(db.url)
        try:
            async with world(tmp_path, restarted, clock, github, chat=chat) as w:
                await w.run_job("moderation.sweep")

                assert "sam" not in github.blocked
                assert chat.unbans == [(SPAMMER_DISCORD, "case #1: its time ran out")]
                ran_out = w.last("modlog")
                assert "**Case #1: the block of sam ran out**" in ran_out
                assert "↩️ GitHub: sam is unblocked in the jazzband org." in ran_out
                assert "↩️ Discord: sam (2001) is unbanned." in ran_out
                shown = await w.say("bob", "/case 1")
                assert "**Case #1**: sam, lifted" in shown
                assert "Lifted 2026-01-05 12:00 UTC by Roadie: its time ran out" in shown
        finally:
            restarted.dispose()


async def test_unblock_lifts_everywhere(tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        await w.link("sam", SPAMMER_DISCORD)
        await w.say("bob", "/block sam spam")
        w.chat.fail_next(1, PlatformError("discord", "503 Service Unavailable"), only=("unban",))

        reply = await w.say("dana", f"/unblock discord:{SPAMMER_DISCORD} it was a false alarm")

        assert reply.splitlines()[:2] == ["Case #1: sam unblocked by dana.",
                                          "↩️ GitHub: sam is unblocked in the jazzband org."]
        assert ("⏳ Discord: sam (2001) is still blocked: discord answered: 503 Service "
                "Unavailable.") in reply
        assert "sam" not in github.blocked
        clock.advance(timedelta(minutes=1))
        await w.run_job("moderation.sweep")
        assert w.chat.unbans == [(SPAMMER_DISCORD, "case #1: it was a false alarm")]
        listed = await w.say("bob", "/cases sam")
        assert "#1 lifted, 2026-01-05 09:00 UTC, by bob: sam: spam" in listed


async def test_a_refused_lift_is_reported_and_tried_again_on_request(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        await w.say("bob", f"/block discord:{SPAMMER_DISCORD} spam")
        w.chat.fail_next(1, PlatformError("discord", "403 Missing Permissions", permanent=True),
                         only=("unban",))
        reply = await w.say("bob", f"/unblock discord:{SPAMMER_DISCORD} appeal granted")
        assert ("❌ Discord: 2001 is STILL blocked: discord answered: 403 Missing Permissions. "
                "Lift it by hand, or try again with `/unblock`.") in reply
        again = await w.say("bob", f"/unblock discord:{SPAMMER_DISCORD} permissions fixed")
        assert again.splitlines() == ["Case #1: discord:2001, lift tried again by bob.",
                                      "↩️ Discord: 2001 is unbanned."]
        assert w.chat.unbans == [(SPAMMER_DISCORD, "case #1: appeal granted")]


async def test_the_rate_limit(tmp_path: Path, db: Database, clock: FakeClock) -> None:
    overrides = {"moderation": {"rate_limit": 2, "rate_window": "1h"}}
    async with fake_github() as github, world(tmp_path, db, clock, github, overrides) as w:
        for login in ("s1", "s2", "s3"):
            github.add_user(login, created_at=iso(clock.now() - timedelta(days=3)))
        assert "✅ GitHub: s1 is blocked" in await w.say("bob", "/block s1 spam")
        clock.advance(timedelta(minutes=10))
        assert "✅ GitHub: s2 is blocked" in await w.say("bob", "/block s2 spam")

        refused = await w.say("bob", "/block s3 spam")
        assert refused == ("✋ You have made 2 blocks in the last 1h; the limit is 2. You can "
                           "block again at 2026-01-05 10:00 UTC. If more are needed now, ask "
                           "another moderator; if this was not you, tell an admin at once.")
        assert "You have made 2 blocks in the last 1h" in w.last("modlog")
        assert "s3" not in github.blocked
        # Another moderator is not held back; and the limit frees up as the hour passes.
        assert "✅ GitHub: s3 is blocked" in await w.say("dana", "/block s3 spam")
        clock.advance(timedelta(minutes=51))
        await w.say("dana", "/unblock s3 to test the limit")
        assert "✅ GitHub: s3 is blocked" in await w.say("bob", "/block s3 spam")


async def test_the_case_log(tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        await w.link("sam", SPAMMER_DISCORD)
        await w.say("bob", "/block discord:2001 spam --chat")

        amended = await w.say("dana", "/case 1 reason crypto spam in #general")
        assert amended == "Case #1: the reason is now: crypto spam in #general"
        assert "Was: spam" in w.last("modlog")
        appeal = await w.say("dana", "/case 1 appeal denied: the links were malware")
        assert appeal.startswith("Case #1: appeal recorded: denied: the links were malware")
        assert "`/unblock discord:2001 <reason>`" in appeal

        shown = await w.say("bob", "/case 1")
        assert "Reason: crypto spam in #general" in shown
        assert "Reason amended 2026-01-05 09:00 UTC by dana (was: spam)" in shown
        assert "Appeal recorded 2026-01-05 09:00 UTC by dana: denied: the links were malware" \
            in shown
        assert "GitHub" not in shown  # --chat: the GitHub account was left alone
        # History by any linked identity, and by moderator.
        assert "#1 active" in await w.say("bob", "/cases sam")
        assert "#1 active" in await w.say("bob", "/cases discord:2001")
        by_bob = await w.say("alice", "/cases by bob")
        assert by_bob.splitlines()[0] == "Cases opened or confirmed by bob, newest first:"
        assert await w.say("alice", "/cases by dana") == \
            "dana has opened or confirmed no cases."
        assert (await w.say("bob", "/case 1 spam")).startswith(
            "✋ `action` should be one of: reason, appeal")
        assert (await w.say("bob", "/case 9")).startswith("✋ There is no case #9.")


async def test_a_block_github_refuses_closes_its_case_and_is_not_counted(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    overrides = {"moderation": {"rate_limit": 1, "rate_window": "1h"}}
    async with fake_github() as github, world(tmp_path, db, clock, github, overrides) as w:
        github.add_user("owner", created_at=iso(clock.now() - timedelta(days=3)))
        github.admins.add("owner")  # GitHub answers 422
        github.add_user("s1", created_at=iso(clock.now() - timedelta(days=3)))

        refused = await w.say("bob", "/block owner spam --github")
        assert "owner is NOT blocked: github answered: 422" in refused
        case = await w.roadie.db.run(lambda session: cases.get_case(session, 1))
        assert case.state == "refused"
        assert "#1 closed: refused everywhere, nothing is blocked" in await w.say(
            "bob", "/cases owner")
        assert "owner is not blocked by any open case" in await w.say(
            "bob", "/unblock owner never blocked")
        # The refused block does not use up bob's one block of the hour.
        assert "✅ GitHub: s1 is blocked" in await w.say("bob", "/block s1 spam")


async def test_cases_by_roadie_finds_its_own_cases(tmp_path: Path, db: Database,
                                                   clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        opening = cases.Opening(subject="spammy", accounts=(github_account("spammy"),),
                                reason="spam signals: new account, link flood")
        await w.roadie.db.run(lambda session: cases.open_case(
            session, actor=Actor.system(), now=clock.now(), hold=CLAIM, opening=opening))
        for name in ("roadie", "roadie-bot"):
            found = await w.say("alice", f"/cases by {name}")
            assert found.splitlines()[0] == f"Cases opened or confirmed by {name}, newest first:"
            assert "#1 active" in found
            assert "by Roadie: spammy: spam signals" in found


async def test_refusing_to_block_a_config_moderator_says_to_edit_the_config(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github) as w:
        seeded = await w.say("bob", "/block dana spam")
        assert seeded == (
            "✋ dana is a moderator; moderators cannot be blocked. The role comes from the "
            "config file: if the account is compromised, an admin removes dana from "
            "`moderators` under [people] in the config and restarts Roadie, then blocks it.")
        assert "/revoke" not in seeded
        await w.say("alice", "/grant carol moderator")
        granted = await w.say("bob", "/block carol spam")
        assert granted.endswith("If the account is compromised, an admin first runs "
                                "`/revoke carol moderator`, then blocks it.")
