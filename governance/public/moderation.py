"""The moderation page: counts, and the cases moderators chose to publish. Of a published
case only what they wrote for the public shows (its summary, and the subject's GitHub login
if they chose to name it); the subject otherwise, the reason, who blocked, who published,
appeals and chat ids stay with the moderators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlmodel import Session, col

from governance.moderation.models import ModerationCase
from governance.public.scope import Scope, iso, month_start
from governance.public.sql import month_of

PUBLISHED_LIMIT = 50


def published_cases(session: Session, *, since: datetime | None = None,
                    limit: int = PUBLISHED_LIMIT) -> list[dict[str, Any]]:
    """Published cases, the newest case first; `since`: only those published since then."""
    # Only these columns are read: nothing else of a case may reach a page.
    query = select(ModerationCase.id, ModerationCase.public_summary, ModerationCase.public_name,
                   ModerationCase.state, ModerationCase.created_at, ModerationCase.lifted_at,
                   ModerationCase.published_at).where(col(ModerationCase.public) == true())
    if since is not None:
        query = query.where(col(ModerationCase.published_at) >= since)
    rows = session.execute(query.order_by(col(ModerationCase.id).desc()).limit(limit)).all()
    return [{"number": r.id, "summary": r.public_summary, "account": r.public_name or None,
             "state": r.state, "opened_at": iso(r.created_at), "lifted_at": iso(r.lifted_at),
             "published_at": iso(r.published_at)} for r in rows]


def moderation_page(session: Session, scope: Scope, months: int = 12) -> dict[str, Any]:
    by_state = dict(session.execute(
        select(ModerationCase.state, func.count()).group_by(ModerationCase.state)).all())
    month = month_of(session, col(ModerationCase.created_at))
    per_month = session.execute(
        select(month, func.count())
        .where(col(ModerationCase.created_at) >= month_start(scope.now, months))
        .group_by(month).order_by(month)).all()
    return {"cases_by_state": {str(k): int(v) for k, v in sorted(by_state.items())},
            "cases": sum(int(v) for v in by_state.values()),
            "cases_per_month": [{"month": m, "cases": int(n)} for m, n in per_month],
            "published": published_cases(session)}
