"""One Roadie serving Discord, Zulip and GitHub webhooks, against the fakes, on loopback.

See tests/e2e/conftest.py for how to use it.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import discord.gateway
import discord.http
import pytest
import yarl
from sqlmodel import Session

from bot.core.cog import Job
from bot.core.messages import Message
from bot.github.client import PyGithubPort
from bot.runtime.app import Roadie
from bot.runtime.scheduler import tick_of, trigger_for
from bot.runtime.webhooks import signature_for
from bot.transports.discord import DiscordTransport
from bot.transports.zulip import ZulipTransport
from cogs.voting.cog import VotingCog
from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.people.roles import Role
from governance.people.service import grant_role, link_directly
from governance.votes import service as votes
from governance.votes.models import DISPUTE
from governance.votes.rules import Rules
from tests.fakes.discord import DiscordUser, FakeDiscord, text_of
from tests.fakes.github import FakeGitHub
from tests.fakes.zulip import FakeZulip, ZulipUser
from tests.support import DESTINATIONS, deep_merge, make_config

WEBHOOK_SECRET = "e2e-webhook-secret"
LINK_CODE = re.compile(r"roadie-link-[A-Z2-9]{8}")
ORG = "jazzband"


@dataclass
class World:
    """A running Roadie and the fakes it talks to, with helpers to act as people."""

    roadie: Roadie
    discord: FakeDiscord
    zulip: FakeZulip
    github: FakeGitHub
    clock: FakeClock
    channels: dict[str, str]
    """destination -> Discord channel id"""
    topics: dict[str, tuple[str, str]]
    """destination -> (Zulip stream, topic)"""
    _deliveries: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- the parts ----------------------------------------------------------------------

    @property
    def discord_transport(self) -> DiscordTransport:
        return next(t for t in self.roadie.transports if isinstance(t, DiscordTransport))

    @property
    def zulip_transport(self) -> ZulipTransport:
        return next(t for t in self.roadie.transports if isinstance(t, ZulipTransport))

    # --- people -------------------------------------------------------------------------

    def discord_user(self, name: str, *, created_at: datetime | None = None) -> DiscordUser:
        """Someone in the Discord guild (no join event: they were there already), whose
        account was made at `created_at` (by default: now, in real time)."""
        return self.discord.add_user(name, created_at=created_at)

    def zulip_user(self, name: str) -> ZulipUser:
        return self.zulip.add_user(name)

    async def link(self, login: str, *, discord: DiscordUser | None = None,
                   zulip: ZulipUser | None = None) -> None:
        """Link chat accounts to a GitHub login the way people do: `/link <login>` on each
        platform, then a GitHub comment by that login quoting the codes."""
        codes = []
        if discord is not None:
            answer = await self.discord.slash(discord, "link start", login=login)
            codes += LINK_CODE.findall(answer.text)
        if zulip is not None:
            reply = await self.zulip.command(zulip, f"/link {login}")
            codes += LINK_CODE.findall(reply["content"])
        assert codes, "no link code was given"
        await self.webhook("issue_comment", {
            "action": "created", "comment": {"body": "linking: " + " ".join(codes),
                                             "user": {"login": login}},
            "issue": {"number": 1, "title": "link"},
            "repository": {"name": "roadie-links", "full_name": f"{ORG}/roadie-links"},
            "sender": {"login": login}})

    async def restart(self) -> None:
        """Stop Roadie and start a new one (new transports, new connections) on the same
        database, config and fakes."""
        await self.roadie.stop()
        self.roadie = Roadie(self.roadie.config, db=Database(self.roadie.db.url),
                             clock=self.clock, github=_github_port(self.github),
                             use_config_github=False)
        await self.roadie.start()

    # --- GitHub -------------------------------------------------------------------------

    async def webhook(self, event: str, payload: dict[str, Any], *,
                      delivery: str | None = None) -> int:
        """POST a signed GitHub delivery to Roadie's webhook server; wait until handled."""
        assert self.roadie.server is not None
        body = json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "Content-Type": "application/json",
                   "X-GitHub-Delivery": delivery or f"e2e-{next(self._deliveries)}-{uuid.uuid4()}",
                   "X-Hub-Signature-256": signature_for(WEBHOOK_SECRET.encode(), body)}
        url = (f"http://127.0.0.1:{self.roadie.server.port}"
               f"{self.roadie.config.github.webhook_path}")
        async with aiohttp.ClientSession() as session, session.post(
                url, data=body, headers=headers) as response:
            status = response.status
        await self.settle()
        return status

    # --- time and the outbox ------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until stored webhooks are handled and due messages are sent."""
        await self.roadie.settle()

    async def advance(self, seconds: float) -> None:
        """Move Roadie's clock on, run once each scheduled job that had a tick meanwhile (as
        the scheduler would have: reminders, sweeps and retries come due), then settle."""
        since = self.clock.advance(timedelta(seconds=seconds)) - timedelta(seconds=seconds)
        await self.run_due_jobs(since)
        await self.settle()

    async def run_due_jobs(self, since: datetime) -> list[str]:
        """Run the jobs with a tick after `since`, up to now on Roadie's clock; their names.

        The scheduler fires jobs in real time, which a FakeClock does not follow; the lease
        is renewed first, since jumping the clock lets it run out.
        """
        scheduler, now = self.roadie.scheduler, self.clock.now()
        await scheduler.renew_lease()
        ran = []
        for job in self.roadie.jobs:
            if _came_due(job, since, now) and await scheduler.run_job(job):
                ran.append(job.name)
        return ran

    async def post(self, destination: str, message: Message, *, key: str | None = None) -> str:
        """Queue a message to a destination as a cog would; return its outbox key."""
        posted = await self.roadie.db.run(
            lambda session: self.roadie.outbox.post(session, destination, message, key=key))
        await self.settle()
        return posted

    async def discord_members(self, count: int) -> list[tuple[DiscordUser, str]]:
        """`count` members on Discord, each linked to a GitHub login: (user, login) pairs,
        `Member 000` as member000 and so on."""
        members = [(self.discord_user(f"Member {i:03d}"), f"member{i:03d}")
                   for i in range(count)]
        now = self.clock.now()

        def link_all(session: Session) -> None:
            for user, login in members:
                link_directly(session, actor=Actor.system(), platform="discord",
                              user_id=user.id, display_name=user.name, login=login, now=now)
                grant_role(session, actor=Actor.system(), login=login, role=Role.MEMBER,
                           now=now)

        await self.roadie.db.run(link_all)
        return members

    async def open_dispute(self, *, proposer: str, electorate: Sequence[str],
                           rules: Rules) -> tuple[int, dict[str, Any]]:
        """Open a direct-push dispute on django-sample, as `/dispute` would, and wait for its
        status with the ballot buttons in the feed: (its number, that Discord message)."""
        now = self.clock.now()
        cog = next(c for c in self.roadie.cogs if isinstance(c, VotingCog))

        def open_with_status(session: Session) -> int:
            vote = votes.open_vote(session, votes.Proposal(
                kind=DISPUTE, project="django-sample", subject="9f8e7d6c5b4a",
                reason="pushed without review", proposer=proposer, rules=rules,
                electorate=tuple(electorate)), now=now, accept_within=timedelta(days=7),
                remind_before=timedelta(hours=24))
            cog._show_status(session, vote, now, first=True)
            assert vote.number is not None
            return vote.number

        number = await self.roadie.db.run(open_with_status)
        await self.settle()
        status = next(m for m in reversed(self.discord.messages_in(self.channels["feed"]))
                      if text_of(m).startswith(f"Vote #{number}"))
        return number, status

    # --- what arrived -------------------------------------------------------------------

    def on_discord(self, destination: str) -> list[str]:
        """The texts in a destination's Discord channel."""
        return [text_of(m) for m in self.discord.messages_in(self.channels[destination])]

    def on_zulip(self, destination: str) -> list[str]:
        """The texts in a destination's Zulip stream topic."""
        stream, topic = self.topics[destination]
        return [m["content"] for m in self.zulip.messages_in(stream, topic)]


