from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

PENDING, SENT, FAILED, SUPERSEDED = "pending", "sent", "failed", "superseded"


class OutboxMessage(SQLModel, table=True):
    """One message for one platform. `key` makes enqueueing idempotent per platform.

    An edit row names in `edit_of` the key of the message it replaces on the platform.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("platform", "key", name="uq_outbox_platform_key"),
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_edit_of", "platform", "edit_of"),
        Index("ix_outbox_remote_id", "platform", "remote_id"),
        Index("ix_outbox_lane", "platform", "destination", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    destination: str = Field(max_length=200)
    key: str = Field(max_length=250)
    edit_of: str | None = Field(default=None, max_length=250)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=PENDING, max_length=12)
    attempts: int = 0
    not_before: datetime
    claimed_by: str = Field(default="", max_length=100)
    claimed_until: datetime | None = None
    created_at: datetime
    sent_at: datetime | None = None
    remote_id: str = Field(default="", max_length=200)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
