"""How long the onboarding sweep and the digest take to find what is due among many checklists.

    python bench/bench_onboarding_due.py [--checklists 10000] [--due 20] [--runs 100]

Every checklist has the twelve default items (five for admins); most are completed or
waiting with nothing due. In `due` of them each kind of work is due now: admin items to
escalate (`escalate_at`), GitHub work (`github_due_at`), a check-in (`checkin_due_at`); as
many are stuck (`last_progress_at`). Runs on SQLite (a temporary file) and on PostgreSQL
(ROADIE_BENCH_POSTGRES_URL, default the local server's database `test`, in a schema of its
own, dropped afterwards; skipped when unreachable). The target: each search under 50 ms
(p95) on each. The query plans printed show which index each search uses.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from engines import on_each_database
from sqlalchemy import event, insert, text
from sqlmodel import Session

from cogs.onboarding.settings import DEFAULT_ITEMS
from governance.clock import FakeClock
from governance.db import Database
from governance.migrate import upgrade
from governance.onboarding import issue_work, service
from governance.onboarding.models import Checklist, ChecklistItem

TARGET_MS = 50.0
BATCH = 5_000
STUCK_AFTER = timedelta(days=14)


def fill(db: Database, clock: FakeClock, count: int, due: int) -> None:
    rng = random.Random(7)
    now = clock.now()
    due_ids = set(rng.sample(range(1, count + 1), due))
    checklists, items = [], []
    for number in range(1, count + 1):
        is_due = number in due_ids
        started = now - timedelta(days=rng.randint(31, 900) if is_due else rng.randint(0, 900))
        completed = not is_due and rng.random() < 0.7
        checklists.append({
            "id": number, "project": f"project-{number}", "repo": f"project-{number}",
            "state": "completed" if completed else "open", "opened_by": "carol",
            "started_at": started, "completed_by": "",
            "last_progress_at": started if is_due else now - timedelta(days=rng.randint(0, 13)),
            "completed_at": now if completed else None, "issue_number": 1, "issue_url": "",
            "issue_title": "Onboarding", "issue_body": "-", "assignees": "carol",
            "close_pending": False, "github_attempts": 0, "github_error": "",
            "github_due_at": now - timedelta(seconds=5) if is_due else None,
            "checkin_due_at": now - timedelta(hours=1) if is_due else (
                None if completed else started + timedelta(days=30 + 900))})
        for position, spec in enumerate(DEFAULT_ITEMS, start=1):
            admin = spec["who"] == "admin"
            waiting = admin and not completed
            items.append({
                "checklist_id": number, "key": spec["key"], "position": position,
                "text": spec["text"], "who": spec["who"], "escalation_kind": "other",
                "done_at": None if waiting else now, "done_by": "", "done_via": "",
                "sync_pending": False, "escalation_linked": False, "escalation_error": "",
                "escalate_at": (now - timedelta(minutes=1) if is_due else
                                now + timedelta(days=rng.randint(1, 7))) if waiting else None})
    with db.engine.begin() as conn:
        for table, rows in ((Checklist.__table__, checklists), (ChecklistItem.__table__, items)):
            for start in range(0, len(rows), BATCH):
                conn.execute(insert(table), rows[start:start + BATCH])  # type: ignore[arg-type]
        conn.execute(text("ANALYZE"))


def searches(clock: FakeClock) -> dict[str, Callable[[Session], int]]:
    now = clock.now()
    return {
        "admin items to escalate": lambda s: len(service.due_escalations(s, now)),
        "GitHub work due": lambda s: len(issue_work.due(s, now)),
        "check-ins due": lambda s: len(service.due_checkins(s, now)),
        "stuck checklists (digest)": lambda s: len(service.stuck_checklists(s, now,
                                                                            STUCK_AFTER)),
    }


def timed(db: Database, search: Callable[[Session], int], runs: int) -> tuple[list[float], int]:
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        with db.transaction() as session:
            found = search(session)
        times.append((time.perf_counter() - started) * 1000)
    return times, found


def plan(db: Database, search: Callable[[Session], int]) -> list[str]:
    """The plan of the (last) SELECT a search runs, as the database explains it."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.transaction() as session:
            search(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = seen[-1]
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (COSTS OFF) "
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    return [str(row[-1]) for row in rows]


def report(name: str, db: Database, args: argparse.Namespace) -> bool:
    clock = FakeClock()
    started = time.perf_counter()
    upgrade(db)
    fill(db, clock, args.checklists, args.due)
    print(f"\n== {name}: {args.checklists:,} checklists, {args.checklists * 12:,} items, "
          f"{args.due} with work due (built in {time.perf_counter() - started:.1f}s)")
    ok = True
    for label, search in searches(clock).items():
        timed(db, search, 5)  # warm the caches and the connection pool
        times, found = timed(db, search, args.runs)
        p95 = sorted(times)[int(len(times) * 0.95) - 1]
        ok = ok and p95 < TARGET_MS
        print(f"{label} ({found} found): median {statistics.median(times):.2f} ms, p95 "
              f"{p95:.2f} ms; target {TARGET_MS:.0f} ms: {'met' if p95 < TARGET_MS else 'MISSED'}")
        for line in plan(db, search):
            print(f"    {line}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checklists", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=20)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    return on_each_database(lambda name, db: report(name, db, args))


if __name__ == "__main__":
    sys.exit(main())
