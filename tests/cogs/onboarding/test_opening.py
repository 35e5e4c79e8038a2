"""Opening the checklist: a transferred repository gets one issue, once, whatever happens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from governance.audit import Actor
from governance.db import Database
from governance.onboarding import issue_work
from governance.people.roles import Role
from governance.people.service import grant_role
from governance.projects.service import register_project
from tests.cogs.moderation.world import fake_github
from tests.cogs.onboarding.world import REPO, SENDER, example, world
from tests.fakes.github import FakeGitHub

EXPECTED_BODY = """\
Welcome to jazzband, Hello-World! This checklist tracks the steps of moving in. Tick each \
item when it is done, here or in chat with `/onboarding Hello-World done <item>`. Each line \
says who can do it. The items only an org admin can do are escalated to the admins when \
nothing else is left, or when one has waited 7d: nobody waits silently. Closing this issue \
completes the checklist.

- [ ] `links` Fix the links to the old repository: README, docs, package metadata (any member)
- [ ] `badge` Add the jazzband badge to the README (any member)
- [ ] `contributing` Add the contributing guideline and the code of conduct (any member)
- [ ] `ci` Check that CI runs on pushes and pull requests, and reports coverage (any member)
- [ ] `required-checks` Make the CI jobs required checks on the default branch (an org admin)
- [ ] `pypi` Give jazzband the owner role on PyPI (needed for trusted publishing) (an org admin)
- [ ] `docs` Add the jazzband bot as a maintainer on Read the Docs (a project lead)
- [ ] `webhook` Add the Read the Docs webhook to the repository (an org admin)
- [ ] `project-url` Fix the project URL on PyPI and in the repository's About box (a project lead)
- [ ] `services` Move other services (coverage, pre-commit, badges) to the new repository \
(a project lead)
- [ ] `lead` Decide who leads the project, and appoint them (an org admin)
- [ ] `release` Set up the release workflow and its secrets (an org admin)

