"""Deliveries stored many to a statement, before each is answered."""

from __future__ import annotations

import asyncio

from bot.runtime.pgasync import AsyncPostgres
from governance.clock import Clock
from governance.db import Database
from governance.inbox import service as inbox

TURNS_TO_GATHER_A_WRITE = 3
"""A write of deliveries waits this many turns of the event loop, for the requests read
meanwhile to join it."""
WRITES_AT_ONCE = 4
"""Writes of deliveries under way together: while one commits, the next gathers and starts
(on PostgreSQL, each on a connection of the receiver's own, never behind the background
work)."""
MAX_BATCH = 200
"""Deliveries in one write at most."""


class DeliveryStore:
    """Stores deliveries many to a statement (a group commit), several statements at once.

    The first delivery to wait starts a write a few turns of the event loop later; requests
    read meanwhile join it, so a burst costs a commit per dozen deliveries or so rather than
    one each, and a lone delivery waits for a few turns only. Each write is one statement
    that commits by itself: on PostgreSQL sent by the event loop over connections of the
    receiver's own (`AsyncPostgres`), on SQLite through `Database.autocommit`. Up to
    `writes_at_once` of them are under way together: deliveries that arrive while one
    commits start the next at once instead of waiting for it, so that an answer waits for
    about one round trip whatever the database's distance, and a burst spreads over
    several connections. Each request is answered only once the statement that holds its
    delivery has committed. (Two writes holding the same delivery id cannot both store it:
    the database keeps one, and the other's request is answered as a redelivery.)
    """

    def __init__(self, db: Database, clock: Clock, max_batch: int = MAX_BATCH,
                 writes_at_once: int = WRITES_AT_ONCE) -> None:
        self._db = db
        self._clock = clock
        self._max_batch = max_batch
        self._writes_at_once = writes_at_once
        self._waiting: list[tuple[inbox.NewDelivery, asyncio.Future[bool]]] = []
        self._gathering = False  # a write is gathering deliveries and will start soon
        self._writing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # On PostgreSQL the loop drives the writes itself (bot/runtime/pgasync.py says why).
        self._postgres = AsyncPostgres(db, writes_at_once) if db.dialect == "postgresql" else None

    async def close(self) -> None:
        if self._postgres is not None:
            await self._postgres.close()

    async def store(self, delivery: inbox.NewDelivery) -> bool:
        """True when the delivery is new, False when its id was stored before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        self._start_a_write()
        return await future

    def _start_a_write(self) -> None:
        if self._waiting and not self._gathering and self._writing < self._writes_at_once:
            self._gathering = True
            task = asyncio.create_task(self._write_soon())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write_soon(self) -> None:
        for _ in range(TURNS_TO_GATHER_A_WRITE):
            await asyncio.sleep(0)
        self._gathering = False
        batch = self._waiting[:self._max_batch]
        del self._waiting[:self._max_batch]
        self._writing += 1
        self._start_a_write()  # more than a batch waited: the next write gathers at once
        try:
            await self._write(batch)
        finally:
            self._writing -= 1
            self._start_a_write()

    async def _write(self, batch: list[tuple[inbox.NewDelivery, asyncio.Future[bool]]]) -> None:
        deliveries, now = [d for d, _ in batch], self._clock.now()
        try:
            # One statement, so no transaction around it: one round trip on PostgreSQL.
            if self._postgres is not None:
                statement, values = inbox.postgres_store_statement(deliveries, now=now)
                new = {row[0] for row in await self._postgres.fetch_all(statement, values)}
            else:
                new = await self._db.autocommit(
                    lambda session: inbox.store_deliveries(session, deliveries, now=now))
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for delivery, future in batch:
            first = delivery.delivery_id in new
            new.discard(delivery.delivery_id)  # a repeat within the batch is a duplicate
            if not future.done():
                future.set_result(first)

