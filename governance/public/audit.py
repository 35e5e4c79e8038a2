"""The audit page: how long the log is, its head hash, its latest signed checkpoints, and how
anyone can check it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from governance.audit import checkpoints
from governance.audit.log import GENESIS, AuditEntry, AuditHead
from governance.public.scope import Scope, iso

CHECKPOINTS_SHOWN = 10


def audit_page(session: Session, scope: Scope) -> dict[str, Any]:
    head = session.get(AuditHead, 1)
    seq, digest = (head.seq, head.hash) if head else (0, GENESIS)
    last = session.exec(select(AuditEntry.at).where(AuditEntry.seq == seq)).first() if seq else None
    signed = [{"size": c.size, "root": c.root, "at": iso(c.at), "key_id": c.key_id,
               "line": c.line()} for c in checkpoints.latest(session, CHECKPOINTS_SHOWN)]
    return {"log": {"entries": seq, "head_hash": digest, "last_entry_at": iso(last)},
            "checkpoints": signed,
            "verify": ["roadie audit verify --log audit.jsonl --checkpoints checkpoints.jsonl "
                       "--key <the cooperative's public key>"]}