<!-- roadie:onboarding -->
"""


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with fake_github() as fake:
        yield fake


async def test_the_transferred_example_opens_a_checklist_issue(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
        github: FakeGitHub) -> None:
    async with world(tmp_path, db, monkeypatch, github) as w:
        def transact(session: Session) -> None:
            register_project(session, name=REPO, now=w.clock.now(), actor=Actor.system())
            grant_role(session, actor=Actor.system(), login="lena", role=Role.LEAD,
                       project=REPO, now=w.clock.now())
        await w.roadie.db.run(transact)
        assert await w.transfer(delivery="transfer-1") == 202

        issue = w.issue(1)
        assert issue.title == "Welcome to jazzband: the onboarding checklist of Hello-World"
        assert issue.body == EXPECTED_BODY
        assert issue.assignees == [SENDER, "lena"]
        assert issue.creator == "roadie-bot"
        checklist, items = await w.checklist()
        assert (checklist.state, checklist.issue_number, checklist.opened_by) == (
            "open", 1, SENDER)
        assert checklist.issue_url == "https://github.com/jazzband/Hello-World/issues/1"
        assert [(i.key, i.who, i.escalation_kind) for i in items[4:6]] == [
            ("required-checks", "admin", "required-checks"), ("pypi", "admin", "pypi")]
        assert [i.key for i in items if i.who == "lead"] == ["docs", "project-url", "services"]
        assert {i.escalate_at for i in items if i.who == "admin"} == {
            w.clock.now() + timedelta(days=7)}
        assert w.texts("feed") == [
            "**Onboarding of Hello-World started** "
            "(https://github.com/jazzband/Hello-World/issues/1)\n12 items: 4 for members, 3 for "
            "leads, 5 for org admins. Tick them on the issue, or in chat with `/onboarding "
            "Hello-World done <item>`."]

        # The same delivery again, and the same event in a new delivery: still one issue.
        assert await w.transfer(delivery="transfer-1") == 200
        assert await w.transfer(delivery="transfer-2") == 202
        assert list(github.issues) == [(REPO, 1)]
        assert len(w.texts("feed")) == 1


async def test_created_repositories_too_but_not_excluded_ones(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
        github: FakeGitHub) -> None:
    async with world(tmp_path, db, monkeypatch, github,
                     {"onboarding": {"exclude": ["meta-*"]}}) as w:
        created = example("repository/created")
        assert await w.deliver("repository", created) == 202
        assert w.issue(1, "Hello-World").title.endswith("of Hello-World")
        created["repository"]["name"] = "Meta-Notes"
        await w.deliver("repository", created)
        created["action"] = "publicized"
        created["repository"]["name"] = "other"
        await w.deliver("repository", created)
        assert list(github.issues) == [("Hello-World", 1)]


async def test_someone_github_will_not_assign_leaves_the_issue_unassigned(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
        github: FakeGitHub) -> None:
    github.unassignable.add(SENDER.lower())
    async with world(tmp_path, db, monkeypatch, github) as w:
        await w.transfer()
        assert w.issue(1).assignees == []
        assert w.texts("feed")[0].endswith(
            "GitHub would not assign it to Codertocat, so it is assigned to nobody.")


async def test_an_interrupted_opening_finds_the_issue_it_opened(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
        github: FakeGitHub) -> None:
    async with world(tmp_path, db, monkeypatch, github) as w:
        # GitHub opens the issue but its answer is lost (a 502 after the fact): Roadie
        # cannot tell whether the issue exists.
        github.lose_created_issues = 1
        await w.transfer()
        checklist, _ = await w.checklist()
        assert checklist.state == "opening"
        assert list(github.issues) == [(REPO, 1)]
        # The retry looks before it opens, and adopts the issue it finds.
        await w.advance(timedelta(seconds=30))
        checklist, _ = await w.checklist()
        assert (checklist.state, checklist.issue_number) == ("open", 1)
        assert list(github.issues) == [(REPO, 1)]
        assert len(w.texts("feed")) == 1


async def test_a_worker_that_died_holding_the_opening_is_taken_over(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
        github: FakeGitHub) -> None:
    async with world(tmp_path, db, monkeypatch, github) as w:
        github.fail("POST", f"/repos/jazzband/{REPO}/issues", status=502, times=1)
        await w.transfer()
        checklist, _ = await w.checklist()
        # Another worker claims the retry, opens the issue on GitHub, and dies.
        work = await w.roadie.db.run(lambda session: issue_work.claim(
            session, checklist.id or 0, now=w.clock.now() + timedelta(minutes=1),
            hold=timedelta(minutes=2)))
        assert work is not None
        assert work.opening
        assert w.roadie.github is not None
        await w.roadie.github.create_issue(REPO, work.title, work.body)
        # Nobody else touches it while the claim holds; then the sweep takes over.
        assert await w.advance(timedelta(minutes=2)) == 0
        await w.advance(timedelta(minutes=2))
        assert (await w.checklist())[0].issue_number == 1
        assert list(github.issues) == [(REPO, 1)]


async def test_github_down_is_retried_and_a_refusal_reported(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
        github: FakeGitHub) -> None:
    async with world(tmp_path, db, monkeypatch, github) as w:
        github.fail("POST", f"/repos/jazzband/{REPO}/issues", status=502, times=2)
        await w.transfer()
        assert (await w.checklist())[0].state == "opening"
        assert await w.advance(timedelta(seconds=5)) == 0  # the first pause is 10s
        await w.advance(timedelta(seconds=10))
        assert (await w.checklist())[0].github_error.startswith("github: 502")
        await w.advance(timedelta(seconds=30))
        assert (await w.checklist())[0].issue_number == 1
        assert w.texts("admins") == []

        github.fail("POST", "/repos/jazzband/Gone/issues", status=410, times=1,
                    body={"message": "Issues are disabled for this repo"})
        await w.transfer("Gone")
        checklist, _ = await w.checklist("Gone")
        assert (checklist.state, checklist.issue_number) == ("open", None)
        assert w.texts("admins") == [
            "**Onboarding of Gone: GitHub refused**\nRoadie could not open the onboarding "
            "issue in Gone: github: 410 Issues are disabled for this repo. The checklist is "
            "tracked in Roadie alone for now (`/onboarding Gone`); redeliver the repository "
            "event from the org's webhook settings to try again."]
        # Redelivered once issues are enabled: the issue is opened after all.
        await w.transfer("Gone")
        assert (await w.checklist("Gone"))[0].issue_number == 2
