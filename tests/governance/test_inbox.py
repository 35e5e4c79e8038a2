"""Storing webhook deliveries: once per delivery id, on both engines."""

from __future__ import annotations

from governance.clock import FakeClock
from governance.db import Database
from governance.inbox.service import store_delivery


def test_a_delivery_is_stored_once(db: Database, clock: FakeClock) -> None:
    def store() -> bool:
        with db.transaction() as session:
            return store_delivery(session, delivery_id="d-1", event="ping", action="",
                                  hook_id="1", payload="{}", now=clock.now())

    assert store() is True
    assert store() is False  # a redelivery
