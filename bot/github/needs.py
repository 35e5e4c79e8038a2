"""What each capability needs from GitHub: App permissions, and the webhook events it handles.

The events come from the cogs' own `@on_github` handlers; the permissions from the table
below (GitHub App permission names, as in the App's settings and its manifest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.core.cog import GITHUB_ATTR, Cog

LEVELS = {"read": 1, "write": 2, "admin": 3}
NOT_SUBSCRIBABLE = {"ping"}  # GitHub sends it when a hook is made; nobody subscribes to it

PERMISSIONS: dict[str, dict[str, str]] = {
    "people": {"members": "read", "issues": "read", "metadata": "read"},
    "projects": {"metadata": "read"},
    "github_feed": {"contents": "read", "issues": "read", "pull_requests": "read",
                    "checks": "read", "actions": "read", "members": "read", "metadata": "read",
                    "organization_user_blocking": "read"},
    "escalation": {"issues": "write", "metadata": "read"},
    "moderation": {"organization_user_blocking": "write", "members": "read"},
    "onboarding": {"issues": "write", "metadata": "read"},
    "voting": {"members": "write", "metadata": "read"},
    "digest": {},
}


@dataclass
class Needs:
    permissions: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """permission -> (the highest level needed, the capabilities needing it)"""
    events: dict[str, list[str]] = field(default_factory=dict)
    """event -> the capabilities handling it"""


def handled_events(cog: type[Cog]) -> set[str]:
    events: set[str] = set()
    for attr in dir(cog):
        events.update(getattr(getattr(cog, attr, None), GITHUB_ATTR, ()) or ())
    return events - NOT_SUBSCRIBABLE


def needs_of(cogs: Iterable[type[Cog]]) -> Needs:
    needs = Needs()
    for cog in cogs:
        for permission, level in PERMISSIONS.get(cog.name, {}).items():
            current, users = needs.permissions.get(permission, ("read", []))
            highest = level if LEVELS[level] > LEVELS[current] else current
            needs.permissions[permission] = (highest, [*users, cog.name])
        for event in sorted(handled_events(cog)):
            needs.events.setdefault(event, []).append(cog.name)
    return needs


def missing_permissions(needs: Needs, granted: dict[str, str]) -> list[str]:
    """`permission: level (needed by ...)` for each permission granted too low or not at all."""
    missing = []
    for permission, (level, users) in sorted(needs.permissions.items()):
        has = granted.get(permission)
        if has is None or LEVELS.get(has, 0) < LEVELS[level]:
            now = f"it has {has}" if has else "not granted"
            missing.append(f"{permission}: {level} (for {', '.join(users)}; {now})")
    return missing


def missing_events(needs: Needs, subscribed: Iterable[str]) -> list[str]:
    events = set(subscribed)
    if "*" in events:
        return []
    return [f"{event} (for {', '.join(users)})" for event, users in sorted(needs.events.items())
            if event not in events]


def manifest(name: str, url: str, webhook_url: str, needs: Needs) -> dict[str, object]:
    """A GitHub App manifest asking for exactly what the enabled capabilities need."""
    return {"name": name, "url": url, "public": False,
            "hook_attributes": {"url": webhook_url, "active": True},
            "default_permissions": {p: level for p, (level, _) in sorted(
                needs.permissions.items())},
            "default_events": sorted(needs.events)}
