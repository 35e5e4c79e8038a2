"""The digest of each day, claimed once: the row and the message go in one transaction."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel


class DigestDay(SQLModel, table=True):
    """A day whose digest was sent (or found quiet and skipped). One row per day, ever."""

    __tablename__ = "digest_day"

    day: date = Field(primary_key=True)
    sent_at: datetime
    outbox_key: str = Field(default="", max_length=100)
    sections: int = 0
    """How many sections it had; 0 is a quiet day."""
