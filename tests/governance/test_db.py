"""Database helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from governance import db as db_module
from governance.clock import FakeClock
from governance.db import Database, OnEventLoop
from governance.inbox import service as inbox


def test_a_delivery_is_stored_once(db: Database, clock: FakeClock) -> None:
    def store() -> bool:
        with db.transaction() as session:
            return inbox.store_delivery(session, delivery_id="d-1", event="ping", action="",
                                        hook_id="", payload="{}", now=clock.now())

    assert store() is True
    assert store() is False


async def test_a_database_call_on_the_event_loop_fails(db: Database) -> None:
    with pytest.raises(OnEventLoop, match=r"db\.run"), db.transaction():
        pass
    with pytest.raises(OnEventLoop), db.connection():
        pass
    with pytest.raises(OnEventLoop), db.engine.connect():  # even past the helpers
        pass


async def test_run_does_the_work_in_one_transaction_on_a_worker_thread(db: Database,
                                                                      clock: FakeClock) -> None:
    loop_thread = threading.get_ident()

    def store(session: Session) -> tuple[int, bool]:
        return threading.get_ident(), inbox.store_delivery(
            session, delivery_id="d-1", event="ping", action="", hook_id="", payload="{}",
            now=clock.now())

    worker, stored = await db.run(store)
    assert worker != loop_thread
    assert stored
    assert await db.run(lambda session: inbox.store_delivery(
        session, delivery_id="d-1", event="ping", action="", hook_id="", payload="{}",
        now=clock.now())) is False

    def fail_halfway(session: Session) -> None:
        inbox.store_delivery(session, delivery_id="d-2", event="ping", action="", hook_id="",
                             payload="{}", now=clock.now())
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await db.run(fail_halfway)
    count = "SELECT count(*) FROM webhook_delivery"
    assert await db.run_connection(lambda connection: connection.execute(
        text(count)).scalar_one()) == 1  # the second delivery was rolled back


async def test_run_carries_the_callers_context(db: Database) -> None:
    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="none")
    seen.set("the caller's")
    assert await db.run(lambda _session: seen.get()) == "the caller's"


def test_synchronous_code_keeps_its_transactions(db: Database) -> None:
    with db.transaction() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1


async def test_a_ping_answers_busy_rather_than_waiting(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'locked.db'}")
    try:
        assert await db.ping_async(timeout=5) is None
        locker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holding the database's lock
        try:
            assert await db.ping_async(timeout=0.1) == "busy"
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert await db.ping_async(timeout=5) is None
    finally:
        await asyncio.to_thread(db.dispose)
    unreachable = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert await unreachable.ping_async(timeout=5) == "unavailable"


def test_a_rested_connection_cut_by_the_server_is_replaced(pg_db: Database,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "IDLE_BEFORE_PING", 0.0)
    with pg_db.transaction() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = Database(pg_db.url)
    with admin.transaction() as session:
        session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    with pg_db.transaction() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


async def test_a_burst_reuses_the_connections_the_last_one_opened(pg_db: Database) -> None:
    """Every worker busy at once, twice: the second burst runs on the server processes the
    first one started (a connection closed after each burst would be a new backend process
    and several round trips the next time)."""
    everyone_in = threading.Barrier(pg_db.workers, timeout=10)

    def backend(session: Session) -> int:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        everyone_in.wait()  # each worker holds its connection until all of them hold one
        return pid

    first = set(await asyncio.gather(*(pg_db.run(backend) for _ in range(pg_db.workers))))
    second = set(await asyncio.gather(*(pg_db.run(backend) for _ in range(pg_db.workers))))
    assert len(first) == pg_db.workers
    assert second == first
