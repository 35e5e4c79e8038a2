"""The GitHub mirror: the real PyGithub against the fake GitHub, and real signed webhooks."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlmodel import Session, select

from bot.github.client import PyGithubPort
from bot.runtime.app import Roadie
from bot.runtime.webhooks import signature_for
from cogs.escalation.api import open_escalation
from cogs.escalation.mirror import issue_title
from governance.clock import FakeClock
from governance.db import Database
from governance.escalations import mirror as tasks
from governance.escalations import service
from governance.escalations.models import MirrorTask, Ticket
from tests.cogs.test_escalation_scenario import START, Scene, escalation_config
from tests.fakes.github import FakeGitHub
from tests.support import Console, running

SECRET = "It's a Secret to Everybody"


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    yield fake
    await fake.stop()


class Mirrored(Scene):
    def __init__(self, roadie: Roadie, console: Console, clock: FakeClock,
                 fake: FakeGitHub) -> None:
        super().__init__(roadie, console, clock)
        self.fake = fake

    async def synced(self) -> None:
        """The mirror has tried what is due, and what it had to say has been said."""
        assert await self.cog.mirror.drain()
        await self.roadie.settle()

    def comments(self, number: int = 1) -> list[str]:
        return [c["body"] for c in self.fake.issues[("help", number)].comments]

    async def deliver(self, action: str, issue: int, sender: str, *,
                      delivery: str | None = None, **issue_fields: Any) -> int:
        """POST a signed `issues` delivery to Roadie's webhook; return the HTTP status."""
        payload = {"action": action, "sender": {"login": sender},
                   "repository": {"name": "help", "full_name": "jazzband/help"},
                   "issue": {"number": issue, "state": "closed" if action == "closed" else "open",
                             "html_url": f"https://github.com/jazzband/help/issues/{issue}",
                             **issue_fields}}
        body = json.dumps(payload).encode()
        assert self.roadie.server is not None
        url = f"http://127.0.0.1:{self.roadie.server.port}/github/webhook"
        headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                   "X-Hub-Signature-256": signature_for(SECRET.encode(), body),
                   "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http, http.post(url, data=body,
                                                                headers=headers) as response:
            status = response.status
        await self.roadie.settle()
        return status


@asynccontextmanager
async def mirrored(tmp_path: Path, db: Database, fake: FakeGitHub,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Mirrored]:
    """A running Roadie mirroring to `help` on the fake GitHub, taking signed webhooks."""
    monkeypatch.setenv("ROADIE_TEST_WEBHOOK_SECRET", SECRET)
    config = escalation_config(tmp_path, github_repo="help")
    config = config.model_copy(update={"github": config.github.model_copy(
        update={"webhook_secret_env": "ROADIE_TEST_WEBHOOK_SECRET"})})
    port = PyGithubPort(org="jazzband", token="t", api_url=fake.url, throttle=False)
    console, clock = Console(), FakeClock(START)
    async with running(config, db=db, clock=clock, transports=[console.transport],
                       github=port) as roadie:
        yield Mirrored(roadie, console, clock, fake)


