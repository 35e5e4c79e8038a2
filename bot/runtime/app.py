"""Roadie, wired: database, cogs, commands, outbox, webhooks, scheduler, server, transports."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import RoadieConfig
from bot.core.cog import Cog, CogContext, Destinations, Feed, Job, PageLinks
from bot.core.commands import CommandRegistry, bound_specs
from bot.core.events import MemberJoined
from bot.core.messages import Reply
from bot.core.outbox import Outbox, outbox_scope
from bot.core.ports import GitHubPort
from bot.runtime.builtin import Builtins
from bot.runtime.dispatcher import Dispatcher, Speaker
from bot.runtime.health import Readiness
from bot.runtime.instance import InstanceName
from bot.runtime.loader import load_cog_settings
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import Scheduler
from bot.runtime.sender import OutboxSender
from bot.runtime.server import Server, build_app
from bot.runtime.webhooks import WebhookReceiver, WebhookWorker
from bot.transports.base import Transport
from governance.audit import Actor
from governance.clock import Clock, SystemClock
from governance.db import Database, serialize
from governance.migrate import schema_state, upgrade
from governance.outbox import service as outbox_rows
from governance.people.roles import Role
from governance.people.service import sync_config_roles
from governance.projects.service import register_project

log = logging.getLogger("roadie")


class StartupError(Exception):
    """Roadie cannot start; the message says what to do."""


RELOADABLE = {"people", "projects", "bot"}
"""The sections SIGHUP applies; of [bot], only the log settings (`_restart_needed`)."""


def database_problem(url: str, error: BaseException) -> str:
    """One line: which database could not be opened, why, and where to fix it."""
    parsed = make_url(url)
    reason = str(getattr(error, "orig", None) or getattr(error, "strerror", None) or error)
    reason = reason.strip().splitlines()[0] if reason.strip() else type(error).__name__
    if parsed.get_backend_name() == "sqlite":
        return (f"cannot open the SQLite database {parsed.database}: {reason}; check "
                "[database] url, that its directory exists and that this user may write there")
    return (f"cannot open the database {parsed.render_as_string(hide_password=True)}: "
            f"{reason}; check [database] url (or url_env/url_file) and that the server runs")


def _restart_needed(old: RoadieConfig, new: RoadieConfig) -> list[str]:
    """The sections that changed but only take effect after a restart."""
    logs = {"log_level", "log_format", "log_levels"}
    changed = [name for name in sorted(set(type(old).model_fields) | set(old.cog_sections)
                                       | set(new.cog_sections))
               if name not in RELOADABLE and _section(old, name) != _section(new, name)]
    if old.bot.model_dump(exclude=logs) != new.bot.model_dump(exclude=logs):
        changed.insert(0, "bot")
    return changed


def _section(config: RoadieConfig, name: str) -> Any:
    value = getattr(config, name, None) if name in type(config).model_fields else \
        config.cog_sections.get(name)
    return value.model_dump() if hasattr(value, "model_dump") else value


def build_transports(config: RoadieConfig) -> list[Transport]:
    transports: list[Transport] = []
    if config.console_enabled:
        from bot.transports.console import ConsoleTransport

        transports.append(ConsoleTransport(config.destinations))
    if config.discord.enabled:
        from bot.transports.discord import DiscordTransport

        transports.append(DiscordTransport(
            token=config.discord.token.value() or "", guild_id=config.discord.guild_id,
            channels={name: d.discord_channel for name, d in config.destinations.items()}))
    if config.zulip.enabled:
        from bot.transports.zulip import ZulipTransport

        transports.append(ZulipTransport(
            site=config.zulip.site, email=config.zulip.email,
            api_key=config.zulip.api_key.value() or "", name=config.bot.name,
            streams={name: (d.zulip_stream, d.zulip_topic or name)
                     for name, d in config.destinations.items() if d.zulip_stream}))
    return transports


def build_github(config: RoadieConfig) -> GitHubPort | None:
    from bot.github.app import github_auth
    from bot.github.client import PyGithubPort

    auth = github_auth(config)
    if auth is None:
        return None
    return PyGithubPort(org=config.bot.org, auth=auth, api_url=config.github.api_url)


class Roadie:
    def __init__(self, config: RoadieConfig, *, clock: Clock | None = None,
                 transports: Sequence[Transport] | None = None,
                 github: GitHubPort | None = None, db: Database | None = None,
                 instance: str | None = None, use_config_github: bool = True) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self._name = InstanceName(instance or config.instance_name)
        self.instance = self._name.name
        try:
            self.db = db or Database(config.database_url)
        except OSError as error:  # the SQLite file's directory cannot be made
            raise StartupError(database_problem(config.database_url, error)) from None
        self.metrics = Metrics()
        self.transports = list(build_transports(config) if transports is None else transports)
        self.ports = {t.platform: t for t in self.transports}
        self.github = github if github is not None or not use_config_github else build_github(
            config)
        self.sender = OutboxSender(self.db, self.clock, self.ports, config.outbox, self.metrics,
                                   self.instance)
        self.metrics.watch_outbox(self._outbox_depth, list(self.ports))
        self.outbox = Outbox(self.clock, self._platforms_for, wake=self.sender.wake)
        self.destinations = Destinations(
            frozenset(config.destinations),
            tuple(Feed(tuple(f.repos), f.destination, events=tuple(f.events),
                       actions=tuple(f.actions), branches=tuple(f.branches),
                       labels=tuple(f.labels), ignore_bots=f.ignore_bots,
                       ignore_private=f.ignore_private) for f in config.feeds))
        self.context = CogContext(db=self.db, clock=self.clock, outbox=self.outbox,
                                  destinations=self.destinations, org=config.bot.org,
                                  bot_login=config.bot.github_login, github=self.github,
                                  chat=self.ports, log=log, audit_key=config.audit_key(),
                                  pages=PageLinks(config.web.base_url if config.web.enabled
                                                  else ""))
        self.cogs: list[Cog] = [cls(self.context, settings)
                                for cls, settings in load_cog_settings(config)]
        self.context.cogs = tuple(self.cogs)
        self.registry = CommandRegistry()
        for spec in bound_specs(Builtins(self.registry), "builtin"):
            self.registry.add(spec)
        for cog in self.cogs:
            for spec in cog.commands():
                self.registry.add(spec)
        for transport in self.transports:
            for spec in transport.commands():
                self.registry.add(spec)
        self.dispatcher = Dispatcher(self.db, self.clock, self.registry, self.metrics)
        self.webhook_worker = WebhookWorker(self.db, self.clock, self.metrics,
                                            self._github_handlers(), self.instance,
                                            only_org=config.github.org,
                                            also_accept=tuple(config.github.also_accept))
        self.jobs: list[Job] = [job for cog in self.cogs for job in cog.jobs()]
        self.scheduler = Scheduler(self.db, self.clock, self.jobs, self.metrics,
                                   holder=self.instance, lease_ttl=config.scheduler.lease_ttl)
        self.receiver = self._receiver()
        if self.receiver is not None:  # acknowledging deliveries goes first
            self.webhook_worker.between = self.sender.between = self.receiver.quiet
            self.db.gate = self.receiver.database_gate
        self.readiness = Readiness(self.db, self.transports, self.github)
        self.server = Server(
            build_app(self.db, self.metrics, receiver=self.receiver,
                      webhook_path=config.github.webhook_path, max_body=config.github.max_body,
                      status={"instance": self.instance}, readiness=self.readiness.check),
            config.server.host, config.server.port, metrics=self.metrics,
            idle_timeout=config.server.idle_timeout.total_seconds(),
            max_connections=config.server.max_connections) if config.server.enabled else None
        if self.server is not None and config.web.enabled:
            from bot.web.site import mount_for
            mount_for(self.server.app, config, db=self.db, clock=self.clock,
                      destinations=self.destinations)
        self._completers = {source: func for cog in self.cogs
                            for source, func in cog.completers().items()}
        self._started = False

    # --- wiring helpers -----------------------------------------------------------------

    def _platforms_for(self, destination: str) -> list[str]:
        return [name for name, port in self.ports.items() if port.place_for(destination)]

    def _outbox_depth(self) -> dict[tuple[str, str], int]:
        with self.db.transaction() as session:
            return outbox_rows.depth(session)

    def _github_handlers(self) -> dict[str, list[tuple[str, Any]]]:
        handlers: dict[str, list[tuple[str, Any]]] = {}
        for cog in self.cogs:
            for event, funcs in cog.github_handlers().items():
                for func in funcs:
                    handlers.setdefault(event, []).append((f"{cog.name}.{func.__name__}", func))
        return handlers

    def _receiver(self) -> WebhookReceiver | None:
        secret = self.config.github.webhook_secret.value()
        if secret is None and not self.config.github.insecure_allow_unsigned_webhooks:
            return None
        return WebhookReceiver(self.db, self.clock, self.metrics,
                               secret=secret.encode() if secret else None,
                               max_body=self.config.github.max_body,
                               body_memory=self.config.github.body_memory,
                               read_timeout=self.config.github.read_timeout.total_seconds(),
                               on_stored=self.webhook_worker.wake)

    # --- life cycle ---------------------------------------------------------------------

    def prepare_database(self) -> None:
        """Bring the schema up to date (SQLite) or refuse a stale one (PostgreSQL); seed."""
        state = schema_state(self.db)
        if not state.up_to_date:
            if not self.db.is_sqlite:
                current = ", ".join(sorted(state.current)) or "empty"
                raise StartupError(
                    f"The database schema is behind the code ({current} vs "
                    f"{', '.join(sorted(state.heads))}). Run `roadie db upgrade --config "
                    "<your config>` first, from one replica.")
            upgrade(self.db)
        self.seed()

    def seed(self) -> None:
        people = self.config.people
        now = self.clock.now()
        with self.db.transaction() as session:
            serialize(session, "roadie.seed")  # replicas starting together seed one at a time
            sync_config_roles(session, {Role.ADMIN: people.admins,
                                        Role.MODERATOR: people.moderators,
                                        Role.MEMBER: people.members}, now)
            for name in self.config.projects.names:
                register_project(session, name=name, now=now, actor=Actor.system(),
                                 source="config", reason="listed in the config")

    def reload(self, config: RoadieConfig) -> list[str]:
        """Apply a changed config's seeded people, roles and projects; answer what was done
        and which changed sections need a restart."""
        old, self.config = self.config, config
        self.seed()
        people = config.people
        done = [f"people and roles seeded again ({len(people.admins)} admin(s), "
                f"{len(people.moderators)} moderator(s), {len(people.members)} member(s)), "
                f"{len(config.projects.names)} project(s) registered"]
        restart = _restart_needed(old, config)
        if restart:
            done.append(f"changed, applied at the next restart: {', '.join(restart)}")
        return done

    async def start(self, before_serving: Callable[[], None] | None = None) -> None:
        """Start everything. `before_serving` is called once all is ready but the server
        does not yet accept requests (`roadie run` sets the garbage collector up there)."""
        try:
            await asyncio.to_thread(self.prepare_database)
        except SQLAlchemyError as error:
            raise StartupError(database_problem(self.db.url, error)) from None
        self.db.checkpoint_in_background()
        for cog in self.cogs:
            await cog.start()
        self.sender.start()
        self.webhook_worker.start()
        self.scheduler.start()
        if before_serving is not None:
            before_serving()
        if self.server is not None:
            try:
                await self.server.start()
            except OSError as error:
                reason = os.strerror(error.errno).lower() if error.errno else str(error)
                raise StartupError(
                    f"cannot listen on {self.config.server.bind}: "
                    f"{reason}; another process may have the port: change "
                    "[server] bind (or stop the other process)") from None
        if self.receiver is None:
            # Expected when trying Roadie on the console; a real deployment needs webhooks.
            level = logging.WARNING if self.config.chat_platforms else logging.INFO
            log.log(level, "the GitHub webhook receiver is off: set %s (or "
                        "github.insecure_allow_unsigned_webhooks for development)",
                        self.config.github.webhook_secret.source())
        for transport in self.transports:
            await transport.start(self)
        self._started = True
        web = (f"http://{self.server.host}:{self.server.port}" if self.server is not None
               else "off")
        log.info("Roadie is up as %s: platforms %s, %d cogs, %d commands, %d jobs, web server "
                 "%s", self.instance, ", ".join(self.ports) or "none", len(self.cogs),
                 len(self.registry), len(self.jobs), web)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.receiver is not None:
            await self.receiver.close()
            if self.db.gate == self.receiver.database_gate:
                self.db.gate = None
        await self.scheduler.stop()
        await self.webhook_worker.stop()
        await self.sender.stop()  # before the transports, so that nothing is sent to them
        for transport in reversed(self.transports):
            await transport.stop()
        for cog in reversed(self.cogs):
            await cog.stop()
        await asyncio.to_thread(self.db.dispose)
        self._name.release()

    # --- the Hub, as transports see it --------------------------------------------------

    async def run_text(self, speaker: Speaker, text: str) -> Reply:
        return await self.dispatcher.run_text(speaker, text)

    async def run_values(self, speaker: Speaker, path: tuple[str, ...],
                         raw: dict[str, Any]) -> Reply:
        return await self.dispatcher.run_values(speaker, path, raw)

    async def member_joined(self, joined: MemberJoined) -> None:
        for cog in self.cogs:
            for handler in cog.join_handlers():
                try:
                    with outbox_scope(f"join:{joined.platform}:{joined.user_id}:"
                                      f"{joined.joined_at.isoformat()}:{cog.name}"):
                        await handler(joined)
                except Exception:
                    log.exception("%s: member-join handler failed for %s:%s", cog.name,
                                  joined.platform, joined.user_id)

    async def complete(self, source: str, prefix: str) -> list[tuple[str, str]]:
        completer = self._completers.get(source)
        if completer is None:
            return []
        try:
            return (await completer(prefix))[:25]
        except Exception:
            log.exception("autocomplete %s failed", source)
            return []

    async def settle(self) -> None:
        # Generous bounds: each returns as soon as nothing is left to do.
        await self.webhook_worker.drain(timeout=10.0)
        for cog in self.cogs:
            await cog.settle()
        await self.sender.drain(timeout=10.0)
