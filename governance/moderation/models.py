"""Tables for moderation cases, the accounts each one holds, amendments, appeals and joins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from governance.audit.projection import Projection, project

# Case states.
AWAITING = "awaiting"  # waits for a second moderator until `confirm_by`
ACTIVE = "active"  # the block stands (its accounts may still be pending on some platform)
LIFTED = "lifted"  # undone: by /unblock, or because its time ran out
LAPSED = "lapsed"  # nobody confirmed it in time; nothing was blocked
REFUSED = "refused"  # every platform refused the block (or Roadie gave up): nothing is blocked

# Account states, per platform.
HELD = "held"  # waits for the case's confirmation
PENDING = "pending"  # the block is to be done (again) at `next_attempt_at`
BLOCKED = "blocked"
FAILED = "failed"  # the platform refused the block for good; see `last_error`
UNBLOCKING = "unblocking"  # the lift is to be done (again) at `next_attempt_at`
LIFTED_ACCOUNT = "lifted"
UNBLOCK_FAILED = "unblock-failed"  # the platform refused the lift for good: still blocked
CANCELLED = "cancelled"  # never blocked: the case lapsed or was lifted first

TO_DO = (PENDING, UNBLOCKING)

PUBLIC_SUMMARY_MAX = 500
"""The most characters of a published case's public summary."""


class ModerationCase(SQLModel, table=True):
    """A numbered case: who blocks whom, why, until when, and whether a second moderator agreed.

    The case number is the row id.
    """

    __tablename__ = "moderation_case"
    __table_args__ = (
        Index("ix_moderation_case_actor_created", "actor", "created_at"),
        # The public pages read the newest published cases: a few among thousands.
        Index("ix_moderation_case_public_id", "public", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=200)
    actor: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(max_length=20, index=True)
    created_at: datetime
    scope: str = Field(default="all", max_length=20)
    delete_message_days: int = 0
    expires_at: datetime | None = Field(default=None, index=True)
    standing: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    confirm_by: datetime | None = Field(default=None, index=True)
    confirmed_by: str = Field(default="", max_length=200, index=True)
    confirmed_at: datetime | None = None
    lifted_at: datetime | None = None
    lifted_by: str = Field(default="", max_length=200)
    lift_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Published on the public moderation page, when moderators choose to: only the summary
    # they wrote for it (the reason may hold private detail), and the subject's GitHub login
    # only if they chose to name it (`public_name`, empty: "an account").
    public: bool = False
    public_summary: str = Field(default="", max_length=PUBLIC_SUMMARY_MAX)
    public_name: str = Field(default="", max_length=39)
    published_by: str = Field(default="", max_length=200)
    published_at: datetime | None = None


class CaseAccount(SQLModel, table=True):
    """One account a case blocks on one platform, and how that went.

    While `released_at` is empty the account is held by the case: the partial unique index
    keeps any account from being held by two cases at once.
    """

    __tablename__ = "moderation_account"
    __table_args__ = (
        Index("uq_moderation_account_held", "platform", "account", unique=True,
              sqlite_where=text("released_at IS NULL"),
              postgresql_where=text("released_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="moderation_case.id", index=True)
    platform: str = Field(max_length=20)
    account: str = Field(max_length=64, index=True)
    display: str = Field(default="", max_length=200)
    state: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, index=True)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    blocked_at: datetime | None = None
    unblocked_at: datetime | None = None
    released_at: datetime | None = None


class CaseAmendment(SQLModel, table=True):
    """A change to a case's reason, with who made it."""

    __tablename__ = "moderation_amendment"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="moderation_case.id", index=True)
    at: datetime
    amended_by: str = Field(max_length=200)
    old_reason: str = Field(sa_column=Column(Text, nullable=False))
    new_reason: str = Field(sa_column=Column(Text, nullable=False))


class CaseAppeal(SQLModel, table=True):
    """The outcome of an appeal against a case, as a moderator recorded it."""

    __tablename__ = "moderation_appeal"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="moderation_case.id", index=True)
    at: datetime
    recorded_by: str = Field(max_length=200)
    outcome: str = Field(sa_column=Column(Text, nullable=False))


class JoinSeen(SQLModel, table=True):
    """Someone joined the org or a chat server; counted to notice many joins in a short time."""

    __tablename__ = "moderation_join"
    __table_args__ = (UniqueConstraint("platform", "account", "joined_at"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    account: str = Field(max_length=64)
    joined_at: datetime = Field(index=True)


class Newcomer(SQLModel, table=True):
    """Someone who joined the org lately: without standing (no member role, nothing that makes
    a block need a second moderator) until `until`, or until enough members vouch for them.

    `until` is the due time the sweep asks for; it is cleared when the probation ends
    (`ended_how`: time, vouched, left). One row per login: joining again starts it again.
    """

    __tablename__ = "moderation_newcomer"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=39, unique=True)
    display_login: str = Field(max_length=39)
    joined_at: datetime
    until: datetime | None = Field(default=None, index=True)
    vouched_by: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    ended_at: datetime | None = None
    ended_how: str = Field(default="", max_length=20)

    @property
    def vouchers(self) -> list[str]:
        return [v for v in self.vouched_by.split(",") if v]


class AppealRequest(SQLModel, table=True):
    """An appeal against a case, filed by the blocked person (on GitHub, through an issue in
    the appeals repository, or in chat), waiting in the moderators' queue until decided.

    `state`: open, upheld or lifted. `issue_number` is the appeal's issue, where the answer
    goes; `appellant` the GitHub login of whoever filed it.
    """

    __tablename__ = "moderation_appeal_request"
    __table_args__ = (UniqueConstraint("issue_repo", "issue_number",
                                       name="uq_moderation_appeal_issue"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="moderation_case.id", index=True)
    appellant: str = Field(max_length=39)
    via: str = Field(max_length=10)
    text: str = Field(sa_column=Column(Text, nullable=False))
    filed_at: datetime
    state: str = Field(default="open", max_length=10, index=True)
    issue_repo: str | None = Field(default=None, max_length=140)
    issue_number: int | None = None
    issue_url: str = Field(default="", max_length=300)
    decided_at: datetime | None = None
    decided_by: str = Field(default="", max_length=200)
    decision: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


project(Projection(ModerationCase, "case", ("subject", "actor", "reason", "state", "scope",
                                            "expires_at", "confirmed_by", "confirmed_at",
                                            "lifted_at", "lifted_by", "public",
                                            "public_summary", "public_name", "published_by",
                                            "published_at")))
