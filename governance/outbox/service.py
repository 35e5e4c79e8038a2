"""Enqueue, claim, and settle outgoing messages.

A row is sent by whichever worker claims it; a claim expires, so a crashed worker's rows
are taken up again. Rows are marked sent only after the platform accepted them.

Messages to one destination on one platform (a lane) go out in the order they were queued:
no worker takes a row while an earlier row of its lane that was tried before is still
pending, or while another live worker holds one (a row queued to go out later, such as a
gathered burst, holds up nothing). So a row held by a replica that died waits for its claim
to expire (or for the replica to come back under its name) and then goes first; a
rate-limited row goes before the ones queued after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, update
from sqlmodel import Session, col, or_, select

from governance.clock import aware
from governance.db import insert_ignoring_conflicts
from governance.outbox.models import FAILED, PENDING, SENT, SUPERSEDED, OutboxMessage


def enqueue(session: Session, *, platforms: Iterable[str], destination: str, payload: str,
            key: str, now: datetime, edit_of: str | None = None,
            not_before: datetime | None = None) -> int:
    """Add one row per platform; a key already used on a platform adds nothing there."""
    rows = [
        {"platform": platform, "destination": destination, "key": key, "edit_of": edit_of,
         "payload": payload, "status": PENDING, "attempts": 0, "not_before": not_before or now,
         "claimed_by": "", "created_at": now, "remote_id": "", "last_error": ""}
        for platform in platforms
    ]
    if edit_of is not None:
        # Only the newest edit of a message matters: older ones not yet sent are dropped.
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.edit_of) == edit_of, OutboxMessage.status == PENDING,
                   col(OutboxMessage.platform).in_([r["platform"] for r in rows]),
                   or_(col(OutboxMessage.claimed_until).is_(None),
                       col(OutboxMessage.claimed_until) < now))
            .values(status=SUPERSEDED)
        )
    return insert_ignoring_conflicts(session, OutboxMessage, rows, ("platform", "key"))


def revise_pending(session: Session, *, key: str, payload: str, now: datetime) -> bool:
    """Replace the payload of a message that no platform has sent or is sending yet.

    False (and nothing changed) when there is no such message, or when any platform's row
    with this key is settled or claimed by a sender right now.
    """
    # One statement: every row of the message, locked, then judged here.
    found = list(session.exec(_MESSAGE_ROWS, params={"key": key}).all())
    if not found or any(row.status != PENDING or (row.claimed_until is not None
                                                  and aware(row.claimed_until) >= aware(now))
                        for row in found):
        return False
    for row in found:
        row.payload = payload
    return True


_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
# The statements below are built once, with bind parameters (`now`, `worker`, `platforms`,
# ...): building them anew took some 4 ms of CPU per call (the lane's self-join above all),
# and the sender makes one call per look and one per message.


def _held_earlier_in_lane(*, worker_aware: bool) -> Any:
    """True for a row when an earlier row of its lane is pending and must go first: it was
    tried before (whether its retry is due yet or not: a row waiting for its first time, as
    a gathered burst does, holds up nothing), or another worker (any, unless
    `worker_aware`: any but `worker`) holds a live claim on it.

    A retried row must hold its lane after its retry falls due too: its `not_before` has
    moved behind the rows queued after it, and a look for due rows (in `not_before` order,
    with a limit) may find those and not it."""
    earlier = _OUTBOX.alias("earlier")
    claimed = earlier.c.claimed_until >= bindparam("now")
    if worker_aware:
        claimed = claimed & (earlier.c.claimed_by != bindparam("worker"))
    retrying = (earlier.c.attempts > 0) | (earlier.c.last_error != "")
    return exists().where(
        earlier.c.platform == _OUTBOX.c.platform,
        earlier.c.destination == _OUTBOX.c.destination,
        earlier.c.status == PENDING, earlier.c.id < _OUTBOX.c.id,
        or_(retrying, claimed))


def _free(*, worker_aware: bool) -> Any:
    """Not held by a live claim (of another worker than `worker`, if `worker_aware`)."""
    free = [_OUTBOX.c.claimed_until.is_(None), _OUTBOX.c.claimed_until < bindparam("now")]
    if worker_aware:
        free.append(_OUTBOX.c.claimed_by == bindparam("worker"))
    return or_(*free)


def _due_where(*, worker_aware: bool) -> tuple[Any, ...]:
    return (_OUTBOX.c.status == PENDING, _OUTBOX.c.not_before <= bindparam("now"),
            _OUTBOX.c.platform.in_(bindparam("platforms", expanding=True)),
            _free(worker_aware=worker_aware), ~_held_earlier_in_lane(worker_aware=worker_aware))


# In the due index's own order, so that the database reads `limit` rows rather than sorting
# every waiting one: a burst leaves thousands.
_DUE_ORDER = (_OUTBOX.c.not_before, _OUTBOX.c.id)
_DUE = (select(OutboxMessage).where(*_due_where(worker_aware=False)).order_by(*_DUE_ORDER)
        .limit(bindparam("limit")))
_DUE_LANES = (select(_OUTBOX.c.id, _OUTBOX.c.platform, _OUTBOX.c.destination)
              .where(*_due_where(worker_aware=True)).order_by(*_DUE_ORDER)
              .limit(bindparam("limit")))
_MESSAGE_ROWS = (select(OutboxMessage)
                 .where(OutboxMessage.key == bindparam("key"), _OUTBOX.c.edit_of.is_(None))
                 .with_for_update())
_CLAIM = (update(_OUTBOX)
          .where(_OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.status == PENDING,
                 _free(worker_aware=True), ~_held_earlier_in_lane(worker_aware=True))
          .values(claimed_by=bindparam("worker"), claimed_until=bindparam("until"))
          .returning(*_OUTBOX.c))


def due(session: Session, *, platforms: Iterable[str], now: datetime,
        limit: int = 200) -> list[OutboxMessage]:
    """Rows that are due and not held by a live claim (nor behind one in their lane), in the
    order they came due. Nothing is claimed."""
    return list(session.exec(_DUE, params={"now": now, "platforms": list(platforms),
                                           "limit": limit}).all())


def due_lanes(session: Session, *, platforms: Iterable[str], now: datetime, worker: str,
              limit: int = 200) -> list[tuple[int, str, str]]:
    """(id, platform, destination) of the rows `due` would return, without their payloads.

    Claims of `worker` itself count as free, as in `claim`: a replica restarted under the
    same name takes back at once the rows it was sending when it stopped. Rows behind a row
    of their lane that waits or that another worker holds are left out, as `claim` would
    refuse them. They come in the order they were queued.
    """
    found = session.connection().execute(_DUE_LANES, {
        "now": now, "platforms": list(platforms), "worker": worker, "limit": limit})
    return sorted((row[0], row[1], row[2]) for row in found)


def claim(session: Session, row_id: int, *, worker: str, now: datetime,
          hold: timedelta = timedelta(seconds=60)) -> OutboxMessage | None:
    """Claim one row for sending (or hold it longer); None when it is settled, another
    worker holds it, or an earlier row of its lane waits or is held by another worker."""
    # One statement, that hands back the row it claimed: callers may run it without a
    # transaction around it (`Database.autocommit`), in one round trip.
    found = session.connection().execute(_CLAIM, {
        "row_id": row_id, "now": now, "worker": worker, "until": now + hold}).first()
    return None if found is None else OutboxMessage(**found._mapping)


def next_due(session: Session, platforms: Iterable[str]) -> datetime | None:
    return session.exec(
        select(func.min(OutboxMessage.not_before))
        .where(OutboxMessage.status == PENDING, col(OutboxMessage.platform).in_(list(platforms)))
    ).first()


def sent_remote_id(session: Session, platform: str, key: str) -> tuple[str, str] | None:
    """(status, remote id) of the message with this key on a platform, or None if unknown."""
    row = session.exec(
        select(OutboxMessage.status, OutboxMessage.remote_id)
        .where(OutboxMessage.platform == platform, OutboxMessage.key == key)
    ).first()
    return (row[0], row[1]) if row else None


def repoint(session: Session, platform: str, key: str, *, remote_id: str) -> None:
    """The message with this key now shows on the platform as `remote_id` (posted anew
    where the first could no longer be edited): later edits go to that one."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.platform == platform, OutboxMessage.key == key)
        .values(remote_id=remote_id)
    )


