"""Readiness checks made at once share one database ping: a flood of /readyz cannot queue
pings without bound."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from bot.runtime.health import Readiness
from governance.db import Database


async def test_checks_made_at_once_share_one_ping(db: Database) -> None:
    pings: list[str] = []

    def count(*args: object) -> None:
        if str(args[2]).strip().upper() == "SELECT 1":
            pings.append("ping")

    readiness = Readiness(db, transports=[], github=None)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        answers = await asyncio.gather(*(readiness.check() for _ in range(100)))
        assert answers == [(True, {"database": "ok"})] * 100
        assert len(pings) == 1
        # Once answered, the next check asks again: an answer is never older than its ping.
        assert await readiness.check() == (True, {"database": "ok"})
        assert len(pings) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


async def test_a_check_that_goes_away_leaves_the_others_their_answer(db: Database) -> None:
    readiness = Readiness(db, transports=[], github=None)
    first = asyncio.ensure_future(readiness.check())
    second = asyncio.ensure_future(readiness.check())
    await asyncio.sleep(0)
    first.cancel()
    assert await second == (True, {"database": "ok"})
    assert first.cancelled()
