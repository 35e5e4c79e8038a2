"""Tables of the GitHub feed. Both are bookkeeping of notices, not decisions: not audited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class FeedBurst(SQLModel, table=True):
    """Activity on one issue or pull request (`number`), or pushes to one branch (`number`
    0, the branch in `ref`), gathered into one message until `closes_at`.

    The message is queued at once with `not_before = closes_at` under `message_key` and
    rewritten as more arrives. `state` is the gathered activity (JSON, owned by the feed);
    `deliveries` the ids of the deliveries already in it (JSON list), so that handling a
    delivery twice adds nothing twice.
    """

    __tablename__ = "feed_burst"
    __table_args__ = (Index("ix_feed_burst_item", "destination", "repo", "number", "closes_at"),)

    id: int | None = Field(default=None, primary_key=True)
    destination: str = Field(max_length=200)
    repo: str = Field(max_length=100)
    number: int
    ref: str = Field(default="", max_length=255)
    message_key: str = Field(max_length=250)
    opened_at: datetime
    closes_at: datetime
    state: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    deliveries: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))


class CIStatus(SQLModel, table=True):
    """The last conclusion of a workflow (or check) on a repository's default branch.

    While it fails, `message_key` names the notice that is edited in place on each run, and
    `destinations` (JSON list) where that notice went. After a fix the notice stays named
    until `fixed_at` + the flap window: a failure before then edits it again (`flips`).
    """

    __tablename__ = "feed_ci_status"
    __table_args__ = (UniqueConstraint("repo", "source", name="uq_feed_ci_status_repo_source"),)

    id: int | None = Field(default=None, primary_key=True)
    repo: str = Field(max_length=100)
    source: str = Field(max_length=200)
    conclusion: str = Field(max_length=30)
    failures: int = 0
    message_key: str = Field(default="", max_length=250)
    destinations: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    last_run: str = Field(default="", max_length=100)
    completed_at: datetime | None = None
    updated_at: datetime
    fixed_at: datetime | None = None
    flips: int = 0
