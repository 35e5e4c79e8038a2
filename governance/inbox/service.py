"""Store a delivery once, then hand it to exactly one worker at a time until it is settled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, or_, select

from governance.db import insert_ignoring_conflicts
from governance.inbox.models import DONE, FAILED, IGNORED, PENDING, WebhookDelivery


def store_delivery(session: Session, *, delivery_id: str, event: str, action: str, hook_id: str,
                   payload: str, now: datetime) -> bool:
    """Store a delivery; False when this delivery id was stored before (a redelivery)."""
    row = {"delivery_id": delivery_id, "event": event, "action": action, "hook_id": hook_id,
           "payload": payload, "received_at": now, "status": PENDING, "attempts": 0,
           "not_before": now, "claimed_by": "", "error": ""}
    return insert_ignoring_conflicts(session, WebhookDelivery, [row], ("delivery_id",)) == 1


@dataclass(frozen=True)
class NewDelivery:
    delivery_id: str
    event: str
    action: str
    hook_id: str
    payload: str


def store_deliveries(session: Session | Connection, deliveries: Sequence[NewDelivery], *,
                     now: datetime) -> set[str]:
    """Store several deliveries in one statement; return the ids that were new.

    An id stored before, or repeated within `deliveries`, is stored once. The receiver
    calls this before every answer (through `Database.autocommit`: one statement), or on
    PostgreSQL sends `postgres_store_statement` itself.
    """
    connection = session.connection() if isinstance(session, Session) else session
    if connection.dialect.name == "postgresql":
        statement, values = postgres_store_statement(deliveries, now=now)
        if not values:
            return set()
        from psycopg import RawCursor  # the PostgreSQL driver, when it is the database

        driver: Any = connection.connection.driver_connection
        with RawCursor(driver) as cursor:
            cursor.execute(statement, values)
            return {found[0] for found in cursor.fetchall()}
    given = _unique(deliveries)
    if not given:
        return set()
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    statement = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["delivery_id"])
                 .returning(table.c.delivery_id))
    same = _new_row(now)
    return {row[0] for row in connection.execute(
        statement, [{**dict(zip(_GIVEN, row, strict=True)), **same} for row in given])}


_GIVEN = ("delivery_id", "event", "action", "hook_id", "payload")


def _unique(deliveries: Sequence[NewDelivery]) -> list[tuple[str, str, str, str, str]]:
    """The deliveries' values in `_GIVEN` order, each id once."""
    given, seen = [], set()
    for d in deliveries:
        if d.delivery_id not in seen:
            seen.add(d.delivery_id)
            given.append((d.delivery_id, d.event, d.action, d.hook_id, d.payload))
    return given


def _new_row(now: datetime) -> dict[str, object]:
    """What a new delivery's row starts with, besides what it was given."""
    return {"received_at": now, "status": PENDING, "attempts": 0, "not_before": now,
            "claimed_by": "", "error": ""}


def postgres_store_statement(deliveries: Sequence[NewDelivery], *,
                             now: datetime) -> tuple[str, list[object]]:
    """The PostgreSQL statement (in the server's own `$1` placeholders, for psycopg's raw
    cursors) and its values that store `deliveries` as `store_deliveries` does, returning
    the ids that were new; no values when there is nothing to store.

    The rows in one statement sent by the driver itself: one round trip, and a tenth of
    the CPU of SQLAlchemy's own multi-row statement (every acknowledgement waits for this;
    the driver's `executemany` would cost two round trips). What differs between the rows
    is sent for each, what they share once. The text depends on the number of rows alone,
    so that it is built once for each and the server may prepare it."""
    given, same = _unique(deliveries), _new_row(now)
    if not given:
        return "", []
    return _store_statement(len(given)), [*same.values(), *(value for row in given
                                                             for value in row)]


@lru_cache(maxsize=256)
def _store_statement(rows: int) -> str:
    shared = _new_row(datetime.min)
    numbers = iter(range(1, len(shared) + rows * len(_GIVEN) + 1))
    shared_values = ", ".join(f"${next(numbers)}" for _ in shared)
    given_rows = ", ".join("(" + ", ".join(f"${next(numbers)}" for _ in _GIVEN) + ")"
                           for _ in range(rows))
    return (
        f"INSERT INTO {WebhookDelivery.__tablename__} ({', '.join(_GIVEN)}, "
        f"{', '.join(shared)}) SELECT {', '.join(_GIVEN)}, {shared_values} "
        f"FROM (VALUES {given_rows}) AS given ({', '.join(_GIVEN)}) "
        "ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id")


_DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]
_CLAIM = (update(_DELIVERIES).where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
          .values(claimed_by=bindparam("worker"), claimed_until=bindparam("until")))
CLAIM_HOLD = timedelta(seconds=30)
"""How long a claim on a delivery lasts unless held longer (`hold_longer`): a replica that
died leaves what it had claimed to the others after this."""


def claim_pending(session: Session, *, worker: str, now: datetime, limit: int = 20,
                  hold: timedelta = CLAIM_HOLD) -> list[WebhookDelivery]:
    """Claim due deliveries, in the order they came due (for a new delivery: its arrival).
    Claims of `worker` itself count as free: a replica restarted under the same name takes
    back at once what it held when it stopped.

    The order is the due index's own, so that the database reads `limit` rows rather than
    sorting every waiting payload: a burst leaves thousands of them.
    """
    rows = list(session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.not_before <= now,
               or_(col(WebhookDelivery.claimed_until).is_(None),
                   col(WebhookDelivery.claimed_until) < now,
                   col(WebhookDelivery.claimed_by) == worker))
        .order_by(col(WebhookDelivery.not_before), col(WebhookDelivery.id)).limit(limit)
        .with_for_update(skip_locked=True)
    ).all())
    if rows:
        until = now + hold
        # One statement for the batch: flushed as objects, each row was a statement of its own.
        session.connection().execute(_CLAIM, {"ids": [row.id for row in rows],
                                              "worker": worker, "until": until})
        for row in rows:
            set_committed_value(row, "claimed_by", worker)
            set_committed_value(row, "claimed_until", until)
    return rows


# Built once (the worker settles every delivery): building it anew cost more CPU than the
# round trip.
_SETTLE = (update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("row_id"))
           .values(status=bindparam("outcome"), processed_at=bindparam("now"),
                   claimed_until=None, attempts=_DELIVERIES.c.attempts + 1))
_SETTLE_NOTED = _SETTLE.values(error=bindparam("note"))


def settle(session: Session, row_id: int, *, handled: bool, now: datetime,
           note: str = "") -> None:
    """Mark a delivery processed: `handled` when some handler acted on it, else ignored
    (`note` says why, when no handler saw it)."""
    # On the table, not the model: there is no loaded row to keep in step.
    values = {"row_id": row_id, "outcome": DONE if handled else IGNORED, "now": now}
    if note:
        session.connection().execute(_SETTLE_NOTED, {**values, "note": note[:4000]})
    else:
        session.connection().execute(_SETTLE, values)


_HOLD_LONGER = (update(_DELIVERIES)
                .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)),
                       _DELIVERIES.c.claimed_by == bindparam("worker"),
                       _DELIVERIES.c.status == PENDING)
                .values(claimed_until=bindparam("until"))
                .returning(_DELIVERIES.c.id))


def hold_longer(session: Session, row_ids: Sequence[int], *, worker: str, now: datetime,
                hold: timedelta = CLAIM_HOLD) -> set[int]:
    """Hold the deliveries `worker` claimed for another `hold`; return those it still holds
    (not those another worker took once its claim had run out, nor settled ones)."""
    if not row_ids:
        return set()
    found = session.connection().execute(_HOLD_LONGER, {
        "ids": list(row_ids), "worker": worker, "until": now + hold})
    return {row[0] for row in found}


def retry_later(session: Session, row_id: int, *, error: str, now: datetime,
                max_attempts: int, at_least: float = 0.0) -> bool:
    """Put a failed delivery back with backoff, or after `at_least` seconds when a platform
    asked to wait that long; False once it has failed for good."""
    row = session.get(WebhookDelivery, row_id)
    if row is None:
        return False
    row.attempts += 1
    row.error, row.claimed_until = error[:4000], None
    if row.attempts >= max_attempts:
        row.status, row.processed_at = FAILED, now
        return False
    row.not_before = now + timedelta(seconds=max(min(2 ** row.attempts, 600), at_least))
    return True


def find_delivery(session: Session, delivery_id: str) -> WebhookDelivery | None:
    return session.exec(
        select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)
    ).first()
