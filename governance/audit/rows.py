"""Reading the log in bulk: entries as plain tuples, a million of them at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlmodel import Session

from governance.audit.log import AuditEntry, moment_text

Row = tuple[int, str, str, str, str, str, str, str, str]
"""An entry as read in bulk: its moment is text, as the hash takes it."""
FIELDS = ("seq", "at", "actor", "action", "target", "reason", "data", "prev_hash", "hash")


def database_rows(session: Session, batch: int = 20000, *, after: int = 0,
                  upto: int | None = None) -> Iterator[Row]:
    """Entries in order, as plain tuples (no ORM objects: a million of them is slow), their
    moments read raw and turned into the hash's text without a datetime in between."""
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    moment: Any = type_coerce(table.c.at, String)
    if session.get_bind().dialect.name == "postgresql":  # the text made by the server
        moment = func.to_char(func.timezone("UTC", table.c.at),
                              'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    columns = [moment if name == "at" else table.c[name] for name in FIELDS]
    while True:
        query = select(*columns).where(table.c.seq > after)
        if upto is not None:
            query = query.where(table.c.seq <= upto)
        rows = session.execute(query.order_by(table.c.seq).limit(batch)).all()
        if not rows:
            return
        for seq, at, *rest in rows:
            yield (seq, _moment(at), *rest)  # type: ignore[misc]
        after = rows[-1][0]


def _moment(value: str | datetime) -> str:
    if isinstance(value, datetime):  # PostgreSQL's driver gives datetimes, in its time zone
        return moment_text(value.astimezone(UTC))
    # SQLite keeps UTC as `YYYY-MM-DD HH:MM:SS.ffffff`
    return f"{value[:10]}T{value[11:]}+00:00" if len(value) == 26 else moment_text(
        datetime.fromisoformat(value).replace(tzinfo=UTC))
