"""The database helpers behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from governance.clock import FakeClock
from governance.db import Database
from governance.inbox.service import store_delivery


def test_insert_ignoring_conflicts_counts_what_went_in(db: Database, clock: FakeClock) -> None:
    def store() -> bool:
        with db.transaction() as session:
            return store_delivery(session, delivery_id="d-1", event="issues", action="closed",
                                  hook_id="", payload="{}", now=clock.now())

    assert store() is True
    assert store() is False
