"""Everything `roadie audit verify` checks, in one pass over the log where it can:

1. the hash chain, entry by entry;
2. the Merkle root at each published checkpoint's size, against its signature;
3. the head row (the database's own idea of where the log ends);
4. every decision table, replayed from the log;
5. every closed vote, counted again from its ballots in the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from governance.audit.checkpoints import Checkpoint
from governance.audit.keys import PublicKey
from governance.audit.log import GENESIS, AuditHead
from governance.audit.outside import LogReport, check_log
from governance.audit.projection import (
    REPLAYABLE,
    ROWS_KEY,
    ReplayReport,
    replay,
    table_rows,
)
from governance.audit.rows import Row, database_rows


@dataclass
class Verdict:
    log: LogReport
    head_problem: str = ""
    replay: ReplayReport | None = None
    votes_checked: int = 0
    vote_problems: list[str] = field(default_factory=list)
    head_at: int | None = None

    @property
    def ok(self) -> bool:
        return (self.log.ok and not self.head_problem and (self.replay is None or self.replay.ok)
                and not self.vote_problems)

    @property
    def first_bad(self) -> int | None:
        """The first entry that is not as it was (or is missing)."""
        if self.log.first_bad is not None:
            return self.log.first_bad
        return self.head_at

    def problems(self) -> list[str]:
        found = []
        if not self.log.ok and self.log.first_bad is not None:
            intact = self.log.first_bad - 1
            found.append(f"audit log BROKEN at entry {self.log.first_bad}: {self.log.problem} "
                         f"({intact} {'entry' if intact == 1 else 'entries'} before it "
                         f"{'is' if intact == 1 else 'are'} intact)")
        if self.head_problem:
            found.append(f"audit log BROKEN at entry {self.first_bad}: {self.head_problem}")
        if self.replay is not None:
            found.extend(f"table DIFFERS from the log: {d.problem}"
                         for d in self.replay.differences[:1])
        found.extend(f"vote count WRONG: {p}" for p in self.vote_problems)
        return found


class _Replayed:
    """Keeps, while the log is walked, only the entries that carry decision rows."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = rows
        self.entries: list[tuple[int, str, dict[str, Any]]] = []
        self.last_hash = GENESIS

    def __iter__(self) -> Iterator[Row]:
        marker = f'"{ROWS_KEY}":'
        for row in self.rows:
            if marker in row[6] or row[3] == REPLAYABLE:
                self.entries.append((row[0], row[3], json.loads(row[6])))
            self.last_hash = row[8]
            yield row


def verify_database(session: Session, checkpoints: Iterable[Checkpoint],
                    key: PublicKey | None, *, tables: bool = True) -> Verdict:
    walked = _Replayed(database_rows(session))
    verdict = Verdict(check_log(walked, checkpoints, key))
    if not verdict.log.ok:
        return verdict
    head = session.get(AuditHead, 1)
    seq, digest = (head.seq, head.hash) if head else (0, GENESIS)
    entries = verdict.log.entries
    if seq != entries or digest != walked.last_hash:
        verdict.head_problem = (
            f"the log ends at entry {entries} but the head says {seq}: entries after "
            f"{entries} were removed" if seq > entries else
            f"the log ends at entry {entries} but the head says {seq} (ending in "
            f"{digest[:12]}): the head was rewound, or the log's end was rewritten")
        verdict.head_at = min(seq, entries) + 1
        return verdict
    if tables:
        from governance import schema  # noqa: F401  (every decision table declared)
        from governance.votes.integrity import verify_votes

        verdict.replay = replay(walked.entries, table_rows(session))
        verdict.votes_checked, verdict.vote_problems = verify_votes(session)
    return verdict


def verify_rows(rows: Iterable[Row], checkpoints: Iterable[Checkpoint],
                key: PublicKey | None) -> Verdict:
    """An exported log, checked without the database."""
    return Verdict(check_log(rows, checkpoints, key))
