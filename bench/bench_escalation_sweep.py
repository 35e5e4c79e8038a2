"""How long the SLA sweep takes to find the due reminders among 100,000 tickets.

    python bench/bench_escalation_sweep.py [--tickets 100000] [--due 100] [--runs 200]

Runs on SQLite (a temporary file) and on PostgreSQL (ROADIE_BENCH_POSTGRES_URL, default the
local server's database `test`, in a schema of its own that is dropped afterwards; skipped
when unreachable). The target: finding the due tickets in under 50 ms on each.

What the sweep relies on: `next_reminder_at` is indexed (ix_escalation_next_reminder_at), and
the query is one range scan of it (`next_reminder_at <= now ORDER BY next_reminder_at LIMIT
n`): its cost grows with the number of due tickets, not with the table. Closed tickets have
no next reminder (NULL), so they are not even in the scanned range. The plans printed below
show the index being used.

It also times a whole sweep of the due tickets (lock, record the point, audit, queue the
message), for information.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta

from engines import on_each_database
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite

from bot.core.cog import CogContext, Destinations
from bot.core.outbox import Outbox
from bot.runtime import eventloop
from cogs.escalation.cog import EscalationCog
from cogs.escalation.settings import EscalationSettings
from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.escalations import service
from governance.escalations.models import Ticket
from governance.migrate import upgrade
from governance.people.roles import Role
from governance.people.service import sync_config_roles
from governance.projects.service import register_project

TARGET_MS = 50.0
BATCH = 10_000


def fill(db: Database, clock: FakeClock, tickets: int, due: int) -> None:
    """`tickets` tickets: a third closed, the rest open with reminders over the next week,
    of which `due` are due now."""
    rng = random.Random(4)
    now = clock.now()
    with db.transaction() as session:
        sync_config_roles(session, {Role.ADMIN: ["alice", "frank"]}, now)
        register_project(session, name="django-sample", now=now, actor=Actor.system())
    due_at = set(rng.sample(range(tickets), due))
    rows = []
    for index in range(tickets):
        opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 90))
        closed = index not in due_at and rng.random() < 1 / 3
        if index in due_at:
            next_at = now - timedelta(seconds=rng.randint(1, 600))
        elif closed:
            next_at = None
        else:
            next_at = now + timedelta(seconds=rng.randint(60, 7 * 86400))
        rows.append({
            "project": "django-sample", "kind": "ci", "severity": "normal",
            "summary": f"ticket {index}", "reporter": "carol", "assignee": "alice",
            "assigned_at": opened, "state": "resolved" if closed else "open", "source": None,
            "opened_at": opened, "clock_started_at": opened,
            "ack_due_at": opened + timedelta(hours=72),
            "resolve_due_at": opened + timedelta(days=7),
            "acknowledged_at": None, "closed_at": now if closed else None, "closed_by": "",
            "outcome": "", "ack_breached": False, "resolve_breached": False, "cycle": 1,
            "last_point": -1, "next_reminder_at": next_at, "github_issue": None})
    with db.engine.begin() as conn:
        for start in range(0, tickets, BATCH):
            conn.execute(insert(Ticket.__table__), rows[start:start + BATCH])  # type: ignore[attr-defined]
        conn.execute(text("ANALYZE"))


def find_times(db: Database, clock: FakeClock, runs: int) -> tuple[list[float], int]:
    """Milliseconds per search for the due tickets, each in a transaction of its own."""
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        with db.transaction() as session:
            found = len(service.due_numbers(session, clock.now()))
        times.append((time.perf_counter() - started) * 1000)
    return times, found


def plan(db: Database, clock: FakeClock) -> list[str]:
    with db.transaction() as session:
        query = service.due_query(clock.now())
        dialect = postgresql.dialect() if db.dialect == "postgresql" else sqlite.dialect()
        compiled = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
        rows = session.execute(text(prefix + str(compiled))).all()
    return [" ".join(str(c) for c in row[-1:]) for row in rows]


def whole_sweep(db: Database, clock: FakeClock) -> tuple[float, int]:
    ctx = CogContext(db=db, clock=clock, outbox=Outbox(clock, lambda _d: ["console"]),
                     destinations=Destinations(frozenset({"admins", "feed"}), (), "feed"),
                     org="jazzband", bot_login="roadie-bot")
    cog = EscalationCog(ctx, EscalationSettings())
    started = time.perf_counter()
    sent = eventloop.run(cog.sweep())
    return (time.perf_counter() - started) * 1000, sent


def report(name: str, db: Database, args: argparse.Namespace) -> bool:
    clock = FakeClock()
    started = time.perf_counter()
    upgrade(db)
    fill(db, clock, args.tickets, args.due)
    print(f"\n== {name}: {args.tickets:,} tickets, {args.due} due "
          f"(built in {time.perf_counter() - started:.1f}s)")
    find_times(db, clock, 10)  # warm the caches and the connection pool
    times, found = find_times(db, clock, args.runs)
    median, p95 = statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1]
    ok = p95 < TARGET_MS
    print(f"finding the due tickets ({found} found), {args.runs} runs: median {median:.2f} ms, "
          f"p95 {p95:.2f} ms, max {max(times):.2f} ms; target {TARGET_MS:.0f} ms: "
          f"{'met' if ok else 'MISSED'}")
    print("query plan:")
    for line in plan(db, clock):
        print(f"  {line}")
    elapsed, sent = whole_sweep(db, clock)
    print(f"whole sweep (lock, record, audit, queue each message): {sent} reminders in "
          f"{elapsed:.0f} ms ({elapsed / max(sent, 1):.2f} ms each)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    return on_each_database(lambda name, db: report(name, db, args))


if __name__ == "__main__":
    sys.exit(main())
