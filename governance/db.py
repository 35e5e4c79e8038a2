"""The database: one engine, short transactions, SQLite (WAL) or PostgreSQL.

Every write goes through `Database.transaction()`. On SQLite a transaction starts with
`BEGIN IMMEDIATE`, so writers from several processes queue instead of failing halfway; on
PostgreSQL the services lock what they read-then-write (`SELECT ... FOR UPDATE`).

Code on an event loop never waits for the database: `await db.run(fn)` runs `fn(session)` in
one transaction on a worker thread (`run_connection` for a bare connection), and
`transaction()`/`connection()` refuse to run on a thread whose event loop is running.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Insert, Table, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine

T = TypeVar("T")

POSTGRES_CONNECTIONS = 15
"""Connections to PostgreSQL at most, each opened when first needed and then kept: a burst
needs them again moments later, and a connection closed after each (as SQLAlchemy's overflow
connections are) costs the server a new backend process and the client several round trips
to open. Worker threads are as many, so a worker never waits for a connection."""
SQLITE_CONNECTIONS = 5
"""Connections to a SQLite file kept open: the worker's, the pings', the migrations'."""


class OnEventLoop(RuntimeError):
    """A database call on the thread of a running event loop: it would stall every task on
    that loop for a round trip (or for as long as another process holds a lock)."""


def _refuse_on_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop runs on this thread: a worker thread, the CLI, a synchronous test
    raise OnEventLoop(
        "database call on the event loop's thread; use `await db.run(lambda session: ...)` "
        "(or `run_connection`) so that it runs on a worker thread")


def database_url(value: str, base_dir: Path | None = None) -> str:
    """Accept a SQLAlchemy URL or a plain file path (a SQLite database, relative to base_dir)."""
    if "://" in value:
        url = make_url(value)
        if url.drivername in ("postgresql", "postgres"):
            return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return value
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return f"sqlite:///{path}"


class Database:
    def __init__(self, url: str, *, connections: int = POSTGRES_CONNECTIONS) -> None:
        """`connections`: at most, and as many worker threads, on PostgreSQL."""
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = _make_engine(url, self.dialect, connections)
        # Also the engine's own users (migrations, raw connections): no connection is taken
        # from the pool on a thread whose event loop runs.
        event.listen(self.engine, "checkout", _refuse_checkout_on_event_loop, insert=True)
        self._checkpoints_stop: threading.Event | None = None
        # SQLite takes one writer at a time (every transaction begins IMMEDIATE): one worker
        # queues them in order, where several would poll the busy handler in turn.
        self.workers = 1 if self.is_sqlite else connections
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self.gate: Callable[[], AbstractAsyncContextManager[object]] | None = None
        """Entered by every call before it takes a worker thread: the runtime's, so that
        background work makes way for requests."""

    def checkpoint_in_background(self, every: float = 0.5) -> None:
        """SQLite: checkpoint the write-ahead log from a thread of its own.

        A checkpoint waits for the disk; left to the committing connection, it holds up every
        few hundredth commit (and the event loop that made it) for many milliseconds.
        Connections made from now on leave checkpoints to the thread; `dispose` stops it.
        """
        path = make_url(self.url).database
        if not self.is_sqlite or not path or ":memory:" in path or self._checkpoints_stop:
            return
        stop = self._checkpoints_stop = threading.Event()
        event.listen(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()  # pooled connections would still checkpoint

        def run() -> None:
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                while not stop.wait(every):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # the database went away: nothing left to checkpoint
            finally:
                connection.close()

        threading.Thread(target=run, name="sqlite-checkpoints", daemon=True).start()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        Synchronous code only (the CLI, worker threads); on an event loop use `run`."""
        _refuse_on_event_loop()
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection in one transaction, for a hot path that needs no ORM session (a
        session costs as much again as a small insert): committed when the block ends,
        rolled back on error. Synchronous code only; on an event loop use `run_connection`."""
        _refuse_on_event_loop()
        with self.engine.begin() as connection:
            yield connection

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in one transaction on a worker thread; its result.

        Objects it returns stay usable (attributes are loaded, sessions do not expire on
        commit); the context (`contextvars`) of the caller goes with it."""
        def in_transaction() -> T:
            with self.transaction() as session:
                return work(session)
        return await self._off_loop(in_transaction)

    async def autocommit(self, work: Callable[[Session], T]) -> T:
        """`work(session)` on a worker thread, each statement committed on its own: for work
        that needs no transaction (reads; writes of one statement each, such as an insert
        that ignores conflicts). On PostgreSQL this saves BEGIN and COMMIT, two of the three
        round trips of a one-statement transaction; on SQLite, where a round trip costs
        nothing and every write takes the one lock anyway, it is `run`."""
        if self.is_sqlite:
            return await self.run(work)

        def autocommitted() -> T:
            with self.engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                with Session(bind=connection, expire_on_commit=False) as session:
                    return work(session)
        return await self._off_loop(autocommitted)

    async def run_connection(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in one transaction on a worker thread, without an ORM session."""
        def in_transaction() -> T:
            with self.connection() as connection:
                return work(connection)
        return await self._off_loop(in_transaction)

    async def _off_loop(self, call: Callable[[], T]) -> T:
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        if self.gate is None:
            return await loop.run_in_executor(self._worker_pool(), context.run, call)
        async with self.gate():
            return await loop.run_in_executor(self._worker_pool(), context.run, call)

    def _worker_pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="database")
            return self._executor

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def ping_async(self, timeout: float | None = 0.05) -> str | None:
        """None when the database answers `SELECT 1` within `timeout` seconds (None: however
        long it takes), else why not ("busy": no answer in time, e.g. another process holds
        the SQLite write lock; "unavailable": it answered with an error). Never blocks the
        event loop: the ping runs on a thread of its own, outside the workers that may all be
        waiting."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(_PING_THREADS, self.ping)
        try:
            answered = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return "busy"
        return None if answered else "unavailable"

    def dispose(self) -> None:
        if self._checkpoints_stop is not None:
            self._checkpoints_stop.set()
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.engine.dispose()

    def describe(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


_PING_THREADS = ThreadPoolExecutor(4, thread_name_prefix="database-ping")
"""Pings wait here, not behind the transactions; a ping stuck on a lock holds one thread
until the driver's own timeout, so a few suffice."""


