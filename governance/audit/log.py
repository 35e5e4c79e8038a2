"""Every state change leaves an entry: actor, action, target, reason, time, data.

Entries form a chain: each stores the hash of the one before it and its own hash over its
fields, and the head row remembers the last sequence number and hash. Editing or removing
any row (the last one included) breaks the chain, and `verify` names the first bad entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, Session, SQLModel, select

from governance.audit.projection import LAST_ENTRY, ROWS_KEY
from governance.clock import utcnow
from governance.db import insert_ignoring_conflicts

GENESIS = "0" * 64
SYSTEM = "roadie"


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(index=True)
    actor: str = Field(max_length=200, index=True)
    action: str = Field(max_length=100, index=True)
    target: str = Field(max_length=300, index=True)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)

    def payload(self) -> dict[str, Any]:
        return json.loads(self.data)


class AuditHead(SQLModel, table=True):
    """One row: the last sequence number and hash. Also the lock that orders writers."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default=GENESIS, max_length=64)


@dataclass(frozen=True)
class Actor:
    """Who did it: a GitHub login when known, else a chat identity, else Roadie itself."""

    name: str

    @classmethod
    def system(cls) -> Actor:
        return cls(SYSTEM)

    @classmethod
    def github(cls, login: str) -> Actor:
        return cls(f"github:{login}")

    @classmethod
    def chat(cls, platform: str, user_id: str) -> Actor:
        return cls(f"{platform}:{user_id}")


def canonical(data: dict[str, Any] | None) -> str:
    return json.dumps(data or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def entry_hash(seq: int, at: datetime, actor: str, action: str, target: str, reason: str,
               data: str, prev_hash: str) -> str:
    return hash_of_entry(seq, moment_text(at), actor, action, target, reason, data, prev_hash)


def moment_text(at: datetime) -> str:
    """A moment as the hash takes it."""
    return at.isoformat(timespec="microseconds")


def hash_of_entry(seq: int, at: str, actor: str, action: str, target: str, reason: str,
                  data: str, prev_hash: str) -> str:
    """The hash of an entry whose moment is already text (as read in bulk, or exported).

    The material is `json.dumps([seq, at, actor, ...], ensure_ascii=False,
    separators=(",", ":"))`, built from the same C string encoder that call uses, without
    the call's cost (a million entries are hashed in a verify)."""
    material = "[%d,%s,%s,%s,%s,%s,%s,%s]" % (  # noqa: UP031
        seq, *map(encode_basestring, (at, actor, action, target, reason, data, prev_hash)))
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """An entry to append: what `record` takes, for `record_many`."""

    actor: Actor
    action: str
    target: str
    at: datetime
    reason: str = ""
    data: dict[str, Any] | None = None


def record(session: Session, *, actor: Actor, action: str, target: str, at: datetime,
           reason: str = "", data: dict[str, Any] | None = None) -> AuditEntry:
    """Append an entry in the caller's transaction. Writers are ordered by the head row lock."""
    return record_many(session, [Entry(actor, action, target, at, reason, data)])[0]


def record_many(session: Session, entries: Sequence[Entry]) -> list[AuditEntry]:
    """Append entries in order, in the caller's transaction: the head is locked, the
    entries inserted and the head moved once for all of them (three round trips on
    PostgreSQL however many there are)."""
    head = _locked_head(session)
    made = []
    for item in entries:
        seq, body = head.seq + 1, canonical(item.data)
        digest = entry_hash(seq, item.at, item.actor.name, item.action, item.target,
                            item.reason, body, head.hash)
        made.append(AuditEntry(seq=seq, at=item.at, actor=item.actor.name, action=item.action,
                               target=item.target, reason=item.reason, data=body,
                               prev_hash=head.hash, hash=digest))
        head.seq, head.hash = seq, digest
    session.add_all(made)
    session.flush()
    if made:
        session.info[LAST_ENTRY] = (made[-1], head)
    return made


def _locked_head(session: Session) -> AuditHead:
    """The head row, locked until the transaction ends; made by the first entry ever (two
    first writers at once: the database keeps one row, the other waits for its lock)."""
    query = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.exec(query).first()
    if head is None:
        insert_ignoring_conflicts(session, AuditHead, [{"id": 1, "seq": 0, "hash": GENESIS}],
                                  ("id",))
        head = session.exec(query).one()
    return head


def attach_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add the decision rows a transaction changed to its last entry (still the head, as
    the head stays locked until the commit), or record them in an entry of their own."""
    last = session.info.get(LAST_ENTRY)
    if last is None:
        record(session, actor=Actor.system(), action="row.change", target=rows[0]["table"],
               at=utcnow(), data={ROWS_KEY: rows})
        return
    entry, head = last
    data = entry.payload()
    data[ROWS_KEY] = [*data.get(ROWS_KEY, ()), *rows]
    entry.data = canonical(data)
    entry.hash = entry_hash(entry.seq, entry.at, entry.actor, entry.action, entry.target,
                            entry.reason, entry.data, entry.prev_hash)
    head.hash = entry.hash


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain from the start; report the first entry that was altered or removed."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    for entry in _entries(session, batch):
        if entry.seq != expected_seq:
            return ChainReport(checked, expected_seq,
                               f"entry {expected_seq} is missing (the next one is {entry.seq})")
        if entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.seq,
                               f"entry {entry.seq} does not follow entry {entry.seq - 1}")
        digest = entry_hash(entry.seq, entry.at, entry.actor, entry.action, entry.target,
                            entry.reason, entry.data, entry.prev_hash)
        if digest != entry.hash:
            return ChainReport(checked, entry.seq, f"entry {entry.seq} was altered")
        expected_prev, expected_seq, checked = entry.hash, entry.seq + 1, checked + 1
    head = session.get(AuditHead, 1)
    last_seq, last_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if last_seq != checked or last_hash != expected_prev:
        return ChainReport(checked, checked + 1,
                           f"the log ends at entry {checked} but the head says {last_seq}: "
                           "entries after it were removed")
    return ChainReport(checked)


def _entries(session: Session, batch: int) -> Iterator[AuditEntry]:
    after = 0
    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def history(session: Session, *, target: str | None = None, action_prefix: str | None = None,
            limit: int = 100) -> list[AuditEntry]:
    """The latest entries, newest last, optionally for one target or family of actions."""
    query = select(AuditEntry)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if action_prefix is not None:
        query = query.where(AuditEntry.action.startswith(action_prefix))  # type: ignore[attr-defined]
    rows = session.exec(query.order_by(AuditEntry.seq.desc()).limit(limit)).all()  # type: ignore[attr-defined]
    return list(reversed(rows))
