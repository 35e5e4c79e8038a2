"""Tables for votes, their ballots and their concerns."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from governance.audit.projection import Projection, project

NOMINATION, DISPUTE = "nomination", "dispute"
PENDING, OPEN, CLOSED, CANCELLED, DECLINED, LAPSED = (
    "pending", "open", "closed", "cancelled", "declined", "lapsed")
LIVE_STATES = (PENDING, OPEN)

# What has to happen after a close, outside the vote: nothing, or a step still to be done.
# `invited`: GitHub invited the elected lead to the org; the team membership waits for them
# to accept until `follow_up_not_before`, when the invitation is checked once more.
NO_FOLLOW_UP, FOLLOW_UP_PENDING, FOLLOW_UP_DONE, FOLLOW_UP_ESCALATED, FOLLOW_UP_INVITED = (
    "", "pending", "done", "escalated", "invited")


class Vote(SQLModel, table=True):
    """One vote. Its number is its primary key.

    `rules` and `electorate` are JSON snapshots taken when the vote opens, so that a
    change of the config or of a team never changes a running vote (`/vote refresh`
    reads the electorate again, on purpose). `closes_at` is None while a nomination waits
    for the nominee; `remind_at` is when the non-voters are reminded (None: not, or done).
    """

    __tablename__ = "vote"

    number: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    project: str = Field(max_length=100, index=True)
    subject: str = Field(max_length=100)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    proposer: str = Field(max_length=39)
    state: str = Field(default=OPEN, max_length=12, index=True)
    rules: str = Field(sa_column=Column(Text, nullable=False))
    electorate: str = Field(sa_column=Column(Text, nullable=False))
    opened_at: datetime
    accept_by: datetime | None = None
    ballot_opened_at: datetime | None = None
    closes_at: datetime | None = Field(default=None, index=True)
    remind_at: datetime | None = Field(default=None, index=True)
    closed_at: datetime | None = None
    outcome: str = Field(default="", max_length=40)
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    tally: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    held_since: datetime | None = None
    follow_up: str = Field(default=NO_FOLLOW_UP, max_length=12, index=True)
    follow_up_attempts: int = 0
    follow_up_not_before: datetime | None = None
    follow_up_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def rules_data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.rules)
        return data

    def voters(self) -> list[str]:
        """The binding electorate: lower-case GitHub logins."""
        voters: list[str] = json.loads(self.electorate)
        return voters


class Ballot(SQLModel, table=True):
    """A person's ballot on a vote; changing it updates this row (one per person).

    `binding` is decided when the ballot is cast: in the electorate, or advisory. On a
    secret vote, `choice`, `reason` and `salt` stay empty until the close: the ballot is
    `sealed` (encrypted with a key kept outside the database), and the audit log holds a
    commitment to it (a hash of the choice, the reason and the salt). The close opens the
    seal, checks the commitment, and writes the ballot in the clear.
    """

    __tablename__ = "vote_ballot"
    __table_args__ = (UniqueConstraint("vote", "voter", name="uq_vote_ballot_voter"),)

    id: int | None = Field(default=None, primary_key=True)
    vote: int = Field(foreign_key="vote.number", index=True)
    voter: str = Field(max_length=39)
    display: str = Field(max_length=39)
    choice: str = Field(max_length=40)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    binding: bool = True
    cast_at: datetime
    changed_at: datetime
    salt: str = Field(default="", max_length=32)
    sealed: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Concern(SQLModel, table=True):
    """A named concern that holds a vote's close until its author or an admin resolves it."""

    __tablename__ = "vote_concern"
    __table_args__ = (
        Index("uq_vote_concern_open", "vote", "name", unique=True,
              sqlite_where=text("resolved_at IS NULL"),
              postgresql_where=text("resolved_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    vote: int = Field(foreign_key="vote.number", index=True)
    name: str = Field(max_length=60)
    author: str = Field(max_length=39)
    raised_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str = Field(default="", max_length=39)


project(Projection(Vote, "vote", ("kind", "project", "subject", "proposer", "state", "rules",
                                  "electorate", "closes_at", "closed_at", "outcome", "tally")))
project(Projection(Ballot, "ballot", ("vote", "voter", "binding", "choice", "reason"),
                   hashed=("sealed",)))
project(Projection(Concern, "concern", ("vote", "name", "author", "resolved_at",
                                        "resolved_by")))
