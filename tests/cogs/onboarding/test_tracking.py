"""Tracking: ticks on GitHub and in chat, admin items escalated, closing, the views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from governance.audit import Actor
from governance.db import Database
from governance.escalations.models import Ticket
from governance.people.roles import Role
from governance.people.service import grant_role, link_directly
from tests.cogs.moderation.world import fake_github
from tests.cogs.onboarding.world import (
    BASE,
    REPO,
    SECRET,
    SENDER,
    World,
    issue_event,
    transferred,
    world,
)
from tests.fakes.github import FakeGitHub
from tests.support import RecordingChat, deliver, make_config, running, say

MEMBER_AND_LEAD = ("links", "badge", "contributing", "ci", "docs", "project-url", "services")
ADMIN_ITEMS = ("required-checks", "pypi", "webhook", "lead", "release")


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with fake_github() as fake:
        yield fake


@pytest.fixture
async def w(tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
            github: FakeGitHub) -> AsyncIterator[World]:
    async with world(tmp_path, db, monkeypatch, github) as here:
        await here.transfer()
        await here.roadie.db.run(lambda session: grant_role(
            session, actor=Actor.system(), login='lena', role=Role.LEAD, project=REPO,
            now=here.clock.now()))
        yield here


async def tickets(w: World) -> list[Ticket]:
    return await w.roadie.db.run(
        lambda session: list(session.exec(select(Ticket).order_by(Ticket.number)).all()))


async def test_ticks_on_github_update_the_items(w: World) -> None:
    w.clock.advance(timedelta(hours=2))
    assert await w.edit(w.tick_on_github("links", "badge"), sender="dave") == 202
    links = await w.item("links")
    assert (links.done_by, links.done_at, links.done_via) == ("dave", w.clock.now(), "github")
    assert (await w.item("badge")).done
    assert not (await w.item("ci")).done
    assert (await w.checklist())[0].last_progress_at == w.clock.now()

    # Unticking counts too; an edit that changes no box changes nothing.
    body = w.tick_on_github("links", "badge").replace("- [x] `badge`", "- [ ] `badge`")
    await w.edit(body, sender="carol")
    assert not (await w.item("badge")).done
    assert (await w.item("links")).done_by == "dave"
    await w.edit(body + "\nA note.", sender="carol")
    assert [i.key for i in (await w.checklist())[1] if i.done] == ["links"]

    # Roadie's own edits, and edits of other issues, are not the checklist's.
    await w.deliver("issues", issue_event("edited", 1, body=w.tick_on_github("ci"),
                                          sender="roadie-bot"))
    await w.deliver("issues", issue_event("edited", 7, body=w.tick_on_github("ci")))
    assert not (await w.item("ci")).done


async def test_when_only_admin_items_are_left_they_become_escalations(w: World) -> None:
    await w.edit(w.tick_on_github(*MEMBER_AND_LEAD[:-1]))
    assert await tickets(w) == []
    await w.edit(w.tick_on_github(*MEMBER_AND_LEAD))

    opened = await tickets(w)
    assert [(t.kind, t.project, t.reporter, t.source) for t in opened] == [
        ("required-checks", REPO, SENDER, "onboarding:hello-world:required-checks"),
        ("pypi", REPO, SENDER, "onboarding:hello-world:pypi"),
        ("webhook", REPO, SENDER, "onboarding:hello-world:webhook"),
        ("permissions", REPO, SENDER, "onboarding:hello-world:lead"),
        ("release", REPO, SENDER, "onboarding:hello-world:release")]
    assert opened[2].summary == ("Onboarding of Hello-World: Add the Read the Docs webhook to "
                                 "the repository (`webhook`; only admin items are left)")
    assert [(i.key, i.escalation) for i in (await w.checklist())[1] if i.who == "admin"] == [
        ("required-checks", 1), ("pypi", 2), ("webhook", 3), ("lead", 4), ("release", 5)]
    comments = [c["body"] for c in w.issue(1).comments]
    assert comments[2] == (
        "The item `webhook` (Add the Read the Docs webhook to the repository) needs an org "
        "admin, so Roadie escalated it to the admins: escalation `#3` (webhook). In chat, "
        "`/escalation 3` shows where it stands.")
    assert len(comments) == 5
    assert any("Escalation #3: webhook for Hello-World" in t for t in w.texts("admins"))

    # Nothing is escalated twice: not by the sweep, not by the same edit delivered again.
    await w.advance(timedelta(days=8))
    await w.edit(w.tick_on_github(*MEMBER_AND_LEAD))
    assert len(await tickets(w)) == 5
    assert len(w.issue(1).comments) == 5


async def test_an_admin_item_open_too_long_is_escalated(w: World) -> None:
    assert await w.advance(timedelta(days=6, hours=23)) == 0
    await w.advance(timedelta(hours=1))
    opened = await tickets(w)
    assert len(opened) == 5
    assert opened[0].summary == ("Onboarding of Hello-World: Make the CI jobs required checks "
                                 "on the default branch (`required-checks`; open for more "
                                 "than 7d)")
    assert len(w.issue(1).comments) == 5


async def test_a_project_moved_in_by_a_bot_is_reported_by_roadie(w: World) -> None:
    payload = transferred("pip-tools-demo")
    payload["sender"]["login"] = "renovate[bot]"
    await w.deliver("repository", payload)
    await w.advance(timedelta(days=7))
    assert {(t.project, t.reporter) for t in await tickets(w)} == {
        (REPO, SENDER), ("pip-tools-demo", "roadie-bot")}


async def test_ticking_from_chat_edits_the_issue(w: World, github: FakeGitHub) -> None:
    answer = await w.say("carol", "/onboarding Hello-World done links")
    assert answer == "Ticked `links` of Hello-World: 1 of 12 done. The GitHub issue shows it."
    assert "- [x] `links` Fix the links" in w.issue(1).body
    assert "- [ ] `badge`" in w.issue(1).body
    assert (await w.item("links")).done_by == "carol"
    assert not (await w.item("links")).sync_pending

    # The issue's number works as well as its key; a tick on GitHub in between is kept.
    await w.edit(w.tick_on_github("badge"))
    assert await w.say("lena", "/onboarding hello-world done 7") == (
        "Ticked `docs` of Hello-World: 3 of 12 done. The GitHub issue shows it.")
    assert "- [x] `badge`" in w.issue(1).body
    assert "- [x] `docs`" in w.issue(1).body
    assert await w.say("carol", "/onboarding Hello-World undo links") == (
        "Unticked `links` of Hello-World: 2 of 12 done. The GitHub issue shows it.")
    assert "- [ ] `links`" in w.issue(1).body

    # GitHub down: the tick is kept and the issue catches up later.
    github.fail("PATCH", f"/repos/jazzband/{REPO}/issues/1", status=502)
    answer = await w.say("carol", "/onboarding Hello-World done ci")
    assert answer.endswith("The GitHub issue is behind: Roadie tries again until GitHub "
                           "takes it.")
    assert "- [ ] `ci`" in w.issue(1).body
    # Meanwhile someone ticks another box on GitHub: the issue does not show `ci` ticked
    # yet, and that does not undo the tick made in chat.
    await w.edit(w.tick_on_github("contributing"))
    assert (await w.item("ci")).done
    assert (await w.item("contributing")).done
    await w.advance(timedelta(seconds=15))
    assert "- [x] `ci`" in w.issue(1).body
    assert "- [x] `contributing`" in w.issue(1).body


async def test_chat_refusals_say_what_to_do(w: World) -> None:
    assert await w.say("carol", "/onboarding Hello-World done webhook") == (
        "✋ `webhook` is for an org admin; Roadie knows you as carol. If it is done, ask one "
        "of them to tick it, or tick it on the issue.")
    assert await w.say("carol", "/onboarding Hello-World done docs") == (
        "✋ `docs` is for a lead of the project; Roadie knows you as carol. If it is done, "
        "ask one of them to tick it, or tick it on the issue.")
    assert await w.say("carol", "/onboarding Hello-World done coffee") == (
        "✋ Hello-World has no onboarding item 'coffee'. Its items: links, badge, "
        "contributing, ci, required-checks, pypi, docs, webhook, project-url, services, "
        "lead, release.")
    assert await w.say("carol", "/onboarding Hello-World done") == (
        "✋ Say which item: `/onboarding Hello-World done <item>`. Its items: links, badge, "
        "contributing, ci, required-checks, pypi, docs, webhook, project-url, services, "
        "lead, release.")
    assert await w.say("carol", "/onboarding Hello-World links") == (
        "✋ `action` should be one of: done, undo, not 'links'. Usage: `/onboarding [project] "
        "[done|undo] [item]` (`/help onboarding` explains it).")
    assert await w.say("carol", "/onboarding Nowhere done links") == (
        "✋ There is no onboarding checklist for 'Nowhere'. Open checklists: Hello-World. "
        "`/onboarding` lists them.")
    await w.say("carol", "/onboarding Hello-World done links")
    assert await w.say("carol", "/onboarding Hello-World done links") == (
        "✋ `links` is already ticked by carol on 2026-01-05. `/onboarding Hello-World` shows "
        "every item.")
    assert await w.say("alice", "/onboarding Hello-World done webhook") == (
        "Ticked `webhook` of Hello-World: 2 of 12 done. The GitHub issue shows it.")


async def test_closing_the_issue_completes_the_checklist(w: World) -> None:
    await w.edit(w.tick_on_github("links"))
    w.clock.advance(timedelta(days=1))
    await w.deliver("issues", issue_event("closed", 1, body=w.issue(1).body, sender="lena"))
    checklist, items = await w.checklist()
    assert (checklist.state, checklist.completed_by) == ("completed", "lena")
    assert all(i.escalate_at is None for i in items)
    assert w.texts("feed")[-1] == (
        "**Onboarding of Hello-World is complete** "
        "(https://github.com/jazzband/Hello-World/issues/1)\nCompleted by lena: 1 of 12 done. "
        "Left open: badge, contributing, ci, required-checks, pypi, docs, webhook, "
        "project-url, services, lead, release.")
    assert await w.advance(timedelta(days=7)) == 0  # nothing is escalated any more
    assert await tickets(w) == []
    await w.deliver("issues", issue_event("reopened", 1, body=w.issue(1).body, sender="lena"))
    assert (await w.checklist())[0].state == "open"


async def test_every_item_ticked_closes_the_issue(w: World) -> None:
    await w.edit(w.tick_on_github(*MEMBER_AND_LEAD, *ADMIN_ITEMS[:-1]))
    assert await w.say("alice", "/onboarding Hello-World done release") == (
        "Ticked `release` of Hello-World: 12 of 12 done. The GitHub issue shows it. "
        "Escalation #1 is resolved with it. Every item is done: the onboarding is complete.")
    assert w.issue(1).state == "closed"
    assert w.issue(1).comments[-1]["body"] == ("Every item is ticked: the onboarding is "
                                               "complete. Thank you!")
    assert (await w.checklist())[0].state == "completed"


async def test_the_views(w: World) -> None:
    await w.edit(w.tick_on_github("links", "badge"), sender="dave")
    await w.transfer("pip-tools-demo")
    w.clock.advance(timedelta(days=15))
    assert await w.say("carol", "/onboarding") == (
        "Open onboarding checklists:\n"
        "- Hello-World: 2 of 12 done, open for 15d, STUCK: no progress for 15d; waiting on "
        "admins: required-checks, pypi, webhook, lead, release "
        "(https://github.com/jazzband/Hello-World/issues/1)\n"
        "- pip-tools-demo: 0 of 12 done, open for 15d, STUCK: no progress for 15d; waiting "
        "on admins: required-checks, pypi, webhook, lead, release "
        "(https://github.com/jazzband/pip-tools-demo/issues/2)\n"
        "`/onboarding <project>` shows a checklist's items.")
    await w.advance(timedelta(seconds=1))  # the admin items are escalated now
    detail = await w.say("carol", "/onboarding hello-world")
    assert detail.splitlines() == [
        "**Onboarding of Hello-World: 2 of 12 done** "
        "(https://github.com/jazzband/Hello-World/issues/1)",
        "Hello-World: open for 15d, STUCK: no progress for 15d.",
        "✅ `links` Fix the links to the old repository: README, docs, package metadata (any "
        "member): ticked by dave on 2026-01-05",
        "✅ `badge` Add the jazzband badge to the README (any member): ticked by dave on "
        "2026-01-05",
        "⬜ `contributing` Add the contributing guideline and the code of conduct (any "
        "member): open",
        "⬜ `ci` Check that CI runs on pushes and pull requests, and reports coverage (any "
        "member): open",
        "⬜ `required-checks` Make the CI jobs required checks on the default branch (an org "
        "admin): escalated to the admins as #1",
        "⬜ `pypi` Give jazzband the owner role on PyPI (needed for trusted publishing) (an "
        "org admin): escalated to the admins as #2",
        "⬜ `docs` Add the jazzband bot as a maintainer on Read the Docs (a project lead): open",
        "⬜ `webhook` Add the Read the Docs webhook to the repository (an org admin): "
        "escalated to the admins as #3",
        "⬜ `project-url` Fix the project URL on PyPI and in the repository's About box (a "
        "project lead): open",
        "⬜ `services` Move other services (coverage, pre-commit, badges) to the new "
        "repository (a project lead): open",
        "⬜ `lead` Decide who leads the project, and appoint them (an org admin): escalated "
        "to the admins as #4",
        "⬜ `release` Set up the release workflow and its secrets (an org admin): escalated "
        "to the admins as #5",
        "*`/onboarding Hello-World done <item>` ticks an item.*"]
    listing = await w.say("carol", "/onboarding")
    assert ("- Hello-World: 2 of 12 done, open for 15d, STUCK: no progress for 15d; waiting "
            "on admins: required-checks (escalation #1), pypi (escalation #2), webhook "
            "(escalation #3), lead (escalation #4), release (escalation #5) "
            "(https://github.com/jazzband/Hello-World/issues/1)") in listing


async def test_the_leads_get_a_check_in_after_thirty_days(w: World) -> None:
    await w.edit(w.tick_on_github("links"))
    assert await w.advance(timedelta(days=29)) > 0  # the admin items, after 7d
    assert w.texts("dm:1005") == []
    await w.advance(timedelta(days=1))
    assert w.texts("dm:1005") == [
        "**Check-in: Hello-World, 30 days in** "
        "(https://github.com/jazzband/Hello-World/issues/1)\n"
        "Hello-World joined the org 30 days ago. How is it going? Anything the admins or the "
        "other members can help with?\n"
        "Onboarding: 1 of 12 done; open: badge (member), contributing (member), ci (member), "
        "required-checks (admin), pypi (admin), docs (lead), webhook (admin), project-url "
        "(lead), services (lead), lead (admin), release (admin).\n"
        "*`/onboarding Hello-World` shows the checklist.*"]
    await w.advance(timedelta(days=1))
    assert len(w.texts("dm:1005")) == 1
    assert [s.key for s in w.chat.at("dm:1005")] == ["onboarding:hello-world:checkin:lena"]


async def test_a_project_without_reachable_leads_is_checked_in_on_its_feed(
        w: World) -> None:
    await w.transfer("pip-tools-demo")
    await w.advance(timedelta(days=30))
    [checkin] = [t for t in w.texts("feed") if "Check-in: pip-tools-demo" in t]
    assert "The project has no lead yet: an admin appoints one with `/grant`." in checkin


async def test_without_github_the_checklist_lives_in_roadie(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADIE_TEST_ONBOARDING_SECRET", SECRET)
    config = make_config(tmp_path, BASE)
    chat = RecordingChat("discord")
    async with running(config, db=db, transports=[chat]) as roadie:
        await roadie.db.run(lambda session: link_directly(
            session, actor=Actor.system(), platform='discord', user_id='1004', display_name='carol',
            login='carol', now=roadie.clock.now()))
        await deliver(roadie, "repository", transferred(), secret=SECRET)
        assert chat.texts("feed") == [
            "**Onboarding of Hello-World started**\n12 items: 4 for members, 3 for leads, 5 "
            "for org admins. Tick them in chat with `/onboarding Hello-World done <item>`."]
        reply = await say(roadie, "discord", "1004", "onboarding Hello-World done links")
        assert reply.as_text() == "Ticked `links` of Hello-World: 1 of 12 done."
        reply = await say(roadie, "discord", "1004", "onboarding Hello-World")
        assert "tracked in Roadie only (no GitHub issue)" in reply.as_text()
        reply = await say(roadie, "discord", "1004", "onboarding Hello-World done webhook")
        assert reply.as_text() == ("✋ `webhook` is for an org admin; Roadie knows you as carol. "
                                   "If it is done, ask one of them to tick it.")


async def test_an_escalation_that_cannot_be_opened_is_reported(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch, github: FakeGitHub,
        caplog: pytest.LogCaptureFixture) -> None:
    kinds = {"webhook": "hooks"}  # merged into the example config's mapping
    async with world(tmp_path, db, monkeypatch, github,
                     {"onboarding": {"escalation_kinds": kinds}}) as w:
        assert ("onboarding item webhook is escalated as 'hooks', which is not one of "
                "[escalations] kinds") in caplog.text
        await w.transfer()
        await w.advance(timedelta(days=7))
        assert [t.kind for t in await tickets(w)] == ["required-checks", "pypi", "permissions",
                                               "release"]
        webhook = await w.item("webhook")
        assert (webhook.escalation, webhook.escalate_at) == (None, None)
        assert webhook.escalation_error == "'hooks' is not a kind of escalation."
        [failure] = [t for t in w.texts("admins") if "was not escalated" in t]
        assert failure == (
            "**Onboarding of Hello-World: `webhook` was not escalated** "
            "(https://github.com/jazzband/Hello-World/issues/1)\n"
            "Add the Read the Docs webhook to the repository needs an org admin, but opening "
            "an escalation for it failed: 'hooks' is not a kind of escalation. Check "
            "`[onboarding] escalation_kinds` against `[escalations] kinds`, and `/escalate` it "
            "by hand.")
        assert await w.advance(timedelta(days=1)) == 0  # reported once, not retried
        detail = await w.say("carol", "/onboarding Hello-World")
        assert ("(an org admin): could not be escalated: 'hooks' is not a kind of "
                "escalation.") in detail
