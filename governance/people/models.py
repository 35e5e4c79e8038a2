"""Tables for people, chat identities, role grants and link codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from governance.audit.projection import Projection, project


class Person(SQLModel, table=True):
    """Someone Roadie knows, keyed by GitHub login (stored lower-case, shown as written)."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=39, unique=True)
    display_login: str = Field(max_length=39)
    created_at: datetime


class ChatIdentity(SQLModel, table=True):
    """A chat account. `person_id` is set only once the link to a GitHub login is proven."""

    __tablename__ = "chat_identity"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    user_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    linked_at: datetime | None = None
    linked_by: str = Field(default="", max_length=200)
    first_seen_at: datetime


class RoleGrant(SQLModel, table=True):
    """A role held by a person; `project` is set for leads. Revoked grants stay as history."""

    __tablename__ = "role_grant"
    __table_args__ = (
        Index("uq_role_grant_active", "person_id", "role", "project", unique=True,
              sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=20)
    project: str = Field(default="", max_length=100)
    source: str = Field(max_length=20)
    granted_by: str = Field(max_length=200)
    granted_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str = Field(default="", max_length=200)


class LinkCode(SQLModel, table=True):
    """A one-time code that proves a chat account belongs to a GitHub login."""

    __tablename__ = "link_code"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    platform: str = Field(max_length=20)
    user_id: str = Field(max_length=64)
    login: str = Field(max_length=39, index=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


project(Projection(RoleGrant, "role grant", ("person_id", "role", "project", "source",
                                             "granted_by", "granted_at", "revoked_at",
                                             "revoked_by")))
project(Projection(ChatIdentity, "chat link", ("platform", "user_id", "person_id", "linked_at",
                                               "linked_by"),
                   counts=lambda row: row.person_id is not None))
