"""Tables for escalation tickets, their history, admins' away periods and the GitHub mirror."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from governance.audit.projection import Projection, project

OPEN, ACKNOWLEDGED, RESOLVED, DECLINED = "open", "acknowledged", "resolved", "declined"
ACTIVE_STATES = (OPEN, ACKNOWLEDGED)
CLOSED_STATES = (RESOLVED, DECLINED)
NORMAL, URGENT = "normal", "urgent"
ACKNOWLEDGE, RESOLVE = "acknowledge", "resolve"


class Ticket(SQLModel, table=True):
    """One escalation. Its number is its primary key.

    `next_reminder_at` is when the next reminder point of the current deadline falls due
    (None once the ticket is closed); the sweep asks for rows where it has passed.
    `last_point` is the last reminder point sent in this `cycle` (-1: none yet). A cycle is
    one deadline phase (acknowledge, then resolve; a reopening starts a new one), so that
    every reminder point has a key of its own. `acknowledged_at` is the first
    acknowledgement (it stays when a ticket is reopened), for the statistics.
    """

    __tablename__ = "escalation"

    number: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=40)
    severity: str = Field(default=NORMAL, max_length=10)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    reporter: str = Field(max_length=39, index=True)
    assignee: str = Field(default="", max_length=39, index=True)
    assigned_at: datetime | None = None
    state: str = Field(default=OPEN, max_length=12, index=True)
    source: str | None = Field(default=None, max_length=120, unique=True)
    opened_at: datetime = Field(index=True)
    clock_started_at: datetime
    ack_due_at: datetime
    resolve_due_at: datetime
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str = Field(default="", max_length=200)
    outcome: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    ack_breached: bool = False
    resolve_breached: bool = False
    cycle: int = 0
    last_point: int = -1
    next_reminder_at: datetime | None = Field(default=None, index=True)
    github_issue: int | None = Field(default=None, index=True)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def urgent(self) -> bool:
        return self.severity == URGENT

    def deadline(self) -> tuple[str, datetime] | None:
        """The deadline the ticket runs against now, or None once it is closed."""
        if self.state == OPEN:
            return ACKNOWLEDGE, self.ack_due_at
        if self.state == ACKNOWLEDGED:
            return RESOLVE, self.resolve_due_at
        return None

    def overdue(self, now: datetime) -> bool:
        deadline = self.deadline()
        return deadline is not None and deadline[1] <= now

    def ever_breached(self, now: datetime) -> bool:
        return self.ack_breached or self.resolve_breached or self.overdue(now)


class TicketEvent(SQLModel, table=True):
    """A line of a ticket's history: a transition, a comment, a reminder sent."""

    __tablename__ = "escalation_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket: int = Field(foreign_key="escalation.number", index=True)
    at: datetime
    actor: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class AwayPeriod(SQLModel, table=True):
    """An admin who is away: not assigned new tickets, not mentioned in breach alerts."""

    __tablename__ = "escalation_away"
    __table_args__ = (Index("ix_escalation_away_login_until", "login", "until"),)

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=39)
    starts_at: datetime
    until: datetime
    note: str = Field(default="", max_length=300)
    ended_at: datetime | None = None


class MirrorTask(SQLModel, table=True):
    """Something to do on the ticket's GitHub issue, written down before it is done.

    `key` makes queueing idempotent; tasks of a ticket run in id order.
    """

    __tablename__ = "escalation_mirror"
    __table_args__ = (
        UniqueConstraint("key", name="uq_escalation_mirror_key"),
        Index("ix_escalation_mirror_due", "status", "not_before"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket: int = Field(foreign_key="escalation.number", index=True)
    key: str = Field(max_length=120)
    action: str = Field(max_length=12)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    not_before: datetime
    claimed_until: datetime | None = None
    created_at: datetime
    done_at: datetime | None = None
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


project(Projection(Ticket, "escalation", ("project", "kind", "severity", "reporter", "assignee",
                                          "state", "ack_due_at", "resolve_due_at", "closed_at",
                                          "closed_by", "outcome")))
