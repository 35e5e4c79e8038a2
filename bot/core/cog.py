"""The base of every capability, and what the runtime hands it.

A cog is a class in a module named in the config's `[bot] cogs` list; the module exports it
as `COG`. The cog declares, on its methods:

- commands with `@command(...)` (see `bot.core.commands`);
- scheduled jobs with `@every("30s")`, or by overriding `jobs()` for times from settings;
- GitHub webhook handlers with `@on_github("issues", ...)`;
- chat member-join handlers with `@on_member_join`;
- autocomplete sources with `@completer("tickets")`.

Its settings are the config section named by `section` (default: the cog's `name`),
validated with its `Settings` model.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, ClassVar

from sqlmodel import Session

from bot.core.commands import CommandSpec, bound_specs
from bot.core.events import GitHubEvent, MemberJoined
from bot.core.outbox import Outbox
from bot.core.ports import ChatPort, GitHubPort
from bot.core.settings import NoSettings, Section
from governance.audit.keys import AuditKey
from governance.clock import Clock
from governance.db import Database
from governance.durations import parse_duration

JOB_ATTR = "__roadie_job__"
GITHUB_ATTR = "__roadie_github__"
JOIN_ATTR = "__roadie_member_join__"
COMPLETER_ATTR = "__roadie_completer__"


@dataclass(frozen=True)
class Job:
    """A scheduled job: every `every`, or daily at `daily_at` in `timezone`."""

    name: str
    run: Callable[[], Awaitable[None]]
    every: timedelta | None = None
    daily_at: time | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Feed:
    """Where a set of repositories is announced, with the filters of its `[[feeds]]` table.

    Empty filters let everything through; `labels` are all required.
    """

    repos: tuple[str, ...]
    destination: str
    events: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    ignore_bots: bool = True
    ignore_private: bool = False

    def covers(self, repo: str) -> bool:
        return any(fnmatch.fnmatchcase(repo.lower(), p.lower()) for p in self.repos)


@dataclass
class Destinations:
    """Logical destinations and which one is a project's feed."""

    names: frozenset[str]
    feeds: tuple[Feed, ...] = ()
    fallback_feed: str = "admins"

    def for_project(self, project: str) -> str:
        """The feed destination of a project: the first feed whose patterns match it."""
        for feed in self.feeds:
            if feed.covers(project):
                return feed.destination
        return self.fallback_feed


@dataclass(frozen=True)
class PageLinks:
    """Addresses on the public pages (`[web] base_url`), for links in notices; every address
    is empty when the pages are off or have no public address."""

    base_url: str = ""

    def to(self, page: str, anchor: str = "") -> str:
        if not self.base_url:
            return ""
        return f"{self.base_url}/{page}" + (f"#{anchor}" if anchor else "")


@dataclass
class CogContext:
    """What every cog may use. Cogs reach the outside only through these."""

    db: Database
    clock: Clock
    outbox: Outbox
    destinations: Destinations
    org: str
    bot_login: str
    github: GitHubPort | None = None
    chat: Mapping[str, ChatPort] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("roadie"))
    cogs: Sequence[Cog] = ()
    """Every loaded cog, set by the runtime once all exist (for `digest_sections`)."""
    pages: PageLinks = field(default_factory=PageLinks)
    audit_key: AuditKey | None = None
    """Signs checkpoints and seals secret ballots; None when no key is configured."""


@dataclass(frozen=True)
class DigestSection:
    """A part of the daily digest that a capability contributes: a title and its lines."""

    title: str
    lines: tuple[str, ...]
    order: int = 100


GitHubHandler = Callable[[GitHubEvent], Awaitable[bool]]
JoinHandler = Callable[[MemberJoined], Awaitable[None]]
Completer = Callable[[str], Awaitable[list[tuple[str, str]]]]


class Cog:
    name: ClassVar[str] = ""
    section: ClassVar[str] = ""
    Settings: ClassVar[type[Section]] = NoSettings

    def __init__(self, ctx: CogContext, settings: Any) -> None:
        self.ctx = ctx
        self.settings = settings
        self.log = ctx.log.getChild(self.name)

    @classmethod
    def config_section(cls) -> str:
        return cls.section or cls.name

    async def start(self) -> None:
        """Called once after wiring, before transports connect."""

    async def stop(self) -> None:
        """Called at shutdown."""

    async def settle(self) -> None:
        """Wait until work the cog put off for a moment (to do it once for many) is done."""

    def commands(self) -> list[CommandSpec]:
        return bound_specs(self, self.name)

    def digest_sections(self, session: Session, *, now: datetime,
                        since: datetime) -> list[DigestSection]:
        """What this capability has to say in the daily digest (empty sections are left out).

        `since` is the start of the period the digest covers (a day before `now`).
        """
        return []

    def jobs(self) -> list[Job]:
        jobs = []
        for attr, (every, daily_at) in self._marked(JOB_ATTR):
            jobs.append(Job(f"{self.name}.{attr}", getattr(self, attr), every, daily_at))
        return jobs

    def github_handlers(self) -> dict[str, list[GitHubHandler]]:
        handlers: dict[str, list[GitHubHandler]] = {}
        for attr, events in self._marked(GITHUB_ATTR):
            for name in events:
                handlers.setdefault(name, []).append(getattr(self, attr))
        return handlers

    def join_handlers(self) -> list[JoinHandler]:
        return [getattr(self, attr) for attr, _ in self._marked(JOIN_ATTR)]

    def completers(self) -> dict[str, Completer]:
        return {source: getattr(self, attr) for attr, source in self._marked(COMPLETER_ATTR)}

    def _marked(self, marker: str) -> list[tuple[str, Any]]:
        found = []
        for attr in dir(type(self)):
            value = getattr(getattr(type(self), attr, None), marker, None)
            if value is not None:
                found.append((attr, value))
        return found


def every(interval: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the method every `interval` (a duration such as "30s")."""
    delta = parse_duration(interval)

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, JOB_ATTR, (delta, None))
        return func

    return mark


def on_github(*events: str) -> Callable[[GitHubHandler], GitHubHandler]:
    """Handle webhook deliveries of these events. Return True when the event was acted on."""

    def mark(func: GitHubHandler) -> GitHubHandler:
        setattr(func, GITHUB_ATTR, events)
        return func

    return mark


def on_member_join(func: JoinHandler) -> JoinHandler:
    setattr(func, JOIN_ATTR, True)
    return func


def completer(source: str) -> Callable[[Completer], Completer]:
    """Offer (label, value) suggestions for parameters declared with `autocomplete=source`."""

    def mark(func: Completer) -> Completer:
        setattr(func, COMPLETER_ATTR, source)
        return func

    return mark
