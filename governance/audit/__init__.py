"""The append-only, hash-chained audit log, its signed checkpoints and its verification."""

from governance.audit.checkpoints import Checkpoint
from governance.audit.checkpoints import latest as latest_checkpoints
from governance.audit.log import (
    Actor,
    AuditEntry,
    AuditHead,
    ChainReport,
    history,
    record,
    verify,
)

__all__ = [
    "Actor",
    "AuditEntry",
    "AuditHead",
    "ChainReport",
    "Checkpoint",
    "history",
    "latest_checkpoints",
    "record",
    "verify",
]
