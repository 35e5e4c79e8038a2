"""Readiness: may this replica take traffic? /healthz stays the liveness check.

Ready means the database answers, every enabled chat platform is connected and GitHub
accepts Roadie's credentials. The database is asked off the event loop, within a time limit;
GitHub at most once per `github_every` seconds, since each check is an API call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.core.ports import PlatformError
from governance.db import Database


class Readiness:
    def __init__(self, db: Database, transports: Sequence[Any], github: Any, *,
                 db_timeout: float = 2.0, github_every: float = 30.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.transports = transports
        self.github = github
        self.db_timeout = db_timeout
        self.github_every = github_every
        self._now = now
        self._github_checked: tuple[float, str] | None = None
        self._github_lock = asyncio.Lock()
        self._ping: asyncio.Future[str] | None = None

    async def database(self) -> str:
        """"ok", or what is wrong. Checks made while a ping is under way share its answer:
        a flood of /readyz costs the database one ping per round trip, not one each (pings
        stuck behind a lock would otherwise queue without bound)."""
        if self._ping is None or self._ping.done():
            self._ping = asyncio.ensure_future(self._ping_once())
        # Shielded: a caller that goes away does not take the others' answer with it.
        return await asyncio.shield(self._ping)

    async def _ping_once(self) -> str:
        return await self.db.ping_async(timeout=self.db_timeout) or "ok"

    def platforms(self) -> dict[str, str]:
        states = {}
        for transport in self.transports:
            ready: Callable[[], bool] | None = getattr(transport, "ready", None)
            states[transport.platform] = "connected" if ready is None or ready() else \
                "not connected"
        return states

    async def github_auth(self) -> str:
        check: Callable[[], Awaitable[None]] | None = getattr(self.github, "check_auth", None)
        if check is None:
            return "ok"
        async with self._github_lock:
            cached = self._github_checked
            if cached is not None and self._now() - cached[0] < self.github_every:
                return cached[1]
            try:
                await asyncio.wait_for(check(), 15)
                state = "ok"
            except PlatformError as error:
                state = f"refused: {error.detail}"
            except TimeoutError:
                state = "no answer within 15s"
            self._github_checked = (self._now(), state)
            return state

    async def check(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {"database": await self.database(), **self.platforms()}
        if self.github is not None:
            checks["github"] = await self.github_auth()
        ready = all(v in ("ok", "connected") for v in checks.values())
        return ready, checks


class DatabaseWatch:
    """The database as /healthz tells it: pinged in the background, one ping at a time.

    /healthz answers from the latest ping rather than waiting for one of its own: a ping is
    a round trip through a thread, which, on a process busy with many connections, takes
    tens of milliseconds waiting for its turn at the interpreter (and a probe answered
    "busy" for it would restart a healthy process). A ping is sent every `every` seconds;
    the database is "busy" once one has gone unanswered for `busy_after` seconds (another
    process holding SQLite's lock, an unreachable server), so that an answer of "ok" is at
    most `every` + `busy_after` seconds old. Each answer states its age.
    """

    def __init__(self, db: Database, *, every: float = 0.5, busy_after: float = 1.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.every = every
        self.busy_after = busy_after
        self._now = now
        self._asked_at: float | None = None  # the ping unanswered so far, if any
        self._answer: tuple[float, str] | None = None  # when, and "ok" or the problem
        self._answered = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._asked_at = self._now()  # the first ping, on its way
            self._task = asyncio.get_running_loop().create_task(self._watch(),
                                                                name="database-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        while True:
            self._asked_at = self._now()
            problem = await self.db.ping_async(timeout=None)
            self._asked_at = None
            self._answer = (self._now(), problem or "ok")
            self._answered.set()
            await asyncio.sleep(self.every)

    async def state(self) -> tuple[str, float]:
        """"ok" or what is wrong ("busy", "unavailable"), and the age of that in seconds. Waits
        only for the first ping's answer, at most `busy_after` seconds after the start."""
        if self._answer is None and self._asked_at is not None:
            wait = self._asked_at + self.busy_after - self._now()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), max(wait, 0.0))
        now = self._now()
        if self._asked_at is not None and now - self._asked_at >= self.busy_after:
            return "busy", now - self._asked_at
        if self._answer is None:  # not started
            return "busy", 0.0
        answered_at, state = self._answer
        return state, now - answered_at
