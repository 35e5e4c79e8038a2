"""The escalation commands on the console: every refusal says why and changes nothing."""

from __future__ import annotations

from pathlib import Path

from governance.audit import Actor, history
from governance.clock import FakeClock
from governance.db import Database
from governance.people.service import unlink
from tests.cogs.test_escalation_scenario import START, Scene, escalation_config
from tests.support import Console, running


async def _audit_length(db: Database) -> int:
    return await db.run(lambda session: len(history(session, limit=10_000)))


async def test_bad_input_is_refused_with_the_reason_and_changes_nothing(
        tmp_path: Path, db: Database) -> None:
    clock, console = FakeClock(START), Console()
    async with running(escalation_config(tmp_path), db=db, clock=clock,
                       transports=[console.transport]) as roadie:
        scene = Scene(roadie, console, clock)
        await scene.say("/as alice", "/as carol",
                        "/escalate django-sample webhook Add the Read the Docs webhook")
        before = await _audit_length(db)
        refusals = {
            # An unknown project or kind lists the valid ones.
            "/escalate no-such-project ci fix CI":
                "✋ There is no project called 'no-such-project'. Known projects: "
                "django-sample, pip-tools-demo.",
            "/escalate django-sample cake bake one":
                "✋ 'cake' is not a kind of escalation. Use one of: ci, required-checks, "
                "webhook, secrets, release, pypi, permissions, repo-settings, transfer, other.",
            "/escalate django-sample ci":
                "✋ `summary` is missing: what is needed, in a sentence.",
            # A non-admin trying to acknowledge, resolve or decline is refused with the reason.
            "/escalation ack 1":
                "✋ /escalation ack needs the admin role; Roadie knows you as carol (member).",
            "/escalation resolve 1 done":
                "✋ /escalation resolve needs the admin role; Roadie knows you as carol "
                "(member).",
            "/escalation decline 1 no":
                "✋ /escalation decline needs the admin role; Roadie knows you as carol "
                "(member).",
            # A ticket number that does not exist says so.
            "/escalation 42":
                "✋ There is no escalation #42. `/escalations` lists the open ones; "
                "`/escalations mine` yours.",
            "/escalation comment 42 hello": "✋ There is no escalation #42.",
            "/escalation one": "✋ `number` should be a whole number such as 12, not 'one'.",
            "/escalation reopen 1": "✋ Escalation #1 is still open; it needs no reopening.",
        }
        for line, refusal in refusals.items():
            assert refusal in await scene.say(line), line
        assert await _audit_length(db) == before

        await scene.say("/as alice")
        admin_refusals = {
            "/escalation decline 1":
                "✋ `reason` is missing: why it is declined (the reporter reads it).",
            "/escalation resolve 1": "✋ `note` is missing: what was done.",
            "/escalation assign 1 dave":
                "✋ dave is not an admin, so cannot take escalations. Assign it to an admin: "
                "alice, frank, grace.",
            "/escalation ack 9": "✋ There is no escalation #9.",
            "/back": "✋ You are not marked away.",
            "/away soon": "✋ `duration` should be a duration such as 30s, 15m, 72h, 7d",
            "/away 1y": "✋ `duration` should be a duration",
            "/away 100d": "✋ 100d is longer than the longest absence Roadie takes (90d).",
        }
        for line, refusal in admin_refusals.items():
            assert refusal in await scene.say(line), line
        assert await _audit_length(db) == before

        # A ticket already resolved says so.
        await scene.say("/escalation resolve 1 Webhook added")
        after = await _audit_length(db)
        for line in ("/escalation resolve 1 again", "/escalation ack 1",
                     "/escalation decline 1 too late", "/escalation take 1"):
            out = await scene.say(line)
            assert "✋ Escalation #1 is already resolved by alice" in out, line
            assert "`/escalation reopen 1` opens it again." in out
        assert await _audit_length(db) == after

        # Reopening is for the reporter or an admin; commenting for those involved.
        await scene.say("/as dave")
        after = await _audit_length(db)
        assert ("✋ Only the reporter (carol) or an admin can reopen escalation #1."
                in await scene.say("/escalation reopen 1"))
        assert "✋ Only the people involved in escalation #1 comment on it" in await scene.say(
            "/escalation comment 1 +1")
        assert "✋ /away needs the admin role" in await scene.say("/away 2d")
        assert await _audit_length(db) == after


