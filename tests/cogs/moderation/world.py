"""A small world for moderation tests: the fake GitHub through the real PyGithub, a recording
Discord, moderators who speak there, and a Roadie on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.messages import Message, Reply
from bot.github.client import PyGithubPort
from bot.runtime.app import Roadie
from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.people.service import link_directly
from tests.fakes.github import FakeGitHub
from tests.support import RecordingChat, Sent, deep_merge, make_config, running, say

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "github"
SPEAKERS = {"alice": "1001", "bob": "1002", "dana": "1003", "carol": "1004"}
"""Discord user ids of the people who give commands (alice admin, bob and dana moderators)."""
BASE: dict[str, Any] = {"people": {"moderators": ["bob", "dana"]},
                        "moderation": {"retry_wait": "30s"}}


class OrderedChat(RecordingChat):
    """A recording Discord that also keeps the order of sends and bans."""

    def __init__(self) -> None:
        super().__init__("discord")
        self.events: list[str] = []

    async def send(self, place: str, message: Message, *, key: str,
                   mentions: dict[str, str]) -> str:
        remote_id = await super().send(place, message, key=key, mentions=mentions)
        self.events.append(f"send {place}")
        return remote_id

    async def ban(self, user_id: str, *, reason: str, delete_message_days: int = 0) -> None:
        await super().ban(user_id, reason=reason, delete_message_days=delete_message_days)
        self.events.append(f"ban {user_id}")


@dataclass
class World:
    roadie: Roadie
    github: FakeGitHub
    chat: OrderedChat
    clock: FakeClock
    replies: list[Reply] = field(default_factory=list)

    async def say(self, login: str, text: str) -> str:
        """A command as typed in chat by one of SPEAKERS; returns the reply's text."""
        reply = await say(self.roadie, "discord", SPEAKERS[login], text.removeprefix("/"))
        self.replies.append(reply)
        return reply.as_text()

    async def link(self, login: str, discord_id: str) -> None:
        now = self.clock.now()
        await self.roadie.db.run(lambda session: link_directly(
            session, actor=Actor.system(), platform="discord", user_id=discord_id,
            display_name=login, login=login, now=now))

    def at(self, place: str) -> list[Sent]:
        return self.chat.at(place)

    def texts(self, place: str) -> list[str]:
        return self.chat.texts(place)

    def last(self, place: str) -> str:
        texts = self.texts(place)
        assert texts, f"nothing was sent to {place}"
        return texts[-1]

    async def run_job(self, name: str) -> None:
        """Run one tick of a scheduled job the way the scheduler does, then settle."""
        job = next(j for j in self.roadie.jobs if j.name == name)
        await self.roadie.scheduler.renew_lease()
        assert await self.roadie.scheduler.run_job(job), f"{name} did not run"
        await self.roadie.settle()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def fake_github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@asynccontextmanager
async def world(tmp_path: Path, db: Database, clock: FakeClock, github: FakeGitHub,
                overrides: dict[str, Any] | None = None,
                chat: OrderedChat | None = None) -> AsyncIterator[World]:
    """A started Roadie with alice, bob and dana linked on the recording Discord."""
    config = make_config(tmp_path, deep_merge(BASE, overrides or {}))
    port = PyGithubPort(org="jazzband", token="t", api_url=github.url, throttle=False)
    chat = chat or OrderedChat()
    async with running(config, db=db, clock=clock, transports=[chat], github=port) as roadie:
        here = World(roadie, github, chat, clock)
        for login, discord_id in SPEAKERS.items():
            await here.link(login, discord_id)
        yield here
