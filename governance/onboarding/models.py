"""Tables for onboarding checklists: one per project, an item per line of its issue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from governance.audit.projection import Projection, project

# Checklist states.
OPENING = "opening"  # recorded; its GitHub issue is being opened
OPEN = "open"  # tracked (on its issue; or in Roadie alone when GitHub would not open one)
COMPLETED = "completed"
ACTIVE_STATES = (OPENING, OPEN)

# Who can do an item.
MEMBER, LEAD, ADMIN = "member", "lead", "admin"
WHO = (MEMBER, LEAD, ADMIN)


class Checklist(SQLModel, table=True):
    """The onboarding of one project, tracked on an issue in its repository.

    Due times the sweep asks for: `github_due_at` (something to do on the issue: open it,
    tick lines ticked from chat, link escalations, close it), `checkin_due_at` (the leads'
    check-in). `last_progress_at` tells whether it is stuck.
    """

    __tablename__ = "onboarding_checklist"

    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=100, unique=True)
    repo: str = Field(max_length=100)
    state: str = Field(max_length=12, index=True)
    opened_by: str = Field(default="", max_length=39)
    started_at: datetime
    last_progress_at: datetime = Field(index=True)
    completed_at: datetime | None = None
    completed_by: str = Field(default="", max_length=200)
    issue_number: int | None = None
    issue_url: str = Field(default="", max_length=300)
    issue_title: str = Field(max_length=256)
    issue_body: str = Field(sa_column=Column(Text, nullable=False))
    assignees: str = Field(default="", max_length=500)
    close_pending: bool = False
    github_due_at: datetime | None = Field(default=None, index=True)
    github_claimed_until: datetime | None = None
    github_attempts: int = 0
    github_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    checkin_due_at: datetime | None = Field(default=None, index=True)
    checkin_sent_at: datetime | None = None


class ChecklistItem(SQLModel, table=True):
    """One line of a checklist: what to do, who can do it, and who did it when.

    `escalate_at` (admin items only) is when it is escalated if still open; it is cleared
    once escalated or done. `sync_pending`: ticked or unticked in chat, not yet on GitHub.
    `escalation_linked`: the escalation is named in a comment on the issue.
    """

    __tablename__ = "onboarding_item"
    __table_args__ = (
        UniqueConstraint("checklist_id", "key", name="uq_onboarding_item_key"),
        Index("ix_onboarding_item_escalate_at", "escalate_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    checklist_id: int = Field(foreign_key="onboarding_checklist.id", index=True)
    key: str = Field(max_length=40)
    position: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    who: str = Field(max_length=10)
    escalation_kind: str = Field(default="", max_length=40)
    done_at: datetime | None = None
    done_by: str = Field(default="", max_length=200)
    done_via: str = Field(default="", max_length=10)
    sync_pending: bool = False
    escalate_at: datetime | None = None
    escalation: int | None = None
    escalation_linked: bool = False
    escalation_error: str = Field(default="", sa_column=Column(Text, nullable=False,
                                                               default=""))

    @property
    def done(self) -> bool:
        return self.done_at is not None


project(Projection(Checklist, "checklist", ("project", "repo", "state", "completed_at",
                                            "completed_by")))
project(Projection(ChecklistItem, "checklist item", ("checklist_id", "key", "done_at",
                                                     "done_by")))
