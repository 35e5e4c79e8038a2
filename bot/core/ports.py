"""The ports through which cogs reach the outside world.

Transports implement `ChatPort`; `bot.github` implements `GitHubPort`. Errors from either
side are `PlatformError`: `retry_after` when the platform asked to wait, `permanent` when
trying again cannot help (a missing channel, a refused permission, a user who cannot be
blocked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from bot.core.messages import Message


class PlatformError(Exception):
    def __init__(self, platform: str, detail: str, *, retry_after: float | None = None,
                 permanent: bool = False, status: int | None = None) -> None:
        super().__init__(f"{platform}: {detail}")
        self.platform = platform
        self.detail = detail
        self.retry_after = retry_after
        self.permanent = permanent
        self.status = status


@dataclass(frozen=True)
class Rate:
    """At most `count` requests per `per` seconds."""

    count: int
    per: float


@dataclass(frozen=True)
class ChatMember:
    platform: str
    user_id: str
    display_name: str
    is_bot: bool = False
    joined_at: datetime | None = None
    account_created_at: datetime | None = None
    roles: tuple[str, ...] = ()


@runtime_checkable
class ChatPort(Protocol):
    """One chat platform. `place` is the platform's own address for a destination."""

    platform: str

    def place_for(self, destination: str) -> str | None:
        """Where a logical destination lives on this platform; None when it is not mapped."""
        ...

    def rates(self) -> tuple[Rate | None, Rate | None]:
        """(per place, per platform) send limits to keep inside, or None for no limit."""
        ...

    def mention(self, user_id: str) -> str:
        """Markup that mentions a user on this platform."""
        ...

    async def send(self, place: str, message: Message, *, key: str,
                   mentions: dict[str, str]) -> str:
        """Post a message; return the platform's id for it. `key` lets a platform dedupe."""
        ...

    async def edit(self, place: str, remote_id: str, message: Message, *,
                   mentions: dict[str, str]) -> str | None:
        """Change a posted message. Where the platform no longer allows that (Zulip's edit
        window), post the new version anew and return its id: later edits go to it."""
        ...

    async def ban(self, user_id: str, *, reason: str, delete_message_days: int = 0) -> None:
        """Ban (Discord) or deactivate (Zulip) a user, optionally deleting recent messages."""
        ...

    async def unban(self, user_id: str, *, reason: str) -> None: ...

    async def lookup_member(self, user_id: str) -> ChatMember | None: ...


@dataclass(frozen=True)
class GitHubUser:
    login: str
    created_at: datetime | None = None
    public_repos: int = 0
    followers: int = 0
    name: str = ""
    bio: str = ""
    blog: str = ""
    company: str = ""
    avatar_is_default: bool = False
    type: str = "User"


@dataclass(frozen=True)
class GitHubIssue:
    repo: str
    number: int
    title: str
    body: str
    state: str
    url: str
    assignees: tuple[str, ...] = field(default_factory=tuple)


TeamMembership = Literal["active", "pending"]
"""A team membership on GitHub: `pending` while the person has not accepted the invitation
to the org that adding them to a team sent (they were not an org member)."""


@runtime_checkable
class GitHubPort(Protocol):
    """The GitHub operations Roadie needs, on the configured org. All may raise PlatformError."""

    org: str

    async def block_user(self, login: str) -> None: ...

    async def unblock_user(self, login: str) -> None: ...

    async def is_blocked(self, login: str) -> bool: ...

    async def get_user(self, login: str) -> GitHubUser | None: ...

    async def is_org_member(self, login: str) -> bool: ...

    async def team_members(self, team_slug: str) -> list[str]: ...

    async def add_team_member(self, team_slug: str, login: str) -> TeamMembership:
        """Add a person to a team. A non-member of the org is only invited: `pending`."""
        ...

    async def team_membership(self, team_slug: str, login: str) -> TeamMembership | None:
        """The person's membership of a team, or None when they have none (any more)."""
        ...

    async def org_members(self) -> list[str]: ...

    async def create_issue(self, repo: str, title: str, body: str, *,
                           assignees: tuple[str, ...] = (),
                           labels: tuple[str, ...] = ()) -> GitHubIssue: ...

    async def get_issue(self, repo: str, number: int) -> GitHubIssue: ...

    async def list_issues(self, repo: str, *, creator: str = "",
                          state: str = "all") -> list[GitHubIssue]:
        """The issues of a repository (not pull requests), optionally only those opened by
        `creator`; `state` is open, closed or all."""
        ...

    async def edit_issue(self, repo: str, number: int, *, body: str | None = None,
                         title: str | None = None, state: str | None = None) -> GitHubIssue: ...

    async def comment_issue(self, repo: str, number: int, body: str) -> None: ...

    async def pulls_for_commit(self, repo: str, sha: str) -> list[int]:
        """Numbers of the merged pull requests that contain a commit."""
        ...
