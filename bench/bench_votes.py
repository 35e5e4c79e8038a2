"""Ballots on one vote of the whole org, cast from two replicas at once, counted exactly.

    python bench/bench_votes.py [--voters 3135]

A dispute whose electorate is every member of an org as large as the cooperative's (3,135);
every member casts a ballot, half through each of two replicas (two engines, two threads, as
two `roadie run` processes would), and each ballot re-renders the vote's status message, as
the cog does. Then the close counts them, and `roadie audit verify`'s recount runs. Printed:
ballots per second, the time per ballot (median and p99), the close, and the recount; and
whether the tally is exact (one ballot per member, the count equal to the ballots cast).

On SQLite (a temporary file) and PostgreSQL (ROADIE_BENCH_POSTGRES_URL, default the local
server's database `test`, in a schema of its own; skipped when unreachable).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from engines import on_each_database

from cogs.voting import render
from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.migrate import upgrade
from governance.projects.service import register_project
from governance.votes import service
from governance.votes.casting import cast
from governance.votes.closing import close as close_vote
from governance.votes.closing import early_close_due
from governance.votes.integrity import verify_votes
from governance.votes.models import DISPUTE
from governance.votes.rules import Rules

RULES = Rules(kind=DISPUTE, quorum=3, threshold="majority", min_duration=timedelta(hours=72),
              options=("revert", "keep", "review"))
CHOICES = ("revert", "keep", "review", "0")


def open_dispute(db: Database, clock: FakeClock, voters: list[str]) -> int:
    with db.transaction() as session:
        register_project(session, name="django-sample", now=clock.now(), actor=Actor.system())
        vote = service.open_vote(session, service.Proposal(
            kind=DISPUTE, project="django-sample", subject="9f8e7d6c5b4a",
            reason="pushed without review", proposer="carol", rules=RULES,
            electorate=tuple(voters)), now=clock.now(), accept_within=timedelta(days=7),
            remind_before=timedelta(hours=24))
        assert vote.number is not None
        return vote.number


def cast_all(url: str, number: int, voters: list[str], clock: FakeClock) -> list[float]:
    """One replica casting its voters' ballots, each with the status re-rendered."""
    replica, times = Database(url), []
    for index, voter in enumerate(voters):
        started = time.perf_counter()
        with replica.transaction() as session:
            casting = cast(session, number=number, login=voter,
                           choice=CHOICES[index % len(CHOICES)], reason="",
                           now=clock.now())
            render.status(casting.vote, service.standing(session, casting.vote),
                          service.open_concerns(session, number), clock.now())
            early_close_due(session, number)
        times.append((time.perf_counter() - started) * 1000)
    replica.dispose()
    return times


def report(name: str, db: Database, voters: int) -> bool:
    clock = FakeClock()
    upgrade(db)
    logins = [f"member{i:04d}" for i in range(voters)]
    number = open_dispute(db, clock, logins)
    halves = [logins[0::2], logins[1::2]]
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        times = [t for part in pool.map(lambda h: cast_all(db.url, number, h, clock), halves)
                 for t in part]
    elapsed = time.perf_counter() - started
    times.sort()
    started = time.perf_counter()
    with db.transaction() as session:
        closing = close_vote(session, number=number, now=clock.now() + timedelta(days=4))
    close_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    with db.transaction() as session:
        checked, problems = verify_votes(session)
    verify_ms = (time.perf_counter() - started) * 1000
    assert closing is not None
    assert closing.outcome is not None
    counted = sum(closing.outcome.binding.values())
    exact = counted == voters and checked == 1 and not problems
    print(f"\n== {name}: {voters:,} ballots from two replicas in {elapsed:.1f} s "
          f"({voters / elapsed:.0f} ballots/s)")
    print(f"per ballot (cast, audit, status re-rendered): median "
          f"{statistics.median(times):.2f} ms, p99 {times[int(len(times) * 0.99) - 1]:.2f} ms")
    print(f"close: {close_ms:.0f} ms; recount from the audit log: {verify_ms:.0f} ms")
    print(f"tally: {closing.outcome.binding} -> {closing.outcome.result}; "
          f"{'exact' if exact else 'WRONG'} ({counted} counted of {voters})")
    return exact


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=3135)
    args = parser.parse_args()
    return on_each_database(lambda name, db: report(name, db, args.voters))


if __name__ == "__main__":
    sys.exit(main())
