"""Loopback end-to-end tests: one Roadie process serving Discord, Zulip and the GitHub webhook
server, with the real discord.py, zulip and PyGithub clients talking to local fakes.

Nothing is mocked: the fakes (tests/fakes/discord.py, zulip.py, github.py) are HTTP and
websocket servers on 127.0.0.1, and only base URLs point the clients at them
(`discord.http.Route.BASE`, `DiscordWebSocket.DEFAULT_GATEWAY`, the Zulip `site`, the GitHub
`api_url`). Roadie is built from a config the way `roadie run` builds it (its transports come
from `build_transports`), on SQLite and on PostgreSQL, with a `FakeClock`.

Fixtures
--------
`world`: a started `World` (tests/e2e/harness.py) with the default cogs. Every destination
(admins, moderators, modlog, digest, feed) maps to a Discord channel of its own and to the
Zulip stream `governance`, topic = the destination's name. Streams `general` and
`governance` exist; the bot is subscribed to both.

`make_world`: for a capability's own tests, start a world with more config merged in::

    async def test_vote_on_discord(make_world):
        async with make_world({"bot": {"cogs": [..., "cogs.voting"]},
                               "voting": {"period": "3d"}}) as world:
            ...

`make_world(config, zulip_realm={"edit_limit_seconds": 2})`: the fake Zulip realm with other
rules (an edit window, `max_message_length`, `max_topic_length`; see tests/fakes/zulip.py).

`tests/e2e/probe_cog.py` is a cog for tests: `make_world(probe_cog.CONFIG)` loads it, and
`probe_cog.probe_of(world.roadie)` finds it. It records member joins (`.joined`), has a
command that answers only when released (`/probe wait public|private`, `.release`), and posts
GitHub's `ping` event to the feed.

What a World offers
-------------------
- `world.roadie`, `world.clock` (a FakeClock), `world.discord` (FakeDiscord), `world.zulip`
  (FakeZulip), `world.github` (FakeGitHub), `world.discord_transport`,
  `world.zulip_transport`; `world.channels[destination]` (Discord channel id),
  `world.topics[destination]` (Zulip stream, topic).
- People: `alice = world.discord_user("alice")`, `ann = world.zulip_user("Ann Lee")`;
  joining now (a member-join event): `await world.discord.join("eve")`,
  `await world.zulip.join("Eve")`. A Discord account's age comes from its id: pass
  `created_at=world.clock.now() - timedelta(hours=5)` to either Discord call.
- Linking (as people do it, through `/link` and a GitHub comment webhook):
  `await world.link("alice", discord=alice, zulip=ann)`.
- Commands on Discord: `answer = await world.discord.slash(alice, "grant", login="bob",
  role="admin")` builds the interaction from the commands Roadie synced (nested groups,
  typed options; pass a `DiscordUser` for a user option, or for a mention in a string
  option) and returns the `Answer` (`.text`, `.ephemeral`, `.buttons`).
  `await world.discord.autocomplete(alice, "grant", "project", ...)`. Buttons:
  `await world.discord.click(alice, message, "Yes")`.
- Commands on Zulip: `reply = await world.zulip.command(ann, "/whoami", stream="general",
  topic="chat")` (in a stream topic) or `world.zulip.command(ann, "whoami")` (a direct
  message); the reply is the bot's next message there or in a PM to `ann`. Reactions:
  `await world.zulip.react(ann, message_id, "one")`.
- GitHub: `await world.webhook("issues", payload)` posts a signed delivery to Roadie's webhook
  server and waits until it is handled; `world.github` holds the org state (blocks, members,
  issues).
- Notices: `await world.post("admins", Message(...))` queues one as a cog would;
  `world.on_discord("admins")` and `world.on_zulip("admins")` are the texts that arrived.
  `world.discord.messages_in(channel_id)` and `world.zulip.messages_in(stream, topic)` give
  the raw messages (with embeds, components, reactions).
- Time: `await world.advance(seconds)` moves the clock, runs the scheduled jobs that had a
  tick meanwhile (reminders, sweeps) and waits, so retries and reminders come due;
  `await world.settle()` waits for webhooks and the outbox.
- Failures: `world.discord.fail_api("POST", f"/channels/{id}/messages", status=503)`,
  `world.discord.rate_limit(..., retry_after=0.05)`, `await world.discord.drop()` (the
  gateway dies; the bot resumes and gets the missed events), `world.zulip.fail_api(...)`,
  `world.zulip.rate_limit(...)`, `world.zulip.expire_queues()`. Discord's gateway:
  `await world.discord.request_reconnect()` (op 7), `invalidate_session()` (op 9),
  `close_gateway(4004)`; `world.discord.application_flags = 0` (the Server Members intent
  off, so an IDENTIFY asking for it is closed with 4014).
- The fakes keep the services' rules: Discord refuses content, embeds and components over
  its limits (400, 50035), refuses answers to an interaction after 3 s
  (`world.discord.interaction_deadline`; `FakeInteraction.refusals` lists what it refused),
  and rate-limits per route and globally (`world.discord.rate_limits`); Zulip's realm has an
  edit window, truncates long content and topics, and rate-limits (see the fakes' docstrings).
  Every exchange is checked against the services' descriptions (tests/fakes/contract.py).
- `await world.restart()`: a new Roadie process on the same database and fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from governance.db import Database
from tests.e2e.harness import World, running_world

MakeWorld = Callable[..., AbstractAsyncContextManager[World]]


@pytest.fixture
def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database) -> MakeWorld:
    def make(config: dict[str, Any] | None = None, *,
             zulip_realm: dict[str, Any] | None = None) -> AbstractAsyncContextManager[World]:
        return running_world(tmp_path, monkeypatch, db, config=config, zulip_realm=zulip_realm)
    return make


@pytest.fixture
async def world(make_world: MakeWorld) -> AsyncIterator[World]:
    async with make_world() as started:
        yield started
