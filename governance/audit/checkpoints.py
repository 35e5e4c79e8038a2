"""Signed checkpoints: the log's size and Merkle root at a moment, signed with the audit key.

A checkpoint is RFC 9162's signed tree head. Roadie keeps each one in `audit_checkpoint`
(with the tree's frontier, so that the next one hashes only the entries since) and
publishes it outside the database, where whoever can write to the database cannot take it
back. Its published form is one line of JSON, which `Checkpoint.parse_all` finds again in a
file, a chat transcript or GitHub comments.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, ColumnElement, Text, or_
from sqlmodel import Field, Session, SQLModel, col, select

from governance.audit.keys import AuditKey, PublicKey
from governance.audit.log import GENESIS, AuditEntry, AuditHead, hash_of_entry
from governance.audit.merkle import Frontier, leaf_hash
from governance.audit.rows import database_rows

FORMAT = "roadie audit checkpoint v1"


class AuditCheckpoint(SQLModel, table=True):
    """A checkpoint as signed. `frontier` holds the subtree roots (hex, largest first)."""

    __tablename__ = "audit_checkpoint"

    size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root: str = Field(max_length=64)
    at: datetime = Field(index=True)
    origin: str = Field(max_length=200)
    key_id: str = Field(max_length=16)
    signature: str = Field(max_length=100)
    frontier: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    github_posted: bool = Field(default=False, index=True)


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: `size` entries whose Merkle root is `root`, at `at`."""

    origin: str
    size: int
    root: str
    at: datetime
    key_id: str
    signature: str

    def message(self) -> bytes:
        return signed_text(self.origin, self.size, self.root, self.at)

    def signed_by(self, key: PublicKey) -> bool:
        try:
            signature = base64.b64decode(self.signature, validate=True)
        except ValueError:
            return False
        return key.verifies(self.message(), signature)

    def line(self) -> str:
        """The published form: one line of JSON."""
        return json.dumps({"roadie_checkpoint": 1, "origin": self.origin, "size": self.size,
                           "root": self.root, "at": _iso(self.at), "key_id": self.key_id,
                           "signature": self.signature}, separators=(",", ":"))

    @classmethod
    def from_row(cls, row: AuditCheckpoint) -> Checkpoint:
        return cls(row.origin, row.size, row.root, row.at, row.key_id, row.signature)

    @classmethod
    def parse_all(cls, text: str) -> list[Checkpoint]:
        """Every published checkpoint found in a text (JSON lines, a chat transcript,
        GitHub comments as JSON), in the order found, without duplicates."""
        found: list[Checkpoint] = []
        seen: set[str] = set()
        for match in _LINE.finditer(text.replace('\\"', '"')):
            try:
                data = json.loads(match.group(0))
                checkpoint = cls(str(data["origin"]), int(data["size"]), str(data["root"]),
                                 datetime.fromisoformat(data["at"]), str(data["key_id"]),
                                 str(data["signature"]))
            except (ValueError, KeyError, TypeError):
                continue
            if checkpoint.signature not in seen:
                seen.add(checkpoint.signature)
                found.append(checkpoint)
        return found


_LINE = re.compile(r'\{"roadie_checkpoint":1,[^{}]*\}')


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def signed_text(origin: str, size: int, root: str, at: datetime) -> bytes:
    return (f"{FORMAT}\norigin: {origin}\nsize: {size}\nroot: {root}\n"
            f"at: {_iso(at)}\n").encode()


class ChainBroken(Exception):
    """The log does not hold together since the last checkpoint: nothing is signed."""

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


def latest(session: Session, limit: int = 10) -> list[Checkpoint]:
    """The latest checkpoints, newest first (for a public page or `/audit checkpoint`)."""
    rows = session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.size).desc())
                        .limit(limit)).all()
    return [Checkpoint.from_row(row) for row in rows]


def since(session: Session, size: int) -> list[Checkpoint]:
    """Checkpoints bigger than `size`, oldest first (to publish what is not yet out)."""
    rows = session.exec(select(AuditCheckpoint).where(col(AuditCheckpoint.size) > size)
                        .order_by(col(AuditCheckpoint.size))).all()
    return [Checkpoint.from_row(row) for row in rows]


def unposted_to_github(session: Session) -> list[Checkpoint]:
    rows = session.exec(select(AuditCheckpoint).where(col(AuditCheckpoint.github_posted).is_(False))
                        .order_by(col(AuditCheckpoint.size))).all()
    return [Checkpoint.from_row(row) for row in rows]


