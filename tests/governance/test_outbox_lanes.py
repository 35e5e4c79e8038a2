"""Claims on outgoing messages: order per destination, and what a replica that died held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from governance.db import Database
from governance.outbox import service as rows

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
HOLD = timedelta(seconds=30)


def _enqueue(db: Database, destination: str, *keys: str) -> list[int]:
    with db.transaction() as session:
        for key in keys:
            rows.enqueue(session, platforms=["discord"], destination=destination,
                         payload="{}", key=key, now=NOW)
    with db.transaction() as session:
        lanes = rows.due_lanes(session, platforms=["discord"], now=NOW, worker="nobody")
    return [row_id for row_id, _, place in lanes if place == destination]


def _due(db: Database, worker: str, now: datetime) -> list[int]:
    with db.transaction() as session:
        return [row_id for row_id, _, _ in rows.due_lanes(session, platforms=["discord"],
                                                          now=now, worker=worker)]


def _claim(db: Database, row_id: int, worker: str, now: datetime) -> bool:
    with db.transaction() as session:
        return rows.claim(session, row_id, worker=worker, now=now, hold=HOLD) is not None


def test_no_row_overtakes_one_that_another_replica_holds(db: Database) -> None:
    first, second, third = _enqueue(db, "feed", "a", "b", "c")
    [other] = _enqueue(db, "modlog", "x")
    assert _claim(db, first, "replica-1", NOW)
    # Another replica sees neither the held row nor what comes after it in its lane, and
    # may not claim them; other lanes go on.
    assert _due(db, "replica-2", NOW) == [other]
    assert not _claim(db, second, "replica-2", NOW)
    assert not _claim(db, first, "replica-2", NOW)
    # The replica restarted under its name takes its row back at once, then the rest.
    assert _due(db, "replica-1", NOW) == [first, second, third, other]
    assert _claim(db, first, "replica-1", NOW + timedelta(seconds=1))
    # Once the claim has run out, the held row is anybody's, and goes first.
    later = NOW + HOLD + timedelta(seconds=2)
    assert _due(db, "replica-2", later) == [first, second, third, other]
    assert _claim(db, first, "replica-2", later)
    assert not _claim(db, second, "replica-1", later)  # now held behind replica-2's claim


def test_a_sent_row_frees_its_lane(db: Database) -> None:
    first, second = _enqueue(db, "feed", "a", "b")
    assert _claim(db, first, "replica-1", NOW)
    with db.transaction() as session:
        rows.mark_sent(session, first, remote_id="m-1", now=NOW)
    assert _due(db, "replica-2", NOW) == [second]
    assert _claim(db, second, "replica-2", NOW)


def test_a_row_waiting_for_a_retry_keeps_its_place(db: Database) -> None:
    first, second = _enqueue(db, "feed", "a", "b")
    assert _claim(db, first, "replica-1", NOW)
    with db.transaction() as session:  # rate limited: again in 5 s
        rows.mark_retry(session, first, error="429", not_before=NOW + timedelta(seconds=5),
                        count_attempt=False)
    assert _due(db, "replica-1", NOW + timedelta(seconds=1)) == []
    assert not _claim(db, second, "replica-1", NOW + timedelta(seconds=1))
    with db.transaction() as session:
        assert rows.due(session, platforms=["discord"], now=NOW + timedelta(seconds=1)) == []
    # Due again, it goes first: what was queued after it waits until it has been sent.
    assert _due(db, "replica-1", NOW + timedelta(seconds=6)) == [first]
    assert not _claim(db, second, "replica-1", NOW + timedelta(seconds=6))
    assert _claim(db, first, "replica-1", NOW + timedelta(seconds=6))
    with db.transaction() as session:
        rows.mark_sent(session, first, remote_id="m-1", now=NOW + timedelta(seconds=6))
    assert _due(db, "replica-1", NOW + timedelta(seconds=6)) == [second]


def test_a_retried_row_goes_first_even_when_a_look_finds_only_rows_after_it(
        db: Database) -> None:
    """A look for due rows reads a limited number of them in the order they fell due; a
    retried row falls due after the rows queued behind it, and may be left out."""
    first, second, third = _enqueue(db, "feed", "a", "b", "c")
    with db.transaction() as session:
        rows.mark_retry(session, first, error="timeout", not_before=NOW + timedelta(seconds=5))
    later = NOW + timedelta(seconds=6)
    with db.transaction() as session:
        assert [row_id for row_id, _, _ in rows.due_lanes(
            session, platforms=["discord"], now=later, worker="replica-1", limit=2)] == [first]
    assert not _claim(db, second, "replica-1", later)
    assert not _claim(db, third, "replica-2", later)


def test_a_row_queued_for_later_holds_up_nothing(db: Database) -> None:
    with db.transaction() as session:  # a burst gathered until its window closes
        rows.enqueue(session, platforms=["discord"], destination="feed", payload="{}",
                     key="burst", now=NOW, not_before=NOW + timedelta(minutes=1))
    [notice] = _enqueue(db, "feed", "notice")
    assert _due(db, "replica-1", NOW) == [notice]
