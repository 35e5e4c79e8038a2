"""Enqueue, claim, and settle outgoing messages.

A row is sent by whichever worker claims it; a claim expires, so a crashed worker's rows
are taken up again. Rows are marked sent only after the platform accepted them.

Messages to one destination on one platform (a lane) go out in the order they were queued:
no worker takes a row while an earlier row of its lane that was tried before is still
pending, or while another live worker holds one (a row queued to go out later, such as a
gathered burst, holds up nothing). So a row held by a replica that died waits for its claim to expire (or
for the replica to come back under its name) and then goes first; a rate-limited row goes
before the ones queued after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, or_, select

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
    mine = (OutboxMessage.key == key, col(OutboxMessage.edit_of).is_(None))
    total = session.exec(select(func.count()).select_from(OutboxMessage).where(*mine)).one()
    free = list(session.exec(
        select(OutboxMessage)
        .where(*mine, OutboxMessage.status == PENDING,
               or_(col(OutboxMessage.claimed_until).is_(None),
                   col(OutboxMessage.claimed_until) < now))
        .with_for_update()
    ).all())
    if not total or len(free) != total:
        return False
    for row in free:
        row.payload = payload
    return True


def _due(now: datetime, platforms: Iterable[str], worker: str | None) -> tuple[Any, ...]:
    free = [col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now]
    if worker is not None:
        free.append(col(OutboxMessage.claimed_by) == worker)
    return (OutboxMessage.status == PENDING, OutboxMessage.not_before <= now,
            col(OutboxMessage.platform).in_(list(platforms)), or_(*free))


def _held_earlier_in_lane(now: datetime, worker: str | None) -> Any:
    """True for a row when an earlier row of its lane is pending and must go first: it was
    tried before (whether its retry is due yet or not: a row waiting for its first time, as
    a gathered burst does, holds up nothing), or another worker (any, when `worker` is None)
    holds a live claim on it.

    A retried row must hold its lane after its retry falls due too: its `not_before` has
    moved behind the rows queued after it, and a look for due rows (in `not_before` order,
    with a limit) may find those and not it."""
    earlier = aliased(OutboxMessage)
    claimed = col(earlier.claimed_until) >= now
    if worker is not None:
        claimed = claimed & (earlier.claimed_by != worker)
    retrying = (earlier.attempts > 0) | (earlier.last_error != "")
    return exists().where(
        earlier.platform == OutboxMessage.platform,
        earlier.destination == OutboxMessage.destination,
        earlier.status == PENDING, col(earlier.id) < col(OutboxMessage.id),
        or_(retrying, claimed))


# In the due index's own order, so that the database reads `limit` rows rather than sorting
# every waiting one: a burst leaves thousands.
_DUE_ORDER = (col(OutboxMessage.not_before), col(OutboxMessage.id))


def due(session: Session, *, platforms: Iterable[str], now: datetime,
        limit: int = 200) -> list[OutboxMessage]:
    """Rows that are due and not held by a live claim (nor behind one in their lane), in the
    order they came due. Nothing is claimed."""
    return list(session.exec(
        select(OutboxMessage).where(*_due(now, platforms, None),
                                    ~_held_earlier_in_lane(now, None)).order_by(*_DUE_ORDER)
        .limit(limit)
    ).all())


def due_lanes(session: Session, *, platforms: Iterable[str], now: datetime, worker: str,
              limit: int = 200) -> list[tuple[int, str, str]]:
    """(id, platform, destination) of the rows `due` would return, without their payloads.

    Claims of `worker` itself count as free, as in `claim`: a replica restarted under the
    same name takes back at once the rows it was sending when it stopped. Rows behind a row
    of their lane that waits or that another worker holds are left out, as `claim` would
    refuse them. They come in the order they were queued.
    """
    return sorted((row[0], row[1], row[2]) for row in session.exec(
        select(OutboxMessage.id, OutboxMessage.platform, OutboxMessage.destination)
        .where(*_due(now, platforms, worker), ~_held_earlier_in_lane(now, worker))
        .order_by(*_DUE_ORDER).limit(limit)
    ).all())


def claim(session: Session, row_id: int, *, worker: str, now: datetime,
          hold: timedelta = timedelta(seconds=60)) -> OutboxMessage | None:
    """Claim one row for sending (or hold it longer); None when it is settled, another
    worker holds it, or an earlier row of its lane waits or is held by another worker."""
    result = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id, OutboxMessage.status == PENDING,
               or_(col(OutboxMessage.claimed_until).is_(None),
                   col(OutboxMessage.claimed_until) < now,
                   col(OutboxMessage.claimed_by) == worker),
               ~_held_earlier_in_lane(now, worker))
        .values(claimed_by=worker, claimed_until=now + hold)
    )
    if not getattr(result, "rowcount", 0):
        return None
    return session.get(OutboxMessage, row_id, populate_existing=True)


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


def mark_sent(session: Session, row_id: int, *, remote_id: str, now: datetime) -> None:
    row = session.get(OutboxMessage, row_id)
    if row is not None:
        row.status, row.remote_id, row.sent_at = SENT, remote_id, now
        row.attempts += 1
        row.claimed_until = None


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
