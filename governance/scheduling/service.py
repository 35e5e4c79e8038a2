"""Leases and job ticks: compare-and-set updates that are safe across replicas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, or_

from governance.db import insert_ignoring_conflicts
from governance.scheduling.models import JobTick, Lease

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def try_hold_lease(session: Session, *, name: str, holder: str, now: datetime,
                   ttl: timedelta) -> bool:
    """Take or renew the lease; True when `holder` holds it until now + ttl."""
    insert_ignoring_conflicts(session, Lease, [{"name": name, "holder": "", "expires_at": NEVER}],
                              ("name",))
    result = session.execute(
        update(Lease)
        .where(col(Lease.name) == name,
               or_(col(Lease.holder) == holder, col(Lease.expires_at) < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    return bool(getattr(result, "rowcount", 0))


def release_lease(session: Session, *, name: str, holder: str) -> None:
    session.execute(
        update(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder)
        .values(holder="", expires_at=NEVER)
    )


def lease_holder(session: Session, name: str, now: datetime) -> str | None:
    lease = session.get(Lease, name)
    if lease is None or lease.expires_at < now or not lease.holder:
        return None
    return lease.holder


def claim_tick(session: Session, *, job: str, tick: datetime, holder: str, now: datetime) -> bool:
    """True exactly once per (job, tick): the caller may run that tick."""
    insert_ignoring_conflicts(session, JobTick, [{"job": job, "last_tick": NEVER,
                                                  "last_holder": ""}], ("job",))
    result = session.execute(
        update(JobTick).where(col(JobTick.job) == job, col(JobTick.last_tick) < tick)
        .values(last_tick=tick, last_holder=holder, last_ran_at=now)
    )
    return bool(getattr(result, "rowcount", 0))
