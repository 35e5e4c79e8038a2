"""The append-only, hash-chained audit log."""

from governance.audit.log import (
    Actor,
    AuditEntry,
    AuditHead,
    ChainReport,
    history,
    record,
    verify,
)

__all__ = ["Actor", "AuditEntry", "AuditHead", "ChainReport", "history", "record", "verify"]
