"""Checking the log as an outsider would: from an export or the database, against published
checkpoints and the public key, trusting nothing the database says about itself.

`check_log` walks the entries once: each must follow the one before (the hash chain), and
whenever the walk reaches the size of a published checkpoint, the Merkle root of what was
walked must be the root that was signed. A rewrite with recomputed hashes, a reordering, an
insertion or a truncation with the head rewound cannot keep every signed root; the report
names the first entry after the last checkpoint that still holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from governance.audit.checkpoints import Checkpoint
from governance.audit.keys import PublicKey
from governance.audit.log import GENESIS, hash_of_entry
from governance.audit.merkle import Frontier, leaf_hash
from governance.audit.rows import FIELDS, Row


def export_line(row: Row) -> str:
    """One entry as a JSON line; `data` stays the exact text that was hashed."""
    values: dict[str, Any] = dict(zip(FIELDS, row, strict=True))
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


class BadExport(ValueError):
    """A line of an exported log cannot be read."""


def file_rows(lines: Iterable[str]) -> Iterator[Row]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            datetime.fromisoformat(data["at"])  # a moment, or the line is not an entry
            yield (int(data["seq"]), str(data["at"]), str(data["actor"]),
                   str(data["action"]), str(data["target"]), str(data["reason"]),
                   str(data["data"]), str(data["prev_hash"]), str(data["hash"]))
        except (ValueError, KeyError, TypeError) as error:
            raise BadExport(f"line {number} is not an exported audit entry ({error})") from None


@dataclass
class LogReport:
    entries: int = 0
    first_bad: int | None = None
    problem: str = ""
    checkpoints_good: int = 0
    last_good: Checkpoint | None = None
    notes: list[str] = field(default_factory=list)
    bad_signatures: int = 0

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def usable_checkpoints(checkpoints: Iterable[Checkpoint], key: PublicKey | None,
                       report: LogReport) -> list[Checkpoint]:
    """The checkpoints whose signature holds, by size; a fork (two signed roots for one
    size) is a problem of its own."""
    by_size: dict[int, Checkpoint] = {}
    for checkpoint in checkpoints:
        if key is not None and not checkpoint.signed_by(key):
            report.bad_signatures += 1
            report.notes.append(f"checkpoint of {checkpoint.size} entries (signed "
                                f"{checkpoint.at:%Y-%m-%d %H:%M} UTC): its signature does not "
                                "hold with the public key given; ignored")
            continue
        known = by_size.get(checkpoint.size)
        if known is not None and known.root != checkpoint.root:
            report.first_bad = min(report.first_bad or checkpoint.size, checkpoint.size)
            report.problem = (f"two signed checkpoints of {checkpoint.size} entries have "
                              "different roots: two histories were signed")
        by_size[checkpoint.size] = checkpoint
    if key is None:
        report.notes.append("no public key given: the checkpoints' signatures were not checked")
    return [by_size[size] for size in sorted(by_size)]


def check_log(rows: Iterable[Row], checkpoints: Iterable[Checkpoint],
              key: PublicKey | None) -> LogReport:
    report = LogReport()
    pending = usable_checkpoints(checkpoints, key, report)
    if not report.ok:
        return report
    frontier, previous, index = Frontier(), GENESIS, 0
    for seq, at, actor, action, target, reason, data, prev_hash, digest in rows:
        expected = frontier.size + 1
        if seq != expected:
            what = "missing" if seq > expected else "out of order"
            return _bad(report, expected, f"entry {expected} is {what} (the next one is {seq})")
        if prev_hash != previous:
            return _bad(report, seq, f"entry {seq} does not follow entry {seq - 1}")
        if hash_of_entry(seq, at, actor, action, target, reason, data, prev_hash) != digest:
            return _bad(report, seq, f"entry {seq} was altered")
        frontier.append(leaf_hash(digest))
        previous = digest
        while index < len(pending) and pending[index].size == frontier.size:
            checkpoint = pending[index]
            if frontier.root().hex() != checkpoint.root:
                after = report.last_good.size if report.last_good else 0
                return _bad(report, after + 1, (
                    f"the first {checkpoint.size} entries are not those signed at "
                    f"{checkpoint.at:%Y-%m-%d %H:%M:%S} UTC: an entry from {after + 1} to "
                    f"{checkpoint.size} was rewritten, reordered, inserted or removed"))
            report.last_good, report.checkpoints_good = checkpoint, report.checkpoints_good + 1
            index += 1
    report.entries = frontier.size
    if index < len(pending):
        checkpoint = pending[-1]
        return _bad(report, frontier.size + 1, (
            f"the log holds {frontier.size} entries, but a checkpoint signed at "
            f"{checkpoint.at:%Y-%m-%d %H:%M:%S} UTC covers {checkpoint.size}: entries "
            f"{frontier.size + 1} to {checkpoint.size} were removed"))
    covered = report.last_good.size if report.last_good else 0
    if covered < frontier.size:
        report.notes.append(f"entries {covered + 1} to {frontier.size} are not under a "
                            "published checkpoint yet")
    return report


def _bad(report: LogReport, seq: int, problem: str) -> LogReport:
    report.first_bad, report.problem = seq, problem
    report.entries = max(report.entries, seq - 1)
    return report