def _came_due(job: Job, since: datetime, now: datetime) -> bool:
    if job.every is not None:
        return tick_of(job, now) > tick_of(job, since)
    fire = trigger_for(job).get_next_fire_time(None, since + timedelta(microseconds=1))
    return fire is not None and fire <= now


def _github_port(fake: FakeGitHub) -> PyGithubPort:
    return PyGithubPort(org=ORG, token="e2e-token", api_url=fake.url, throttle=False)


def _wire(discord: FakeDiscord, zulip: FakeZulip,
          destinations: tuple[str, ...]) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    channels = {name: discord.add_channel(name) for name in destinations}
    zulip.add_stream("general")
    zulip.add_stream("governance")
    topics = {name: ("governance", name) for name in destinations}
    return channels, topics


@asynccontextmanager
async def running_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database, *,
                        config: dict[str, Any] | None = None,
                        destinations: tuple[str, ...] = DESTINATIONS,
                        zulip_realm: dict[str, Any] | None = None) -> AsyncIterator[World]:
    """Start the fakes and a Roadie wired to them; stop everything at the end.
    `zulip_realm` sets the fake Zulip's rules (`edit_limit_seconds`, `max_topic_length`...)."""
    fake_discord, fake_zulip = FakeDiscord(), FakeZulip(**(zulip_realm or {}))
    fake_github = FakeGitHub(ORG)
    for fake in (fake_discord, fake_zulip, fake_github):
        await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake_discord.rest_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                        yarl.URL(fake_discord.gateway_url))
    monkeypatch.setenv("ROADIE_DISCORD_TOKEN", fake_discord.token)
    monkeypatch.setenv("ROADIE_ZULIP_API_KEY", fake_zulip.api_key)
    monkeypatch.setenv("ROADIE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    channels, topics = _wire(fake_discord, fake_zulip, destinations)
    wiring = {
        "discord": {"enabled": True, "guild_id": fake_discord.guild_id},
        "zulip": {"enabled": True, "site": fake_zulip.url, "email": fake_zulip.bot.email},
        "github": {"api_url": fake_github.url},
        "destinations": {name: {"discord_channel": channels[name],
                                "zulip_stream": topics[name][0], "zulip_topic": topics[name][1]}
                         for name in destinations}}
    settings = make_config(tmp_path, deep_merge(wiring, config or {}))
    clock = FakeClock()
    roadie = Roadie(settings, db=db, clock=clock, github=_github_port(fake_github),
                    use_config_github=False)
    world = World(roadie, fake_discord, fake_zulip, fake_github, clock, channels, topics)
    try:
        await roadie.start()
        yield world
    finally:
        await world.roadie.stop()
        for fake in (fake_discord, fake_zulip, fake_github):
            await fake.stop()
