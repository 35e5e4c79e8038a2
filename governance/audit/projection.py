"""Every decision table is a projection of the log.

Each transaction that changes a decision field of a row (a role grant, a link, an
escalation's state, assignee or deadlines, a vote, a ballot, a case, a checklist item)
leaves the row's new state in the audit log, under `rows` in the data of the last entry it
recorded (or in a `row.change` entry when it recorded none). This happens once, at commit,
from the ORM's own account of what changed, so that no service can forget it. `replay`
then rebuilds each row's expected state from the log alone and compares it with the table,
naming the first difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlmodel import Session, SQLModel, select

from governance.clock import aware

ROWS_KEY = "rows"
REPLAYABLE = "audit.replayable"
"""The entry that marks where a log begun before rows were logged becomes replayable: its
`older` data gives, per table, the highest key of the rows that existed then."""


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value).astimezone(UTC).isoformat(timespec="microseconds")
    return value


def digest_of(value: Any) -> str:
    """What the log keeps of a sealed value: its hash, never the value."""
    return hashlib.sha256(str(value or "").encode()).hexdigest() if value else ""


@dataclass(frozen=True)
class Projection:
    """A decision table: which fields the log must explain, and which rows count.

    `hashed` fields are kept as their SHA-256 (a sealed ballot). `counts` says whether a
    row the log never mentioned is a difference (an unlinked chat account is not a link).
    """

    model: type[SQLModel]
    what: str
    fields: tuple[str, ...]
    hashed: tuple[str, ...] = ()
    counts: Callable[[Any], bool] = lambda row: True

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    def key(self, row: Any) -> str:
        return str(getattr(row, inspect(self.model).primary_key[0].name))

    def state(self, row: Any) -> dict[str, Any]:
        state = {name: _value(getattr(row, name)) for name in self.fields}
        for name in self.hashed:
            state[name] = digest_of(getattr(row, name))
        return state


_PROJECTIONS: dict[type[SQLModel], Projection] = {}


def project(projection: Projection) -> None:
    """Declare a decision table (each capability does, next to its models)."""
    _PROJECTIONS[projection.model] = projection


def projections() -> list[Projection]:
    return list(_PROJECTIONS.values())


# --- capturing, at commit ------------------------------------------------------------------

_PENDING = "audit_rows_pending"
LAST_ENTRY = "audit_last_entry"


def _changed(projection: Projection, row: Any) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes()
               for name in (*projection.fields, *projection.hashed))


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _context: Any, _instances: Any) -> None:
    pending: dict[int, tuple[Projection, Any, bool]] = session.info.setdefault(_PENDING, {})
    for row in session.new:
        projection = _PROJECTIONS.get(type(row))
        if projection is not None:
            pending[id(row)] = (projection, row, False)
    for row in session.dirty:
        projection = _PROJECTIONS.get(type(row))
        if projection is not None and _changed(projection, row):
            pending[id(row)] = (projection, row, False)
    for row in session.deleted:
        projection = _PROJECTIONS.get(type(row))
        if projection is not None:
            pending[id(row)] = (projection, row, True)


@event.listens_for(Session, "before_commit")
def _log_changes(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit would flush after this hook: see the changes now
    if not session.info.get(_PENDING):
        return
    pending = session.info.pop(_PENDING, {})
    rows = [_row_record(p, row, deleted) for p, row, deleted in pending.values()]
    if not rows:
        return
    from governance.audit.log import attach_rows  # the log imports this module

    attach_rows(session, rows)


def _row_record(projection: Projection, row: Any, deleted: bool) -> dict[str, Any]:
    return {"table": projection.table, "key": projection.key(row),
            **({"deleted": True} if deleted else {"state": projection.state(row)})}


def take_rows(session: Session, rows: Iterable[Any]) -> dict[int, dict[str, Any]]:
    """The log's record of each of these decision rows (flushed, and not to change again in
    this transaction), by `id()` of the row, for the caller to put in an entry of its own;
    the commit then leaves them out of the last entry. Rows without changes are left out."""
    pending: dict[int, tuple[Projection, Any, bool]] = session.info.get(_PENDING, {})
    taken = {}
    for row in rows:
        found = pending.pop(id(row), None)
        if found is not None:
            taken[id(row)] = _row_record(*found)
    return taken


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(LAST_ENTRY, None)


@event.listens_for(Session, "after_commit")
def _forget_entry(session: Session) -> None:
    session.info.pop(LAST_ENTRY, None)


# --- replaying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    table: str
    key: str
    problem: str


@dataclass
class ReplayReport:
    rows_checked: int
    unchecked: int
    differences: list[Difference]

    @property
    def ok(self) -> bool:
        return not self.differences


def replay(entries: Iterable[tuple[int, str, dict[str, Any]]],
           tables: Callable[[Projection], Iterator[Any]]) -> ReplayReport:
    """Rebuild each decision row from the log (`entries`: seq, action, data in order) and
    compare it with the rows `tables` yields for each projection. Rows older than the
    replayable log (see `REPLAYABLE`) that the log never mentioned are counted, unchecked."""
    expected: dict[tuple[str, str], tuple[int, dict[str, Any] | None]] = {}
    older: dict[str, int] = {}
    for seq, action, data in entries:
        if action == REPLAYABLE:
            older = {str(k): int(v) for k, v in data.get("older", {}).items()}
        for item in data.get(ROWS_KEY, ()):
            expected[(item["table"], str(item["key"]))] = (
                seq, None if item.get("deleted") else item["state"])
    differences: list[Difference] = []
    checked = unchecked = 0
    for projection in projections():
        seen: set[str] = set()
        for row in tables(projection):
            key = projection.key(row)
            seen.add(key)
            logged = expected.get((projection.table, key))
            if logged is None:
                if not projection.counts(row):
                    continue
                if _is_older(key, older.get(projection.table)):
                    unchecked += 1
                    continue
                differences.append(Difference(projection.table, key, (
                    f"{projection.what} {key} is in the table but not in the log: it was "
                    "inserted behind Roadie's back")))
                continue
            checked += 1
            seq, state = logged
            if state is None:
                differences.append(Difference(projection.table, key, (
                    f"{projection.what} {key} was deleted by entry {seq}, yet it is in the "
                    "table")))
                continue
            actual = projection.state(row)
            for name, value in state.items():
                if actual.get(name) != value:
                    differences.append(Difference(projection.table, key, (
                        f"{projection.what} {key}: {name} is {actual.get(name)!r} in the "
                        f"table, {value!r} in the log (entry {seq})")))
                    break
        for (table, key), (seq, state) in expected.items():
            if table == projection.table and state is not None and key not in seen:
                differences.append(Difference(table, key, (
                    f"{projection.what} {key} is in the log (entry {seq}) but missing from "
                    "the table")))
    return ReplayReport(checked, unchecked, differences)


def _is_older(key: str, limit: int | None) -> bool:
    return limit is not None and key.isdigit() and int(key) <= limit


def table_rows(session: Session, batch: int = 5000) -> Callable[[Projection], Iterator[Any]]:
    def rows(projection: Projection) -> Iterator[Any]:
        key = inspect(projection.model).primary_key[0]
        last: Any = None
        while True:
            query = select(projection.model).order_by(key).limit(batch)
            if last is not None:
                query = query.where(key > last)
            found = session.exec(query).all()
            if not found:
                return
            yield from found
            last = getattr(found[-1], key.name)
    return rows
