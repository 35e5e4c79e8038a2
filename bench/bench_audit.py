"""Checkpointing and verifying an audit log of a million entries; the cost of an append.

    python bench/bench_audit.py [--entries 1000000] [--appends 2000]

1. Appending: `record()` in a transaction of its own, `--appends` times, on an empty log and
   again on the full one, with the commit hook that logs decision rows switched off (the
   append as it was before signed checkpoints) and on (as it is now). Printed: median and
   p99 per append. An append never touches the Merkle tree, so the full log costs the same.
2. Setup: `--entries` entries, chained, inserted in bulk (COPY on PostgreSQL).
3. Checkpointing: the first checkpoint hashes the whole log into its tree; the next one, after
   `--appends` more entries, only those (the tree's frontier is kept with each checkpoint).
4. Verifying: `roadie audit verify`'s work (the chain, the Merkle root at every published
   checkpoint, the head, the replay of the decision tables, the recount of the votes), from
   the database; target under 60 s. Then the inclusion proof of an entry in the middle.

On SQLite (a temporary file) and PostgreSQL (ROADIE_BENCH_POSTGRES_URL, default the local
server's database `test`, in a schema of its own; skipped when unreachable).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from engines import on_each_database
from sqlalchemy import event, insert
from sqlmodel import Session

from governance.audit import Actor, record
from governance.audit.checkpoints import Checkpoint, sign_checkpoint
from governance.audit.keys import AuditKey
from governance.audit.log import GENESIS, AuditEntry, AuditHead, canonical, entry_hash
from governance.audit.projection import _log_changes, _note_changes
from governance.audit.proofs import prove
from governance.audit.verification import verify_database
from governance.db import Database
from governance.migrate import upgrade

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORIGIN = "bench roadie audit log"
VERIFY_TARGET_S = 60.0


@contextmanager
def rows_hook_off() -> Iterator[None]:
    event.remove(Session, "before_flush", _note_changes)
    event.remove(Session, "before_commit", _log_changes)
    try:
        yield
    finally:
        event.listen(Session, "before_flush", _note_changes)
        event.listen(Session, "before_commit", _log_changes)


def appends(db: Database, count: int, at: datetime) -> list[float]:
    times = []
    for index in range(count):
        began = time.perf_counter()
        with db.transaction() as session:
            record(session, actor=Actor.github("alice"), action="bench.append",
                   target=f"thing:{index}", at=at, reason="an append",
                   data={"n": index, "state": "open"})
        times.append(time.perf_counter() - began)
    return times


def compared(db: Database, count: int) -> tuple[list[float], list[float]]:
    """Appends without and with the hook, alternating in blocks of 50 so that the load of a
    shared machine falls on both alike."""
    without: list[float] = []
    with_hook: list[float] = []
    for _ in range(max(1, count // 50)):
        with rows_hook_off():
            without.extend(appends(db, 50, START))
        with_hook.extend(appends(db, 50, START))
    return without, with_hook


def per_append(times: list[float]) -> str:
    ordered = sorted(times)
    return (f"median {statistics.median(ordered) * 1000:.2f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99) - 1] * 1000:.2f} ms")


def chained(count: int, after: int, previous: str) -> Iterator[dict[str, object]]:
    actions = ("vote.ballot", "escalation.ack", "role.grant", "moderation.block", "link.confirm")
    for seq in range(after + 1, after + count + 1):
        at = START + timedelta(seconds=seq)
        action = actions[seq % len(actions)]
        data = canonical({"binding": True, "commitment": f"{seq:064x}", "n": seq})
        actor, target = f"github:member{seq % 3000}", f"thing:{seq % 5000}"
        digest = entry_hash(seq, at, actor, action, target, "", data, previous)
        yield {"seq": seq, "at": at, "actor": actor, "action": action, "target": target,
               "reason": "", "data": data, "prev_hash": previous, "hash": digest}
        previous = digest


def bulk_insert(db: Database, count: int) -> None:
    with db.transaction() as session:
        head = session.get(AuditHead, 1)
        after, previous = (head.seq, head.hash) if head else (0, GENESIS)
    rows = chained(count, after, previous)
    last: dict[str, object] = {}
    if db.is_sqlite:
        table = AuditEntry.__table__  # type: ignore[attr-defined]
        with db.engine.begin() as conn:
            batch: list[dict[str, object]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 20000:
                    conn.execute(insert(table), batch)
                    last, batch = batch[-1], []
            if batch:
                conn.execute(insert(table), batch)
                last = batch[-1]
    else:
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            columns = "seq, at, actor, action, target, reason, data, prev_hash, hash"
            with cursor.copy(f"COPY audit_log ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row([row["seq"], row["at"], row["actor"], row["action"],
                                    row["target"], row["reason"], row["data"],
                                    row["prev_hash"], row["hash"]])
                    last = row
            raw.commit()
            cursor.execute("ANALYZE audit_log")  # as autovacuum would after a bulk load
            raw.commit()
        finally:
            raw.close()
    with db.transaction() as session:
        head = session.get(AuditHead, 1) or AuditHead(id=1)
        head.seq, head.hash = int(last["seq"]), str(last["hash"])  # type: ignore[call-overload]
        session.add(head)


def checkpoint(db: Database, key: AuditKey, at: datetime) -> tuple[Checkpoint, float]:
    began = time.perf_counter()
    with db.transaction() as session:
        signed = sign_checkpoint(session, key, origin=ORIGIN, now=at)
    assert signed is not None
    return signed, time.perf_counter() - began


def report(name: str, db: Database, entries: int, count: int) -> bool:
    upgrade(db)
    key = AuditKey.generate()
    print(f"\n== {name}: an audit log of {entries:,} entries")
    before_small, after_small = compared(db, count)
    began = time.perf_counter()
    bulk_insert(db, entries)
    print(f"setup: {entries:,} chained entries inserted in bulk in "
          f"{time.perf_counter() - began:.1f} s")
    first, first_s = checkpoint(db, key, START + timedelta(days=30))
    before_full, after_full = compared(db, count)
    second, second_s = checkpoint(db, key, START + timedelta(days=31))
    print(f"append, as before (no decision-row hook): {per_append(before_small)} on an empty "
          f"log; {per_append(before_full)} on {entries:,} entries")
    print(f"append, now:                              {per_append(after_small)} on an empty "
          f"log; {per_append(after_full)} on {entries:,} entries")
    print(f"first checkpoint ({first.size:,} entries hashed into the tree): {first_s:.1f} s; "
          f"the next ({second.size - first.size:,} new entries): {second_s * 1000:.0f} ms")
    began = time.perf_counter()
    with db.transaction() as session:
        verdict = verify_database(session, [first, second], key.public)
    verify_s = time.perf_counter() - began
    ok = verdict.ok and verdict.log.checkpoints_good == 2
    print(f"verify ({verdict.log.entries:,} entries: chain, 2 signed roots, head, tables, "
          f"votes): {verify_s:.1f} s (target < {VERIFY_TARGET_S:.0f} s) "
          f"{'OK' if ok and verify_s < VERIFY_TARGET_S else 'MISSED'}")
    began = time.perf_counter()
    with db.transaction() as session:
        proof = prove(session, second.size // 2)
    print(f"inclusion proof of entry {second.size // 2:,}: {len(proof.path)} hashes, "
          f"{time.perf_counter() - began:.1f} s, {'holds' if proof.holds() else 'BROKEN'}")
    return ok and verify_s < VERIFY_TARGET_S and proof.holds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    args = parser.parse_args()
    return on_each_database(lambda name, db: report(name, db, args.entries, args.appends))


if __name__ == "__main__":
    sys.exit(main())