def posted_to_github(session: Session, sizes: Iterable[int]) -> None:
    query = select(AuditCheckpoint).where(col(AuditCheckpoint.size).in_(list(sizes)))
    for row in session.exec(query).all():
        row.github_posted = True


def due(session: Session, *, now: datetime, every: timedelta,
        decisions: Sequence[str]) -> bool:
    """Is a checkpoint due: entries since the last one, and either a decision among them
    or `every` gone by since the last one?"""
    last = session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.size).desc())
                        .limit(1)).first()
    size, at = (last.size, last.at) if last else (0, None)
    head = session.get(AuditHead, 1)
    if head is None or head.seq <= size:
        return False
    if at is None or now - at >= every:
        return True
    if not decisions:
        return False
    decided = session.exec(select(AuditEntry.seq).where(
        col(AuditEntry.seq) > size,
        _any_prefix(decisions)).limit(1)).first()
    return decided is not None


def _any_prefix(prefixes: Iterable[str]) -> ColumnElement[bool]:
    exact = [p for p in prefixes if not p.endswith(".")]
    families = [p for p in prefixes if p.endswith(".")]
    return or_(col(AuditEntry.action).in_(exact),
               *(col(AuditEntry.action).startswith(p) for p in families))


@dataclass
class Progress:
    """The tree of the first `frontier.size` entries, and the hash of the last of them."""

    frontier: Frontier
    last_hash: str

    @property
    def size(self) -> int:
        return self.frontier.size


def resume(session: Session) -> Progress:
    """Where the last checkpoint left the tree."""
    last = session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.size).desc())
                        .limit(1)).first()
    frontier = (Frontier(last.size, [bytes.fromhex(h) for h in json.loads(last.frontier)])
                if last else Frontier())
    return Progress(frontier, _hash_at(session, frontier.size))


def head_size(session: Session) -> int:
    head = session.get(AuditHead, 1)
    return head.seq if head else 0


def advance(session: Session, progress: Progress, upto: int, batch: int = 20000) -> Progress:
    """The tree grown by the entries after `progress` up to `upto`, each checked against
    its predecessor (`ChainBroken` when one does not follow)."""
    frontier, previous = progress.frontier.copy(), progress.last_hash
    for row in database_rows(session, batch, after=frontier.size, upto=upto):
        seq, at, actor, action, target, reason, data, prev_hash, digest = row
        if seq != frontier.size + 1:
            raise ChainBroken(frontier.size + 1, f"entry {frontier.size + 1} is missing")
        if prev_hash != previous or hash_of_entry(seq, at, actor, action, target, reason,
                                                   data, prev_hash) != digest:
            raise ChainBroken(seq, f"entry {seq} was altered or does not follow entry "
                                   f"{seq - 1}")
        frontier.append(leaf_hash(digest))
        previous = digest
    return Progress(frontier, previous)


def sign_checkpoint(session: Session, key: AuditKey, *, origin: str, now: datetime,
                    progress: Progress | None = None) -> Checkpoint | None:
    """Sign a checkpoint of the whole log, unless nothing was appended since the last one.

    The head is locked, so that the size is that of the log at this moment; appends wait
    meanwhile, so a long way behind is best caught up first with `advance`, in transactions
    of their own (`progress`). Each entry since is checked against its predecessor: a log
    broken since the last checkpoint is refused (`ChainBroken`), never signed.
    """
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None or head.seq == 0:
        return None
    start = resume(session)
    if start.size >= head.seq:
        return None
    if progress is None or not start.size <= progress.size <= head.seq or (
            progress.last_hash != _hash_at(session, progress.size)):
        progress = start
    progress = advance(session, progress, head.seq)
    frontier = progress.frontier
    if frontier.size != head.seq or progress.last_hash != head.hash:
        raise ChainBroken(frontier.size + 1, f"the head says {head.seq} entries, the log "
                                             f"holds {frontier.size}")
    root = frontier.root().hex()
    message = signed_text(origin, frontier.size, root, now)
    signature = base64.b64encode(key.sign(message)).decode()
    row = AuditCheckpoint(size=frontier.size, root=root, at=now, origin=origin,
                          key_id=key.public.key_id, signature=signature,
                          frontier=json.dumps([r.hex() for r in frontier.roots]))
    session.add(row)
    session.flush()
    return Checkpoint.from_row(row)


def _hash_at(session: Session, seq: int) -> str:
    if seq == 0:
        return GENESIS
    found = session.exec(select(AuditEntry.hash).where(AuditEntry.seq == seq)).first()
    return found if found is not None else ""
