"""A delivery whose handler hit a platform's rate limit waits as long as the platform asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from governance.db import Database
from governance.inbox import service as inbox

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_a_retry_waits_at_least_what_the_platform_asked(db: Database) -> None:
    with db.transaction() as session:
        inbox.store_deliveries(session, [inbox.NewDelivery("one", "membership", "added", "",
                                                           "{}"),
                                         inbox.NewDelivery("two", "membership", "added", "",
                                                           "{}")], now=NOW)
    with db.transaction() as session:
        first = inbox.find_delivery(session, "one")
        second = inbox.find_delivery(session, "two")
        assert first is not None
        assert first.id is not None
        assert second is not None
        assert second.id is not None
        assert inbox.retry_later(session, first.id, error="github: rate limited", now=NOW,
                                 max_attempts=8, at_least=3600)
        assert inbox.retry_later(session, second.id, error="github: 502", now=NOW,
                                 max_attempts=8)
    with db.transaction() as session:
        waits = {d: inbox.find_delivery(session, d).not_before for d in ("one", "two")}
    assert {d: w.replace(tzinfo=UTC) - NOW for d, w in waits.items()} == {
        "one": timedelta(hours=1), "two": timedelta(seconds=2)}
