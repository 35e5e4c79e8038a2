from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Project(SQLModel, table=True):
    """A repository of the org. `name` is the repository name, stored lower-case."""

    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    display_name: str = Field(max_length=100)
    default_branch: str = Field(default="main", max_length=255)
    private: bool = False
    archived: bool = False
    added_at: datetime
    source: str = Field(default="config", max_length=20)
