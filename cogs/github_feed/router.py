"""Which feeds an event goes to, by the filters of each `[[feeds]]` table.

- `repos`: globs on the repository name; the event must have a repository.
- `events`: event names; empty lets every event through.
- `actions`: applies to events that have an action (push, create, delete, fork have none).
- `branches`: globs; applies to events about a branch (pushes, pull requests by their base
  branch, CI runs). Issues, releases and the like pass.
- `labels`: all required. Only an issue or pull request can carry them, so a feed with
  labels receives nothing else.
- `ignore_bots`: skips activity by logins ending in `[bot]` (CI results are about the
  branch, not about who started the run, and are not skipped).
- `ignore_private`: skips private repositories.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.cog import Feed


@dataclass(frozen=True)
class Subject:
    """What routing looks at in an event."""

    event: str
    action: str
    repo: str
    branch: str = ""
    labels: tuple[str, ...] | None = None
    by_bot: bool = False
    private: bool = False


def _glob(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def accepts(feed: Feed, subject: Subject) -> bool:
    if not subject.repo or not feed.covers(subject.repo):
        return False
    if feed.events and subject.event not in feed.events:
        return False
    if feed.actions and subject.action and subject.action not in feed.actions:
        return False
    if feed.branches and subject.branch and not _glob(subject.branch, feed.branches):
        return False
    if feed.labels:
        have = {label.lower() for label in subject.labels or ()}
        if subject.labels is None or not all(label.lower() in have for label in feed.labels):
            return False
    if feed.ignore_bots and subject.by_bot:
        return False
    return not (feed.ignore_private and subject.private)


def destinations(feeds: Iterable[Feed], subject: Subject) -> list[str]:
    """Each destination once, in the order of the feeds that accept the subject."""
    found: list[str] = []
    for feed in feeds:
        if accepts(feed, subject) and feed.destination not in found:
            found.append(feed.destination)
    return found