_MARK_SENT = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))
              .values(status=SENT, remote_id=bindparam("remote_id"), sent_at=bindparam("now"),
                      attempts=_OUTBOX.c.attempts + 1, claimed_until=None))


def mark_sent(session: Session, row_id: int, *, remote_id: str, now: datetime) -> None:
    session.connection().execute(_MARK_SENT, {"row_id": row_id, "remote_id": remote_id,
                                              "now": now})


def mark_retry(session: Session, row_id: int, *, error: str, not_before: datetime,
               count_attempt: bool = True) -> int:
    """Put a row back for a later attempt; return how many attempts it has had."""
    row = session.get(OutboxMessage, row_id)
    if row is None:
        return 0
    row.attempts += 1 if count_attempt else 0
    row.last_error, row.not_before, row.claimed_until = error[:2000], not_before, None
    return row.attempts


def mark_failed(session: Session, row_id: int, *, error: str) -> None:
    row = session.get(OutboxMessage, row_id)
    if row is not None:
        row.status, row.last_error, row.claimed_until = FAILED, error[:2000], None
        row.attempts += 1


def depth(session: Session) -> dict[tuple[str, str], int]:
    """How many rows wait, by (platform, status) for pending and failed rows."""
    rows = session.exec(
        select(OutboxMessage.platform, OutboxMessage.status, func.count())
        .where(col(OutboxMessage.status).in_([PENDING, FAILED]))
        .group_by(OutboxMessage.platform, OutboxMessage.status)
    ).all()
    return {(platform, status): count for platform, status, count in rows}


def prune_sent(session: Session, *, older_than: datetime) -> int:
    """Forget settled rows that no longer matter; a sent row is kept while it may be edited."""
    result = session.execute(
        OutboxMessage.__table__.delete().where(  # type: ignore[attr-defined]
            col(OutboxMessage.status).in_([SENT, SUPERSEDED]),
            col(OutboxMessage.created_at) < older_than,
            col(OutboxMessage.edit_of).is_not(None) | (OutboxMessage.status == SUPERSEDED),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def sent_with_remote_id(session: Session, platform: str, remote_id: str) -> list[OutboxMessage]:
    """The rows that became the platform's message `remote_id` (the original and its edits),
    newest first."""
    return list(session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.platform == platform, OutboxMessage.remote_id == remote_id,
               OutboxMessage.status == SENT)
        .order_by(col(OutboxMessage.id).desc())
    ).all())


def recently_sent(session: Session, platform: str, *, limit: int = 50) -> list[OutboxMessage]:
    """The newest rows sent on a platform, newest first."""
    return list(session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.platform == platform, OutboxMessage.status == SENT)
        .order_by(col(OutboxMessage.id).desc()).limit(limit)
    ).all())
