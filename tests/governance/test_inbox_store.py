"""Storing deliveries many to a statement: each stored once, every field as given."""

from __future__ import annotations

from datetime import UTC

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
