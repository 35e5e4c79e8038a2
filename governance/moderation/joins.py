"""Joins seen on the org and the chat servers, counted to notice many in a short time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.db import insert_ignoring_conflicts
from governance.moderation.models import JoinSeen


def record_join(session: Session, *, platform: str, account: str, at: datetime) -> None:
    """Note a join (once, however often the same event arrives)."""
    insert_ignoring_conflicts(session, JoinSeen,
                              [{"platform": platform, "account": account, "joined_at": at}],
                              ("platform", "account", "joined_at"))


def joins_since(session: Session, platform: str, since: datetime) -> int:
    return int(session.exec(
        select(func.count()).select_from(JoinSeen)
        .where(JoinSeen.platform == platform, col(JoinSeen.joined_at) >= since)
    ).one())


def forget_joins(session: Session, before: datetime) -> None:
    session.execute(
        JoinSeen.__table__.delete().where(col(JoinSeen.joined_at) < before))  # type: ignore[attr-defined]


def record_signal(session: Session, *, platform: str, account: str, points: int, summary: str,
                  now: datetime) -> None:
    record(session, actor=Actor.system(), action="moderation.signal",
           target=f"{platform}:{account}", at=now, reason=summary, data={"points": points})
