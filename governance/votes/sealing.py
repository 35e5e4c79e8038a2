"""Secret ballots: sealed with the audit key as they are cast, committed to in the audit
log meanwhile, and opened only at the close (and for the voter's own change)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from governance.audit.keys import AuditKey
from governance.errors import Conflict
from governance.votes.models import Ballot


def commitment(number: int, voter: str, choice: str, reason: str, salt: str) -> str:
    """What the audit log holds of a secret ballot until the close reveals it."""
    material = json.dumps([number, voter, choice, reason, salt], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def seal_context(number: int, voter: str) -> str:
    return f"vote:{number}:{voter}"


@dataclass(frozen=True)
class Opened:
    """A secret ballot as its seal holds it."""

    choice: str
    reason: str
    salt: str


def open_sealed(key: AuditKey | None, ballot: Ballot) -> Opened:
    """A secret ballot in the clear; only the close (and the voter's own change) does this."""
    if not ballot.sealed:
        return Opened(ballot.choice, ballot.reason, ballot.salt)
    if key is None:
        raise Conflict(f"The ballots of vote #{ballot.vote} are sealed, and Roadie has no audit "
                       "key to open them.", NO_KEY_HINT)
    choice, reason, salt = json.loads(key.open(seal_context(ballot.vote, ballot.voter),
                                               ballot.sealed))
    return Opened(choice, reason, salt)


NO_KEY_HINT = ("An admin sets the audit key (`[audit] key_file`, or the variable named by "
               "`key_env`); `roadie audit keygen` makes one.")
