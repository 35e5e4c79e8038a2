"""Storing deliveries many to a statement: each stored once, every field as given."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any

from sqlalchemy import event
from sqlmodel import select

from governance.clock import FakeClock
from governance.db import Database
from governance.inbox import service as inbox
from governance.inbox.models import PENDING, WebhookDelivery


def delivery(delivery_id: str, payload: str = '{"zen": "é"}') -> inbox.NewDelivery:
    return inbox.NewDelivery(delivery_id=delivery_id, event="issues", action="opened",
                             hook_id="42", payload=payload)


def test_a_batch_stores_each_new_delivery_once(db: Database, clock: FakeClock) -> None:
    with db.transaction() as session:
        assert inbox.store_deliveries(session, [delivery("a")], now=clock.now()) == {"a"}
    later = clock.now()
    with db.transaction() as session:
        new = inbox.store_deliveries(session, [delivery("a"), delivery("b", "x" * 20000),
                                               delivery("c"), delivery("b")], now=later)
    assert new == {"b", "c"}
    with db.transaction() as session:
        rows = {r.delivery_id: r for r in session.exec(select(WebhookDelivery)).all()}
    assert sorted(rows) == ["a", "b", "c"]
    b = rows["b"]
    assert (b.event, b.action, b.hook_id, b.payload) == ("issues", "opened", "42", "x" * 20000)
    assert rows["c"].payload == '{"zen": "é"}'
    assert (b.status, b.attempts, b.claimed_by, b.error, b.claimed_until) == (
        PENDING, 0, "", "", None)
    for moment in (b.received_at, b.not_before):
        assert moment.replace(tzinfo=moment.tzinfo or UTC) == later
    assert b.id is not None
    assert rows["a"].id is not None
    assert b.id > rows["a"].id


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database runs meanwhile: an executemany's once for each row
    it is given (the server runs it for each)."""
    sent: list[str] = []

    def note(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
             executemany: bool) -> None:
        sent.extend([statement] * (len(parameters) if executemany else 1))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def test_a_batch_is_claimed_in_two_statements_and_the_claims_hold(db: Database,
                                                                    clock: FakeClock) -> None:
    with db.transaction() as session:
        inbox.store_deliveries(session, [delivery(f"d-{i}") for i in range(25)], now=clock.now())
    with statements(db) as sent, db.transaction() as session:
        claimed = inbox.claim_pending(session, worker="a", now=clock.now(), limit=20)
    assert [row.delivery_id for row in claimed] == [f"d-{i}" for i in range(20)]
    assert {(row.claimed_by, row.claimed_until is not None) for row in claimed} == {("a", True)}
    assert len([s for s in sent if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]) == 2
    with db.transaction() as session:
        others = inbox.claim_pending(session, worker="b", now=clock.now(), limit=20)
        held = session.exec(select(WebhookDelivery).where(WebhookDelivery.claimed_by == "a")
                            ).all()
    assert [row.delivery_id for row in others] == [f"d-{i}" for i in range(20, 25)]
    assert len(held) == 20
