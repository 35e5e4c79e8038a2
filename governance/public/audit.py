"""The audit page: how long the log is, its head hash, and how anyone can check it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from governance.audit.log import GENESIS, AuditEntry, AuditHead
from governance.public.scope import Scope, iso


def audit_page(session: Session, scope: Scope) -> dict[str, Any]:
    head = session.get(AuditHead, 1)
    seq, digest = (head.seq, head.hash) if head else (0, GENESIS)
    last = session.exec(select(AuditEntry.at).where(AuditEntry.seq == seq)).first() if seq else None
    return {"log": {"entries": seq, "head_hash": digest, "last_entry_at": iso(last)},
            "verify": ["roadie audit verify --config <your config>"]}
