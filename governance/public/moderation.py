"""The moderation page: counts only. Who was blocked, by whom, why, and any appeal stay with
the moderators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from governance.moderation.models import ModerationCase
from governance.public.scope import Scope, month_start
from governance.public.sql import month_of


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
            "cases_per_month": [{"month": m, "cases": int(n)} for m, n in per_month]}
