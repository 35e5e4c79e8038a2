"""Votes on the console, with ballots open for a minute and a clock the test moves.

People: alice (admin), bob (moderator), carol, dave, erin and frank (members); without a
GitHub token the electorate "org" is everyone with a role.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from governance.audit import verify
from governance.db import Database
from governance.votes.integrity import verify_votes
from tests.cogs.voting.world import scene


async def test_a_nomination_that_passes_makes_a_lead(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        out = await s.as_("frank", "/nominate carol django-sample Carol knows it best")
        assert "carol has no chat account linked to Roadie, so could not be told" in out
        await s.as_("carol", "/vote decline 1 not this year")
        await s.as_("dave", "/whoami")  # dave links his console account
        out = await s.as_("carol", "/nominate dave django-sample Dave has kept it alive all year")
        assert ("Nomination #2 is made; dave has been asked to accept by 2026-01-05 09:00 UTC"
                in out)
        assert "[@dave] **You are nominated as a lead of django-sample**" in out
        assert "Accept: `/vote accept 2` · Decline: `/vote decline 2`" in out

        out = await s.as_("erin", "/vote 2 +1")
        assert "Nomination #2 waits for dave to accept; the ballot opens then." in out

        out = await s.as_("dave", "/vote accept 2")
        assert "You accepted nomination #2; the ballot is open until 2026-01-05 09:01 UTC." in out
        assert "**Vote #2: dave as lead of django-sample**" in out
        assert "- **Electorate**: 5 binding voters (the org)" in out

        await s.as_("alice", "/vote 2 +1 Dave reviews every pull request")
        await s.as_("bob", "/vote 2 +1")
        out = await s.as_("erin", "/vote 2 0")
        assert "- **Ballots**: alice +1: Dave reviews every pull request; bob +1; erin 0" in out
        assert "- **Count**: binding: 2 for, 0 against, 1 abstaining" in out

        out = await s.as_("erin", "/vote 2 +1")
        assert "Your ballot on vote #2 changed from 0 to +1." in out

        out = await s.at(61)
        assert "[#feed] **Vote #2 closed: dave as lead of django-sample**" in out
        assert "Passed (no reasoned objection: 3 for, 0 against)" in out
        # Without a GitHub token Roadie cannot add dave to the team: an admin is asked to.
        assert "[#admins] **Escalation #1: permissions for django-sample**" in out
        assert "add them to the GitHub team django-sample-leads" in out

        out = await s.as_("dave", "/whoami")
        assert "Lead of: django-sample." in out
        def transact(session: Session) -> None:
            assert verify(session).ok
            assert verify_votes(session) == (1, [])
        await db.run(transact)


async def test_a_nomination_that_fails_on_quorum(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db, {"nomination": {"nominee_accepts": False,
                                                   "threshold": "majority"}}) as s:
        out = await s.as_("carol", "/nominate dave pip-tools-demo Dave wrote the resolver")
        assert "Vote #1 on dave as lead of pip-tools-demo is open until" in out
        await s.as_("alice", "/vote 1 +1")
        await s.as_("carol", "/vote 1 +1")
        out = await s.at(61)
        assert "Failed (no quorum: 2 binding ballot(s) of the 3 needed)" in out
        assert "Escalation" not in out
        assert "Lead of" not in await s.as_("dave", "/whoami")


async def test_consensus_a_reasoned_objection_vetoes(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        await s.as_("carol", "/nominate carol django-sample I would like to lead it")
        for voter in ("alice", "bob", "dave"):
            await s.as_(voter, "/vote 1 +1")
        out = await s.as_("erin", "/vote 1 -1 carol has not reviewed a pull request here yet")
        assert "Under consensus" not in out
        out = await s.at(61)
        assert ("Failed (objected to with a reason by erin)" in out)
        assert "erin -1: carol has not reviewed a pull request here yet" in out


async def test_consensus_an_unreasoned_objection_has_no_weight(tmp_path: Path,
                                                                 db: Database) -> None:
    async with scene(tmp_path, db) as s:
        await s.as_("carol", "/nominate carol django-sample I would like to lead it")
        for voter in ("alice", "bob", "dave"):
            await s.as_(voter, "/vote 1 +1")
        out = await s.as_("erin", "/vote 1 -1")
        assert ("Under consensus an objection without a reason has no weight; give one with "
                "`/vote 1 -1 <reason>`.") in out
        out = await s.at(61)
        assert ("Passed (no reasoned objection: 3 for, 1 against; without a reason, the "
                "objection of erin has no weight)") in out


async def test_a_concern_holds_the_close_until_resolved(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        await s.as_("carol", "/nominate carol django-sample I would like to lead it")
        for voter in ("alice", "bob", "dave"):
            await s.as_(voter, "/vote 1 +1")
        out = await s.as_("erin", "/vote concern 1 security policy first")
        assert ("Concern 'security policy first' holds vote #1 until you or an admin resolve "
                "it") in out
        assert "- **Open concerns**: 'security policy first' by erin" in out

        out = await s.at(61)
        assert "- **Closes**: held by open concerns" in out
        assert "closed" not in out
        assert await s.at(120) == ""
        out = await s.as_("dave", "/vote 1 0 changed my mind")
        assert "changed from +1 to 0" in out

        out = await s.as_("dave", "/vote resolve 1 security policy first")
        assert "Only erin, who raised it, or an admin can resolve the concern" in out
        out = await s.as_("erin", "/vote resolve 1 Security Policy First")
        assert "Concern 'security policy first' on vote #1 is resolved." in out
        assert "Its deadline had passed: the vote is closed." in out
        assert "[#feed] **Vote #1 closed: carol as lead of django-sample**" in out
        assert "Passed (no reasoned objection: 2 for, 0 against, 1 abstaining)" in out


async def test_a_dispute_ending_in_a_revert_escalation(tmp_path: Path, db: Database) -> None:
    async with scene(tmp_path, db) as s:
        out = await s.as_("carol", "/dispute django-sample "
                                   "https://github.com/jazzband/django-sample/commit/9f8e7d6c5b4a"
                                   " dave pushed to main without a merged pull request")
        assert "Vote #1 on the direct push 9f8e7d6c5b to django-sample is open" in out
        assert ("Revert: `/vote 1 revert` · Keep: `/vote 1 keep` · Keep, with a follow-up "
                "review: `/vote 1 review` · Abstain: `/vote 1 0`") in out
        await s.as_("alice", "/vote 1 revert")
        await s.as_("bob", "/vote 1 revert it broke the release")
        await s.as_("erin", "/vote 1 review")
        await s.as_("dave", "/vote 1 keep")
        out = await s.at(61)
        assert "Decided: Revert (carried: 2 revert, 1 keep, 1 review)" in out
        assert "[#admins] **Escalation #1: permissions for django-sample**" in out
        assert ("Vote #1 decided to revert the direct push 9f8e7d6c5b4a to django-sample"
                in out)
        assert "[@carol] **Escalation #1 was opened for you**" in out


async def test_a_secret_ballot_is_revealed_only_at_the_close(tmp_path: Path,
                                                              db: Database) -> None:
    async with scene(tmp_path, db, {"nomination": {"secret": True}}) as s:
        out = await s.as_("carol", "/nominate carol django-sample I would like to lead it")
        assert ("- **Rules**: consensus (no reasoned objection), quorum 3 binding ballots, "
                "secret ballots until the close") in out
        out = await s.as_("alice", "/vote 1 +1 yes")
        assert "How you voted stays secret until the close." in out
        await s.as_("bob", "/vote 1 -1 too early")
        out = await s.as_("dave", "/vote 1 +1")
        assert "- **Ballots**: 3 cast, by alice, bob, dave (secret until the close)" in out
        assert "+1" not in out.split("- **Ballots**")[1].split("\n")[0]
        assert "**Count**" not in out
        shown = await s.as_("erin", "/vote 1")
        assert "too early" not in shown
        assert "secret until the close" in shown

        out = await s.at(61)
        assert "alice +1: yes; bob -1: too early; dave +1" in out
        assert "Failed (objected to with a reason by bob)" in out
        def transact(session: Session) -> None:
            assert verify_votes(session) == (1, [])
        await db.run(transact)


async def test_every_wrong_input_is_refused_with_its_reason(tmp_path: Path,
                                                             db: Database) -> None:
    async with scene(tmp_path, db, {"nomination": {"electorate": "project-team",
                                                   "advisory": False, "quorum": 1}}) as s:
        out = await s.as_("carol", "/vote 7 +1")
        assert "There is no vote #7. `/votes` lists the open votes." in out
        out = await s.as_("carol", "/nominate zed django-sample why not")
        assert "zed is not a member of jazzband" in out
        out = await s.as_("carol", "/nominate dave nosuchproject reason")
        assert "nosuchproject" in out
        assert "✋" in out
        out = await s.as_("carol", "/dispute django-sample zzz-not-a-sha reason")
        assert "'zzz-not-a-sha' is not a commit." in out
        out = await s.as_("carol", "/dispute django-sample "
                                   "https://github.com/other/repo/commit/abcdef1 reason")
        assert "That commit belongs to other/repo, not to jazzband/django-sample." in out

        # The team of a project, without a GitHub token: its leads and the admins.
        out = await s.as_("carol", "/nominate carol django-sample I would like to lead it")
        assert "Vote #1 on carol as lead of django-sample is open" in out
        out = await s.as_("carol", "/nominate carol django-sample again")
        assert "carol is already nominated for django-sample: vote #1." in out
        out = await s.as_("erin", "/vote 1 +1")
        assert ("You are not in the electorate of vote #1 (the django-sample team and the "
                "admins, as of its opening), and this vote takes no advisory ballots.") in out
        out = await s.as_("alice", "/vote 1 +2")
        assert ("'+2' is not a ballot on a nomination. Vote +1 (for), 0 (abstain) or -1 "
                "(against)") in out
        out = await s.as_("erin", "/vote cancel 1 no")
        assert "Only carol, who opened vote #1, or an admin can cancel it." in out
        out = await s.as_("erin", "/vote refresh 1")
        assert "✋" in out

        await s.as_("alice", "/vote 1 +1")
        out = await s.at(61)
        assert "Passed" in out
        out = await s.as_("alice", "/vote 1 -1 too late")
        assert "Vote #1 was closed at 2026-01-05 09:01 UTC: no ballots after that." in out
        out = await s.as_("alice", "/vote concern 1 late")
        assert "Vote #1 is closed; you cannot raise a concern on it any more." in out
