"""What cogs receive besides commands: GitHub events and chat member joins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class GitHubEvent:
    """A stored webhook delivery, parsed. Payloads can be odd: read them with `get`."""

    event: str
    action: str
    delivery_id: str
    payload: dict[str, Any]
    received_at: datetime

    def get(self, *path: str | int, default: Any = None) -> Any:
        """A nested value, or `default` when any step is missing, null or of the wrong type."""
        node: Any = self.payload
        for step in path:
            if isinstance(step, int) and isinstance(node, list) and -len(node) <= step < len(node):
                node = node[step]
            elif isinstance(step, str) and isinstance(node, dict):
                node = node.get(step)
            else:
                return default
            if node is None:
                return default
        return node

    def text(self, *path: str | int, default: str = "") -> str:
        value = self.get(*path)
        return value if isinstance(value, str) else default

    @property
    def repo(self) -> str:
        """The repository's name (without the owner), or "" when the event has none."""
        return self.text("repository", "name")

    @property
    def sender(self) -> str:
        return self.text("sender", "login")


@dataclass(frozen=True)
class MemberJoined:
    """Someone joined a chat server (Discord guild member add, Zulip realm_user add)."""

    platform: str
    user_id: str
    display_name: str
    joined_at: datetime
    account_created_at: datetime | None = None
    is_bot: bool = False
