from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Lease(SQLModel, table=True):
    """A named lease held by one replica until `expires_at`, renewed while it lives."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=60)
    holder: str = Field(default="", max_length=100)
    expires_at: datetime


class JobTick(SQLModel, table=True):
    """The last tick each scheduled job ran for: a tick runs at most once across replicas."""

    __tablename__ = "job_tick"

    job: str = Field(primary_key=True, max_length=120)
    last_tick: datetime
    last_holder: str = Field(default="", max_length=100)
    last_ran_at: datetime | None = None
