"""What cogs receive besides commands: GitHub events and chat member joins."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,38}(?:\[bot\])?")
"""GitHub's rule for user and organization logins (with `_` for managed users), and the
`[bot]` suffix of apps."""
REPO_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
FULL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,38}/[A-Za-z0-9._-]{1,100}")
BRANCH = re.compile(r"[^\x00-\x20\x7f~^:?*\[\\]{1,255}")
"""A git branch name as `git check-ref-format` allows it, within the length GitHub keeps."""
IDENTIFIERS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("repository", "name"), REPO_NAME),
    (("repository", "full_name"), FULL_NAME),
    (("repository", "owner", "login"), LOGIN),
    (("repository", "default_branch"), BRANCH),
    (("changes", "repository", "name", "from"), REPO_NAME),
    (("sender", "login"), LOGIN),
    (("organization", "login"), LOGIN),
    (("comment", "user", "login"), LOGIN),
    (("issue", "user", "login"), LOGIN),
    (("pull_request", "user", "login"), LOGIN),
    (("review", "user", "login"), LOGIN),
    (("release", "author", "login"), LOGIN),
    (("membership", "user", "login"), LOGIN),
    (("member", "login"), LOGIN),
    (("blocked_user", "login"), LOGIN),
)
"""Identifiers that cogs store and compare: a delivery that holds one not by GitHub's rules
is refused whole, rather than stored in part."""
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
"""Control characters (but tab and line breaks) and lone surrogates: PostgreSQL refuses NUL
in text, no encoder takes a lone surrogate, and the others have no business in a message."""
_MAYBE_UNSAFE = re.compile(
    r"\\(?:u(?:00[01][0-9a-fA-F]|007[fF]|[dD][89a-fA-F][0-9a-fA-F]{2})|[bf])|\x7f")
"""How an unsafe character can appear in JSON text: escaped (a raw one is not JSON), as
`\\uXXXX` or as JSON's own `\\b` (backspace) and `\\f` (form feed), or a raw DEL. (An
escaped backslash before a `b` matches too: that only costs the walk.)"""
_UNSAFE_MARKERS = ("\\u", "\\b", "\\f", "\x7f")
"""What `_MAYBE_UNSAFE` cannot match without."""
LONGEST_KEY_ID = 64


class MalformedEvent(ValueError):
    """A delivery whose identifiers are not GitHub's: no handler sees it."""


def delivery_key(delivery_id: str) -> str:
    """The delivery id, short enough to build keys of messages from: a long one (GitHub's are
    36 characters) is replaced by a digest of it."""
    if len(delivery_id) <= LONGEST_KEY_ID:
        return delivery_id
    return "sha256-" + hashlib.sha256(delivery_id.encode()).hexdigest()[:40]


def might_be_unsafe(payload_text: str) -> bool:
    """False when the JSON text cannot hold an unsafe character (the usual, fast case)."""
    # Substring searches first: a fifth of the regex's time on a payload with none.
    if not any(marker in payload_text for marker in _UNSAFE_MARKERS):
        return False
    return _MAYBE_UNSAFE.search(payload_text) is not None


def _neutralised(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, str):
        if _UNSAFE.search(value) is None:
            return value
        found.append(path)
        return _UNSAFE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_neutralised(k, path, found) if isinstance(k, str) else k:
                _neutralised(v, f"{path}.{k}" if path else str(k), found)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_neutralised(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


@dataclass(frozen=True)
class GitHubEvent:
    """A stored webhook delivery, parsed. Payloads can be odd: read them with `get`.

    Build it with `parse`, which neutralises control characters and checks identifiers.
    """

    event: str
    action: str
    delivery_id: str
    payload: dict[str, Any]
    received_at: datetime

    @classmethod
    def parse(cls, event: str, action: str, delivery_id: str, payload: dict[str, Any],
              received_at: datetime, *, check_text: bool = True) -> tuple[GitHubEvent, str]:
        """The event, and a note of what was neutralised ("" when nothing was).

        Strings with control characters or lone surrogates have them replaced by U+FFFD;
        `check_text=False` skips that walk (when `might_be_unsafe` said the text has none).
        Raises `MalformedEvent` when an identifier (a login, a repository or branch name)
        does not follow GitHub's rules.
        """
        note = ""
        if check_text:
            found: list[str] = []
            payload = _neutralised(payload, "", found)
            if found:
                note = (f"{len(found)} string(s) held control characters or lone surrogates, "
                        f"replaced with U+FFFD (first at {found[0][:100]})")
        github_event = cls(event, action, delivery_key(delivery_id), payload, received_at)
        for path, rule in IDENTIFIERS:
            value = github_event.get(*path)
            if value is not None and not (isinstance(value, str) and rule.fullmatch(value)):
                raise MalformedEvent(f"{'.'.join(path)} is not a GitHub "
                                     f"{'login' if rule is LOGIN else 'name'}: "
                                     f"{str(value)[:60]!r}")
        return github_event, note

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
