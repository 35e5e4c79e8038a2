"""A world for onboarding tests: Roadie with its webhook server, the fake GitHub through the
real PyGithub, a recording Discord where people are linked, and a clock the test moves."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import DEFAULT_COGS
from bot.github.client import PyGithubPort
from bot.runtime.app import Roadie
from cogs.onboarding.cog import OnboardingCog
from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.onboarding import service
from governance.onboarding.models import Checklist, ChecklistItem
from governance.people.service import link_directly
from tests.fakes.github import FakeGitHub, FakeIssue
from tests.support import RecordingChat, deep_merge, deliver, make_config, running, say

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "github"
SECRET = "onboarding-test-secret"
REPO = "Hello-World"
SENDER = "Codertocat"
"""The repository and the sender of the transferred example payload."""
SPEAKERS = {"alice": "1001", "carol": "1004", "lena": "1005"}
"""Discord ids of the people who give commands: alice admin, carol member, lena a lead."""
BASE: dict[str, Any] = {
    "github": {"webhook_secret_env": "ROADIE_TEST_ONBOARDING_SECRET"},
    "people": {"members": ["carol", "dave", "lena"]},
    # Without the GitHub feed, the feed destination holds onboarding's notices alone.
    "bot": {"cogs": [c for c in DEFAULT_COGS if c != "cogs.github_feed"]},
}


def example(name: str) -> dict[str, Any]:
    """A GitHub example payload from tests/fixtures/github, such as repository/transferred."""
    return json.loads((FIXTURES / f"{name}.payload.json").read_text())


def transferred(repo: str = REPO) -> dict[str, Any]:
    payload = example("repository/transferred")
    payload["repository"]["name"] = repo
    payload["repository"]["full_name"] = f"jazzband/{repo}"
    return payload


def issue_event(action: str, number: int, *, body: str = "", sender: str = SENDER,
                repo: str = REPO) -> dict[str, Any]:
    """The issues/edited example, made into `action` on issue `number` with `body`."""
    payload = copy.deepcopy(example("issues/edited"))
    payload["action"] = action
    payload["issue"]["number"] = number
    payload["issue"]["body"] = body
    payload["issue"]["state"] = "closed" if action == "closed" else "open"
    payload["repository"]["name"] = repo
    payload["sender"]["login"] = sender
    return payload


@dataclass
class World:
    roadie: Roadie
    github: FakeGitHub
    chat: RecordingChat
    clock: FakeClock

    @property
    def cog(self) -> OnboardingCog:
        return next(c for c in self.roadie.cogs if isinstance(c, OnboardingCog))

    async def deliver(self, event: str, payload: dict[str, Any], *,
                      delivery: str | None = None) -> int:
        return await deliver(self.roadie, event, payload, secret=SECRET, delivery=delivery)

    async def transfer(self, repo: str = REPO, *, delivery: str | None = None) -> int:
        return await self.deliver("repository", transferred(repo), delivery=delivery)

    async def edit(self, body: str, *, sender: str = SENDER, number: int = 1) -> int:
        """Someone edits the checklist issue on GitHub (the fake follows, as GitHub would)."""
        self.issue(number).body = body
        return await self.deliver("issues", issue_event("edited", number, body=body,
                                                        sender=sender))

    def tick_on_github(self, *keys: str, number: int = 1) -> str:
        """The issue's body with these items ticked, as ticking the boxes on GitHub makes it."""
        body = self.issue(number).body
        for key in keys:
            body = body.replace(f"- [ ] `{key}`", f"- [x] `{key}`")
        return body

    async def say(self, login: str, text: str) -> str:
        reply = await say(self.roadie, "discord", SPEAKERS[login], text.removeprefix("/"))
        return reply.as_text()

    async def link(self, login: str) -> None:
        now = self.clock.now()
        await self.roadie.db.run(lambda session: link_directly(
            session, actor=Actor.system(), platform="discord", user_id=SPEAKERS[login],
            display_name=login, login=login, now=now))

    def issue(self, number: int = 1, repo: str = REPO) -> FakeIssue:
        return self.github.issues[(repo, number)]

    async def checklist(self, project: str = REPO) -> tuple[Checklist, list[ChecklistItem]]:
        return await self.roadie.db.run(
            lambda session: service.checklist_with_items(session, project))

    async def item(self, key: str, project: str = REPO) -> ChecklistItem:
        _checklist, items = await self.checklist(project)
        return next(i for i in items if i.key == key)

    async def advance(self, delta: timedelta) -> int:
        """Move the clock on, run the sweep as its job would, and send what it queued."""
        self.clock.advance(delta)
        done = await self.cog.sweep()
        await self.roadie.settle()
        return done

    def texts(self, place: str) -> list[str]:
        return self.chat.texts(place)


@asynccontextmanager
async def world(tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
                github: FakeGitHub, overrides: dict[str, Any] | None = None,
                clock: FakeClock | None = None) -> AsyncIterator[World]:
    """A started Roadie taking signed webhooks, with alice, carol and lena linked."""
    monkeypatch.setenv("ROADIE_TEST_ONBOARDING_SECRET", SECRET)
    config = make_config(tmp_path, deep_merge(BASE, overrides or {}))
    port = PyGithubPort(org="jazzband", token="t", api_url=github.url, throttle=False)
    chat, clock = RecordingChat("discord"), clock or FakeClock()
    async with running(config, db=db, clock=clock, transports=[chat], github=port) as roadie:
        here = World(roadie, github, chat, clock)
        for login in SPEAKERS:
            await here.link(login)
        yield here