async def test_a_ticket_lives_on_github_too(tmp_path: Path, db: Database, github: FakeGitHub,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    async with mirrored(tmp_path, db, github, monkeypatch) as scene:
        console, clock = scene.console, scene.clock
        await scene.say("/as alice", "/as carol",
                        "/escalate django-sample webhook Add the Read the Docs webhook")
        await scene.synced()
        issue = github.issues[("help", 1)]
        assert issue.title == "#1 django-sample: webhook: Add the Read the Docs webhook"
        assert "reported by @carol, assigned to @alice" in issue.body
        assert "Closing this issue resolves the ticket" in issue.body
        assert issue.labels == ["escalation", "webhook"]
        assert "On GitHub**: https://github.com/jazzband/help/issues/1" in await scene.say(
            "/escalation 1")

        await scene.say("/escalation comment 1 The webhook URL is in the RTD admin page")
        await scene.say("/as alice", "/escalation ack 1")
        await scene.synced()
        assert scene.comments() == [
            "@carol commented: The webhook URL is in the RTD admin page",
            "Escalation #1 acknowledged by alice after 0s"]

        # Closing the issue on GitHub resolves the ticket, and the reporter hears of it.
        clock.advance(timedelta(minutes=5))
        assert await scene.deliver("closed", 1, "alice", state_reason="completed") == 202
        out = console.text
        assert "[@carol] **Escalation #1 resolved**" in out
        assert ("resolved by alice on GitHub: closed the GitHub issue "
                "https://github.com/jazzband/help/issues/1") in out
        def transact(session: Session) -> None:
            assert service.require_ticket(session, 1).state == "resolved"
        await db.run(transact)
        # The same closing again (a redelivery, or the handler retried) changes nothing.
        before = len(console.text)
        assert await scene.deliver("closed", 1, "alice", delivery="same") == 202
        assert await scene.deliver("closed", 1, "alice", delivery="same") == 200
        assert console.text[before:] == ""
        await scene.synced()
        assert len(scene.comments()) == 2  # nothing was mirrored back

        # Reopened on GitHub, reopened here; closed as not planned, declined.
        assert await scene.deliver("reopened", 1, "carol") == 202
        assert "[#admins] **Escalation #1 reopened**" in console.text
        assert await scene.deliver("closed", 1, "alice", state_reason="not_planned") == 202
        def transact(session: Session) -> None:
            assert service.require_ticket(session, 1).state == "declined"
        await db.run(transact)


async def test_roadie_closes_and_reopens_the_issue_and_ignores_its_own_echo(
        tmp_path: Path, db: Database, github: FakeGitHub,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with mirrored(tmp_path, db, github, monkeypatch) as scene:
        console = scene.console
        await scene.say("/as alice", "/as carol",
                        "/escalate django-sample secrets Release token --urgent",
                        "/as alice", "/escalation resolve 1 Token added as a secret")
        await scene.synced()
        issue = github.issues[("help", 1)]
        assert issue.title.startswith("[urgent] #1 django-sample: secrets")
        assert issue.state == "closed"
        assert scene.comments() == ["Escalation #1 resolved by alice: Token added as a secret"]
        before = len(console.text)
        assert await scene.deliver("closed", 1, "roadie-bot") == 202
        assert console.text[before:] == ""
        await scene.say("/escalation reopen 1 The token has the wrong scope")
        await scene.synced()
        assert issue.state == "open"
        assert scene.comments()[-1] == ("Escalation #1 reopened by alice (was resolved): The "
                                        "token has the wrong scope")


async def test_github_failures_are_retried_then_reported(
        tmp_path: Path, db: Database, github: FakeGitHub,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with mirrored(tmp_path, db, github, monkeypatch) as scene:
        console, clock = scene.console, scene.clock
        github.fail("POST", "/repos/jazzband/help/issues", status=502, times=1)
        await scene.say("/as alice", "/as carol", "/escalate django-sample ci CI is red")
        await scene.synced()
        assert github.issues == {}
        clock.advance(timedelta(seconds=11))
        await scene.synced()
        assert list(github.issues) == [("help", 1)]
        assert len(github.called("POST", "/repos/jazzband/help/issues")) == 2

        github.fail("POST", "/repos/jazzband/help/issues/1/comments", status=404, times=1)
        await scene.say("/escalation comment 1 still red")
        await scene.synced()
        assert "[#admins] **Escalation #1 could not be mirrored to GitHub (help)**" in \
            console.text
        assert "GitHub said: github: 404 fake failure." in console.text
        await scene.say("/escalation comment 1 and now?")
        await scene.synced()
        assert scene.comments() == ["@carol commented: and now?"]


async def test_a_retried_opener_never_opens_two_issues(
        tmp_path: Path, db: Database, github: FakeGitHub,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with mirrored(tmp_path, db, github, monkeypatch) as scene:
        clock, cog = scene.clock, scene.cog
        await cog.mirror.stop()  # this test drives the mirror by hand
        for _ in range(2):  # a vote's handler, run twice for the same delivery
            await db.run(lambda session: open_escalation(
                cog.ctx, session, project='django-sample', kind='permissions',
                summary='Revert the direct push to main', reporter_login='carol', source='vote:12'))
        await asyncio.gather(cog.mirror.process(), cog.mirror.process())
        assert len(github.issues) == 1
        assert len(github.called("POST", "/repos/jazzband/help/issues")) == 1

        # A worker that died while GitHub was opening an issue: that task is not retried
        # blindly (it may have worked), but reported.
        await db.run(lambda session: open_escalation(
            cog.ctx, session, project='django-sample', kind='pypi', summary='Add the org as owner',
            reporter_login='carol', source='onboarding:django-sample:pypi'))
        def transact(session: Session) -> None:
            task = session.exec(tasks_for(2)).one()
            assert tasks.claim(session, task.id or 0, clock.now()) is not None
        await db.run(transact)
        clock.advance(timedelta(minutes=3))
        await cog.mirror.process()
        await scene.roadie.settle()
        assert len(github.issues) == 1
        assert "Roadie stopped while GitHub was opening its issue" in scene.console.text
        def transact(session: Session) -> None:
            assert session.exec(tasks_for(2)).one().status == tasks.UNCERTAIN
        await db.run(transact)


def tasks_for(ticket: int) -> Any:
    return select(MirrorTask).where(MirrorTask.ticket == ticket)


def test_a_long_title_is_cut_at_a_word_boundary() -> None:
    ticket = Ticket(number=7, project="django-sample", kind="permissions", reporter="carol",
                    summary="Give the maintainers of django-sample the admin role on the "
                            "repository so that they can configure branch protection rules",
                    opened_at=START, clock_started_at=START, ack_due_at=START,
                    resolve_due_at=START)
    title = issue_title(ticket)
    assert len(title) <= 120
    assert title == ("#7 django-sample: permissions: Give the maintainers of django-sample the "
                     "admin role on the repository so that they can…")


async def test_a_rate_limit_is_waited_out_as_told_while_other_work_goes_on(
        tmp_path: Path, db: Database, github: FakeGitHub,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with mirrored(tmp_path, db, github, monkeypatch) as scene:
        clock = scene.clock
        github.secondary_limit("POST", "/repos/jazzband/help/issues", retry_after=120,
                               status=429)
        await scene.say("/as alice", "/as carol", "/escalate django-sample ci CI is red")
        await scene.synced()
        assert github.issues == {}
        # Another ticket meanwhile is mirrored at once: the wait holds up only the first.
        await scene.say("/escalate django-sample pypi Add the org as owner")
        await scene.synced()
        assert [i.title for i in github.issues.values()] == [
            "#2 django-sample: pypi: Add the org as owner"]
        clock.advance(timedelta(seconds=119))
        await scene.synced()
        assert len(github.issues) == 1
        assert len(github.called("POST", "/repos/jazzband/help/issues")) == 2
        clock.advance(timedelta(seconds=2))
        await scene.synced()
        assert sorted(i.title for i in github.issues.values()) == [
            "#1 django-sample: ci: CI is red", "#2 django-sample: pypi: Add the org as owner"]
        assert "could not be mirrored" not in scene.console.text
