"""The audit log is append-only and hash-chained: any edit or removal is found."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, text, update

from governance.audit import Actor, AuditEntry, history, record, verify
from governance.clock import FakeClock
from governance.db import Database


def _write(db: Database, clock: FakeClock, count: int) -> None:
    for index in range(count):
        with db.transaction() as session:
            record(session, actor=Actor.github("alice"), action="test.step",
                   target=f"thing:{index}", at=clock.now(), reason=f"step {index} ✓",
                   data={"n": index, "note": "ünïcode"})
        clock.advance(timedelta(seconds=1))


def test_untouched_chain_verifies(db: Database, clock: FakeClock) -> None:
    _write(db, clock, 5)
    with db.transaction() as session:
        report = verify(session)
        entries = history(session, target="thing:3")
    assert report.ok
    assert report.checked == 5
    assert [e.payload()["n"] for e in entries] == [3]


def test_an_empty_log_verifies(db: Database) -> None:
    with db.transaction() as session:
        assert verify(session).ok


def test_an_edited_row_is_named(db: Database, clock: FakeClock) -> None:
    _write(db, clock, 5)
    with db.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(reason="forged"))
    with db.transaction() as session:
        report = verify(session)
    assert not report.ok
    assert report.first_bad == 3
    assert "altered" in report.problem


def test_a_removed_row_is_named(db: Database, clock: FakeClock) -> None:
    _write(db, clock, 5)
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    with db.transaction() as session:
        report = verify(session)
    assert report.first_bad == 2
    assert "missing" in report.problem


def test_removing_the_last_rows_is_found(db: Database, clock: FakeClock) -> None:
    _write(db, clock, 4)
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 3))
    with db.transaction() as session:
        report = verify(session)
    assert report.first_bad == 3
    assert "removed" in report.problem


def test_a_rewritten_chain_tail_is_found(db: Database, clock: FakeClock) -> None:
    """Changing a row and recomputing its own hash still breaks the next link."""
    _write(db, clock, 3)
    with db.transaction() as session:
        session.execute(text("UPDATE audit_log SET hash = :h WHERE seq = 2"), {"h": "f" * 64})
    with db.transaction() as session:
        report = verify(session)
    assert report.first_bad == 2


def test_a_rolled_back_change_leaves_no_entry(db: Database, clock: FakeClock) -> None:
    try:
        with db.transaction() as session:
            record(session, actor=Actor.system(), action="test.fail", target="x", at=clock.now())
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    _write(db, clock, 1)
    with db.transaction() as session:
        report = verify(session)
    assert report.ok
    assert report.checked == 1


def test_concurrent_writers_keep_one_chain(db: Database, clock: FakeClock) -> None:
    """Two replicas (two engines) appending at once never fork the chain."""
    from concurrent.futures import ThreadPoolExecutor

    def append(replica: int) -> None:
        engine = Database(db.url)
        for index in range(25):
            with engine.transaction() as session:
                record(session, actor=Actor.system(), action="test.race",
                       target=f"replica:{replica}", at=clock.now(), data={"i": index})
        engine.dispose()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(append, (1, 2)))
    with db.transaction() as session:
        report = verify(session)
    assert report.ok
    assert report.checked == 50
