"""Inclusion proofs: that entry N is in the log a published checkpoint signed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from governance.audit.checkpoints import AuditCheckpoint, Checkpoint
from governance.audit.log import AuditEntry
from governance.audit.merkle import inclusion_path, leaf_hash, root_from_path
from governance.errors import NotFound, Refusal


@dataclass(frozen=True)
class Proof:
    """Entry `entry.seq` is leaf `entry.seq - 1` of the tree the checkpoint signed; the path
    leads from its leaf hash to the checkpoint's root."""

    entry: AuditEntry
    checkpoint: Checkpoint
    path: tuple[str, ...]

    def holds(self) -> bool:
        root = root_from_path(self.entry.seq - 1, self.checkpoint.size,
                              leaf_hash(self.entry.hash), [bytes.fromhex(p) for p in self.path])
        return root is not None and root.hex() == self.checkpoint.root


def prove(session: Session, seq: int) -> Proof:
    """The proof that entry `seq` is under the first checkpoint that covers it."""
    entry = session.get(AuditEntry, seq)
    if entry is None:
        raise NotFound(f"The audit log has no entry {seq}.",
                       "Entries are numbered from 1; `/audit checkpoint` shows how many "
                       "there are.")
    row = session.exec(select(AuditCheckpoint).where(col(AuditCheckpoint.size) >= seq)
                       .order_by(col(AuditCheckpoint.size)).limit(1)).first()
    if row is None:
        raise Refusal(f"Entry {seq} is not under a signed checkpoint yet.",
                      "Checkpoints are signed at every decision and at the configured "
                      "interval; ask again then.")
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    hashes = session.execute(core_select(table.c.hash).where(table.c.seq <= row.size)
                             .order_by(table.c.seq)).scalars().all()
    leaves = [leaf_hash(h) for h in hashes]
    path = tuple(p.hex() for p in inclusion_path(seq - 1, leaves)) if len(leaves) == row.size \
        else ()
    return Proof(entry, Checkpoint.from_row(row), path)
