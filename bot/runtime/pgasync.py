"""A few PostgreSQL connections driven by the event loop itself, for the one-statement writes
that a request waits on (the webhook receiver's stored deliveries).

Everything else reaches the database through `Database.run` on worker threads. For these
writes a thread costs more than the statement: the hand-off to the thread and back, and
the interpreter's lock, which the thread must win from the loop (and from the background
work's threads) on its way in and out. With the loop driving the connection, a write costs
what the statement itself costs, and the round trip's wait costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import psycopg

from governance.db import Database

log = logging.getLogger("roadie.database")


class AsyncPostgres:
    """Up to `size` connections, each running one statement at a time; opened when first
    needed, and dropped when a statement on them fails (the next one opens anew)."""

    def __init__(self, db: Database, size: int) -> None:
        if db.dialect != "postgresql":
            raise ValueError("AsyncPostgres needs a PostgreSQL database")
        self._db = db
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._free = asyncio.Semaphore(size)

    async def fetch_all(self, statement: str, values: Sequence[object]) -> list[tuple[Any, ...]]:
        """The rows `statement` (with the server's own `$1` placeholders) returns, committed
        on its own (autocommit). A connection found cut (a server restart, a failover, a
        network cut) is replaced once."""
        async with self._free:
            try:
                return await self._fetch_all(statement, values)
            except _Cut:
                return await self._fetch_all(statement, values)

    async def _fetch_all(self, statement: str,
                         values: Sequence[object]) -> list[tuple[Any, ...]]:
        connection = self._idle.pop() if self._idle else await self._connect()
        try:
            # A raw cursor: the statement is sent as it is, not searched for placeholders.
            async with psycopg.AsyncRawCursor(connection) as cursor:
                await cursor.execute(statement, values)
                rows = await cursor.fetchall()
        except BaseException as error:
            cut = isinstance(error, psycopg.OperationalError) and connection.broken
            await _discard(connection)
            if cut:
                raise _Cut(str(error)) from error
            raise
        self._idle.append(connection)
        return rows

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        """A new connection, as the database's engine makes them (same server, same
        settings)."""
        engine = self._db.engine
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        kwargs.pop("context", None)  # SQLAlchemy's own adapters, for its connections
        return await psycopg.AsyncConnection.connect(*args, **kwargs, autocommit=True)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await _discard(connection)


class _Cut(Exception):
    """The connection was found cut before the statement could run."""


async def _discard(connection: psycopg.AsyncConnection[Any]) -> None:
    try:
        await connection.close()
    except Exception as error:  # closing a broken connection may fail too; it is gone anyway
        log.debug("closing a broken connection: %s", error)
