"""Readiness: may this replica take traffic? /healthz stays the liveness check.

Ready means the database answers, every enabled chat platform is connected and GitHub
accepts Roadie's credentials. The database is asked off the event loop, within a time limit;
GitHub at most once per `github_every` seconds, since each check is an API call.
"""

from __future__ import annotations

import asyncio
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

    async def database(self) -> str:
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
