"""Today's digest as a public page: the daily digest's sections, in its order and words,
read through the public readers (so private repositories stay hidden) and never from the
capabilities' own digest sections, which hold what is not public (who was blocked and why,
away notes, private repositories).

Moderation is counts only (blocks in the last day), with the cases moderators published in
that day; admins away are names and until when, never their notes. Empty sections are left
out. The day is the digest's day in its timezone (`[digest] timezone`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlmodel import Session

from governance.escalations import away
from governance.moderation.service import count_cases_since
from governance.public import escalations, projects, votes
from governance.public.moderation import published_cases
from governance.public.overview import closing_votes, days_of
from governance.public.scope import Scope, iso

HORIZON = timedelta(hours=24)
"""How far ahead the digest looks for deadlines and votes closing."""
PERIOD = timedelta(days=1)
"""How far back it looks for what is new: votes decided, blocks, published cases."""
SHOWN = 50
"""The most items a section lists; its count is complete for escalations, the longest."""


def _section(key: str, title: str, items: list[dict[str, Any]], *,
             count: int | None = None, **more: Any) -> dict[str, Any]:
    return {"key": key, "title": title, "count": len(items) if count is None else count,
            "items": items, **more}


def _escalations(session: Session, scope: Scope) -> dict[str, Any]:
    due_by = scope.now + HORIZON
    _, due = escalations.totals(session, scope, due_by=due_by)
    return _section("escalations", "Escalations breached or due within 24h",
                    escalations.open_tickets(session, scope, limit=SHOWN, due_by=due_by),
                    count=due)


def _closing(session: Session, scope: Scope) -> dict[str, Any]:
    closing = closing_votes(session, scope, SHOWN, by=scope.now + HORIZON)
    counts = votes.ballot_counts(session, [v["number"] for v in closing])
    return _section("closing", "Votes closing within 24h",
                    [{**v, "ballots": counts.get(v["number"], 0)} for v in closing])


def _decided(session: Session, scope: Scope) -> dict[str, Any]:
    closed = votes.closed_votes(session, scope, SHOWN, since=scope.now - PERIOD)
    return _section("decided", "Votes decided in the last day", [
        {key: v[key] for key in ("number", "kind", "project", "subject", "result",
                                 "explanation", "closed_at")} for v in closed])


def _moderation(session: Session, scope: Scope) -> dict[str, Any]:
    since = scope.now - PERIOD
    blocks = count_cases_since(session, since)  # the chat digest's count, without the names
    published = published_cases(session, since=since, limit=SHOWN)
    return _section("moderation", "Blocks of the last day", published, count=blocks,
                    blocks=blocks)


def _away(session: Session, now: datetime) -> dict[str, Any]:
    names = {login.lower(): login for login in away.admins(session)}
    gone = sorted(away.away_admins(session, now).items(), key=lambda i: (i[1].until, i[0]))
    return _section("away", "Admins away", [
        {"admin": names.get(login, login), "until": iso(period.until)} for login, period in gone])


def digest_page(session: Session, scope: Scope, *, stuck_after: timedelta,
                zone: tzinfo) -> dict[str, Any]:
    local = scope.now.astimezone(zone)
    sections = [
        _escalations(session, scope),
        _section("onboarding", "Stuck onboarding",
                 projects.stuck(session, scope, stuck_after, limit=SHOWN)),
        _section("nominations", "Nominations waiting for the nominee",
                 votes.waiting_nominations(session, scope, SHOWN)),
        _closing(session, scope),
        _decided(session, scope),
        _moderation(session, scope),
        _section("without_lead", "Projects without a lead",
                 [{"project": name} for name in projects.without_lead(session, scope, SHOWN)]),
        _away(session, scope.now),
    ]
    shown = [s for s in sections if s["count"] or s["items"]]
    return {"day": local.date().isoformat(), "as_of": iso(scope.now),
            "as_of_local": local.isoformat(timespec="seconds"), "timezone": str(zone),
            "horizon_hours": int(HORIZON.total_seconds() // 3600),
            "stuck_after_days": days_of(stuck_after), "quiet": not shown, "sections": shown}