async def test_reporter_reopens_comments_and_reads_their_own(tmp_path: Path,
                                                             db: Database) -> None:
    clock, console = FakeClock(START), Console()
    async with running(escalation_config(tmp_path), db=db, clock=clock,
                       transports=[console.transport]) as roadie:
        scene = Scene(roadie, console, clock)
        await scene.say("/as frank", "/as alice", "/as carol",
                        "/escalate django-sample secrets Add the PyPI token for releases",
                        "/escalate pip-tools-demo ci CI is not running --urgent")
        out = await scene.say("/as frank", "/escalation decline 1 Trusted publishing needs no "
                                           "token; use it instead")
        assert "[@carol] **Escalation #1 declined**" in out
        assert "[#feed] **Escalation #1 declined**" in out

        out = await scene.say("/as carol", "/escalation reopen 1 Trusted publishing needs the "
                                           "org as PyPI owner")
        assert "Reopened escalation #1; it is to be acknowledged by" in out
        assert "[#admins] **Escalation #1 reopened**" in out
        assert "cc @alice" in out
        out = await scene.say("/escalation comment 1 The project is a sibling of pip-tools-demo")
        assert "Added your comment to escalation #1." in out
        assert "[@alice] **Escalation #1 has a comment**" in out
        assert "carol: The project is a sibling of pip-tools-demo" in out

        out = await scene.say("/escalations mine")
        assert "Reported by you (2):" in out
        assert "#2 pip-tools-demo · ci · urgent: CI is not running" in out
        out = await scene.say("/as frank", "/escalations mine")
        assert "Assigned to you (1):" in out
        assert "#2 pip-tools-demo" in out
        assert "You reported no open escalations." in out

        out = await scene.say("/escalation assign 2 alice")
        assert "Escalation #2 is now assigned to alice." in out
        assert "[@carol] **Escalation #2 reassigned**" in out
        assert "[@alice] **Escalation #2 reassigned**" in out
        out = await scene.say("/escalation 1")
        assert "declined · declined by frank: Trusted publishing needs no token" in out
        assert "reopened · reopened by carol (was declined): Trusted publishing" in out
        assert "commented · The project is a sibling of pip-tools-demo" in out


async def test_unlinked_reporters_hear_in_the_projects_feed(tmp_path: Path,
                                                             db: Database) -> None:
    clock, console = FakeClock(START), Console()
    async with running(escalation_config(tmp_path), db=db, clock=clock,
                       transports=[console.transport]) as roadie:
        scene = Scene(roadie, console, clock)
        await scene.say("/as carol", "/escalate django-sample release Tag 2.0 needs the "
                                     "release secret")
        await scene.say("/as alice")
        await db.run(lambda session: unlink(
            session, actor=Actor.system(), platform='console', user_id='carol', now=clock.now()))
        out = await scene.say("/escalation ack 1")
        assert "[#feed] **Escalation #1 acknowledged**" in out
        assert "cc @carol" in out


async def test_the_list_shows_overdue_tickets_first_with_age_and_time_left(
        tmp_path: Path, db: Database) -> None:
    clock, console = FakeClock(START), Console()
    async with running(escalation_config(tmp_path), db=db, clock=clock,
                       transports=[console.transport]) as roadie:
        scene = Scene(roadie, console, clock)
        await scene.say("/as alice", "/as carol", "/escalate django-sample ci first, normal")
        await scene.at(1)
        await scene.say("/escalate pip-tools-demo release second, urgent --urgent")
        await scene.at(6)
        out = await scene.say("/escalations")
    assert out.index("#2 pip-tools-demo") < out.index("#1 django-sample")
    assert "Open escalations (2, 1 overdue):" in out
    assert "age 5s · OVERDUE by 1s to be acknowledged" in out
    assert "age 6s · 4s left to be acknowledged" in out
