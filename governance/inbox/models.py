from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

PENDING, DONE, IGNORED, FAILED = "pending", "done", "ignored", "failed"


class WebhookDelivery(SQLModel, table=True):
    """A delivery as GitHub sent it. `delivery_id` is GitHub's, the same on a redelivery."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=200, unique=True)
    event: str = Field(max_length=60)
    action: str = Field(default="", max_length=60)
    hook_id: str = Field(default="", max_length=40)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime
    status: str = Field(default=PENDING, max_length=12)
    attempts: int = 0
    not_before: datetime
    claimed_by: str = Field(default="", max_length=100)
    claimed_until: datetime | None = None
    processed_at: datetime | None = None
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
