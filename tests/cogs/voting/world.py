"""A Roadie with the voting cog on the console, votes of seconds, and a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.runtime.app import Roadie
from cogs.voting.cog import VotingCog
from governance.clock import FakeClock
from governance.db import Database
from tests.support import Console, audit_key_file, deep_merge, make_config, running

START = FakeClock().now()


def voting_config(tmp_path: Path, voting: dict[str, Any] | None = None,
                  extra: dict[str, Any] | None = None) -> Any:
    base = {"check_interval": "1h", "remind_before": "20s",
            "nomination": {"min_duration": "60s", "accept_within": "30s"},
            "dispute": {"min_duration": "60s"}}
    return make_config(tmp_path, deep_merge({
        "people": {"admins": ["alice"], "moderators": ["bob"],
                   "members": ["carol", "dave", "erin", "frank"]},
        "voting": deep_merge(base, voting or {}),
        "audit": {"key_file": audit_key_file(tmp_path)}}, extra or {}))


class Scene:
    """The console, the clock and the voting job, as a scenario drives them."""

    def __init__(self, roadie: Roadie, console: Console, clock: FakeClock) -> None:
        self.roadie, self.console, self.clock = roadie, console, clock
        self.cog = next(c for c in roadie.cogs if isinstance(c, VotingCog))

    async def at(self, seconds: float) -> str:
        """Move the clock to `seconds` after the start, run the job, return what was printed."""
        self.clock.set(START + timedelta(seconds=seconds))
        start = len(self.console.text)
        await self.cog.tick()
        await self.roadie.settle()
        return self.console.text[start:]

    async def say(self, *lines: str) -> str:
        """Say lines on the console; return everything printed, including what was sent."""
        start = len(self.console.text)
        for line in lines:
            await self.console.say(line)
        await self.roadie.settle()
        return self.console.text[start:]

    async def as_(self, login: str, *lines: str) -> str:
        return await self.say(f"/as {login}", *lines)


@asynccontextmanager
async def scene(tmp_path: Path, db: Database, voting: dict[str, Any] | None = None, *,
                config_extra: dict[str, Any] | None = None,
                **overrides: Any) -> AsyncIterator[Scene]:
    clock, console = FakeClock(START), Console()
    config = voting_config(tmp_path, voting, config_extra)
    async with running(config, db=db, clock=clock, transports=[console.transport],
                       **overrides) as roadie:
        yield Scene(roadie, console, clock)