def _refuse_checkout_on_event_loop(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    _refuse_on_event_loop()


def _make_engine(url: str, dialect: str, connections: int) -> Engine:
    if dialect == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=SQLITE_CONNECTIONS)
        if ":memory:" not in url and make_url(url).database:
            Path(make_url(url).database or "").parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    engine = create_engine(url, pool_size=connections, max_overflow=0)
    event.listen(engine, "checkin", _note_idle)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


IDLE_BEFORE_PING = 30.0
"""Seconds a pooled PostgreSQL connection may rest before it is pinged on its way out.

SQLAlchemy's `pool_pre_ping` pings every time: a round trip more for every transaction,
which at 5 ms is a fifth of a command. A connection in use a moment ago is alive; one that
rested may have been cut (a server restart, a failover, an idle timeout) and is replaced."""


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()  # the ping began a transaction; the caller begins its own
    except Exception as error:
        raise exc.DisconnectionError(f"a rested connection is gone: {error}") from error


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the driver so that `_sqlite_on_begin` decides how to begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def serialize(session: Session, name: str) -> None:
    """Hold a lock named `name` until the transaction ends, across processes.

    On SQLite every transaction already holds the write lock (BEGIN IMMEDIATE); on
    PostgreSQL this takes a transaction-level advisory lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def insert_ignoring_conflicts(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> int:
    """Insert rows, skipping any that collide on the `conflict` columns; return how many went in."""
    if not rows:
        return 0
    statement = insert_ignoring_statement(model.__table__,  # type: ignore[attr-defined]
                                 tuple(conflict), session.get_bind().dialect.name)
    # Count what RETURNING gives back, as psycopg reports no rowcount (-1) for this statement.
    return len(session.execute(statement, list(rows)).all())


@lru_cache(maxsize=128)
def insert_ignoring_statement(table: Table, conflict: tuple[str, ...], dialect: str) -> Insert:
    """`insert_ignoring_conflicts`' statement, built once for each table (building a
    statement costs more CPU than running it); the rows go as its parameters."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(table).on_conflict_do_nothing(index_elements=list(conflict))
            .returning(*(table.c[name] for name in conflict)))
