"""Bursts of activity on one item, and the CI status of workflows on default branches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, select

from governance.audit import Actor, history, record
from governance.clock import aware
from governance.db import insert_ignoring_conflicts
from governance.feed.models import CIStatus, FeedBurst

FAILED = frozenset({"failure", "timed_out", "startup_failure"})
PASSED = frozenset({"success"})


# --- bursts -------------------------------------------------------------------------------


_RECENT_BURSTS = (
    select(FeedBurst)
    .where(FeedBurst.destination == bindparam("destination"),
           FeedBurst.repo == bindparam("repo"), FeedBurst.number == bindparam("number"),
           FeedBurst.ref == bindparam("ref"), FeedBurst.closes_at > bindparam("since"))
    .order_by(col(FeedBurst.closes_at).desc())
    .with_for_update())
"""Built once: the feed looks for bursts on every delivery it handles."""


def recent_bursts(session: Session, *, destination: str, repo: str, number: int,
                  since: datetime, ref: str = "") -> list[FeedBurst]:
    """Bursts of one item (or of pushes to one branch: number 0 and its `ref`) that closed
    after `since`, newest first, locked for update."""
    return list(session.exec(_RECENT_BURSTS, params={
        "destination": destination, "repo": repo, "number": number, "ref": ref,
        "since": since}).all())


def holds(burst: FeedBurst, delivery_id: str) -> bool:
    return delivery_id in json.loads(burst.deliveries)


def is_open(burst: FeedBurst, now: datetime) -> bool:
    return aware(burst.closes_at) > now


def burst_state(burst: FeedBurst) -> dict[str, Any]:
    state = json.loads(burst.state)
    return state if isinstance(state, dict) else {}


_START_BURST = insert(FeedBurst.__table__)  # type: ignore[attr-defined]


def start_burst(session: Session, *, destination: str, repo: str, number: int, key: str,
                now: datetime, window: timedelta, state: dict[str, Any],
                delivery_id: str, ref: str = "") -> datetime:
    """Open a burst; when it closes. (A plain insert: as an ORM object, the row cost three
    times the CPU, on every delivery the feed tells.)"""
    closes_at = now + window
    session.execute(_START_BURST, {
        "destination": destination, "repo": repo, "number": number, "ref": ref,
        "message_key": key, "opened_at": now, "closes_at": closes_at,
        "state": json.dumps(state, ensure_ascii=False), "deliveries": json.dumps([delivery_id])})
    return closes_at


def add_to_burst(burst: FeedBurst, *, state: dict[str, Any], delivery_id: str) -> None:
    burst.state = json.dumps(state, ensure_ascii=False)
    burst.deliveries = json.dumps([*json.loads(burst.deliveries), delivery_id])


def prune_bursts(session: Session, *, older_than: datetime) -> int:
    result = session.execute(
        FeedBurst.__table__.delete().where(  # type: ignore[attr-defined]
            col(FeedBurst.closes_at) < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


# --- CI status ----------------------------------------------------------------------------

ChangeKind = Literal["new_failure", "still_failing", "flapping", "fixed", "quiet"]


@dataclass(frozen=True)
class CIChange:
    """What a completed run changes. `message_key` and `destinations` are those of the
    failure notice (new, or the one to edit)."""

    kind: ChangeKind
    failures: int
    message_key: str
    destinations: tuple[str, ...]
    flips: int = 0
    """How often it failed again soon after a fix, in this notice: it flaps."""


def record_ci_run(session: Session, *, repo: str, source: str, run_id: str, conclusion: str,
                  completed_at: datetime | None, now: datetime, new_key: str,
                  destinations: tuple[str, ...],
                  flap_window: timedelta = timedelta(0)) -> CIChange | None:
    """Apply a completed run on the default branch; None when it changes nothing.

    A failure after a pass opens a failure notice under `new_key` in `destinations`; more
    failures and the first pass after them refer to that same notice, and so does a failure
    within `flap_window` of that pass (the run flaps). Runs other than passes and failures
    (cancelled, skipped, neutral) change nothing, and so do a run seen before and a run that
    completed before the last one recorded.
    """
    if conclusion not in FAILED | PASSED:
        return None
    insert_ignoring_conflicts(session, CIStatus, [{
        "repo": repo, "source": source, "conclusion": "", "failures": 0, "message_key": "",
        "destinations": "[]", "last_run": "", "updated_at": now}], ("repo", "source"))
    status = session.exec(
        select(CIStatus).where(CIStatus.repo == repo, CIStatus.source == source)
        .with_for_update()
    ).one()
    if run_id and run_id == status.last_run:
        return None
    if completed_at and status.completed_at and completed_at < aware(status.completed_at):
        return None
    status.last_run, status.completed_at, status.updated_at = run_id, completed_at, now
    status.conclusion = conclusion
    moment = completed_at or now
    if conclusion in FAILED:
        if status.failures and status.message_key:
            status.failures += 1
            return CIChange("still_failing", status.failures, status.message_key,
                            tuple(json.loads(status.destinations)), status.flips)
        if (status.message_key and status.fixed_at is not None
                and moment - aware(status.fixed_at) <= flap_window):
            status.failures, status.flips, status.fixed_at = 1, status.flips + 1, None
            return CIChange("flapping", 1, status.message_key,
                            tuple(json.loads(status.destinations)), status.flips)
        status.failures, status.message_key, status.flips, status.fixed_at = 1, new_key, 0, None
        status.destinations = json.dumps(list(destinations))
        return CIChange("new_failure", 1, new_key, destinations)
    if status.failures and status.message_key:
        change = CIChange("fixed", status.failures, status.message_key,
                          tuple(json.loads(status.destinations)), status.flips)
        status.failures, status.fixed_at = 0, moment
        return change
    return CIChange("quiet", 0, "", ())


# --- direct pushes ------------------------------------------------------------------------


def record_direct_push(session: Session, *, repo: str, sha: str, branch: str, pusher: str,
                       commits: list[str], now: datetime) -> bool:
    """Put a direct push on the record (once per commit); False when it was already."""
    target = f"commit:{repo.lower()}@{sha}"
    if history(session, target=target, action_prefix="push.direct", limit=1):
        return False
    record(session, actor=Actor.github(pusher), action="push.direct", target=target, at=now,
           reason=f"pushed to the default branch {branch} without a merged pull request",
           data={"repo": repo, "branch": branch, "sha": sha, "commits": commits[:50]})
    return True
