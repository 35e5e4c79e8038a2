"""Claiming a day's digest: granted exactly once per day, across replicas and restarts."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from governance.audit import Actor, record
from governance.db import insert_ignoring_conflicts
from governance.digest.models import DigestDay


def claim_day(session: Session, *, day: date, now: datetime, outbox_key: str) -> DigestDay | None:
    """Record that `day`'s digest goes out in this transaction; None when it went already.

    The caller queues the message in the same transaction, so that the row and the message
    exist together or not at all. On PostgreSQL a second replica claiming the same day at
    the same moment waits for the first one's commit, then finds the row taken.
    """
    claimed = insert_ignoring_conflicts(session, DigestDay, [{
        "day": day, "sent_at": now, "outbox_key": outbox_key, "sections": 0}], ("day",))
    if not claimed:
        return None
    record(session, actor=Actor.system(), action="digest.send", target=f"digest:{day}", at=now,
           data={"key": outbox_key})
    return session.get(DigestDay, day)


def sent_on(session: Session, day: date) -> DigestDay | None:
    return session.get(DigestDay, day)
