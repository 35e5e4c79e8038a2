"""The few expressions whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast, func
from sqlmodel import Session


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def month_of(session: Session, column: Any) -> Any:
    """`YYYY-MM` of a stored moment (UTC)."""
    if dialect(session) == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def seconds_from(session: Session, start: Any, end: Any) -> Any:
    """Seconds from one stored moment to another."""
    if dialect(session) == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)
