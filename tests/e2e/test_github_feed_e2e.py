"""The GitHub feed end to end: signed deliveries (GitHub's own example payloads) posted to
Roadie's webhook server reach the project's Discord channel and its Zulip stream, rendered
as people see them there; a direct push to the default branch carries the dispute choice."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.transports.discord.render import custom_id_for
from governance.db import Database
from tests.e2e.harness import World, running_world
from tests.fakes.discord import buttons_of, text_of
from tests.support import DESTINATIONS, github_payload

PROJECT_FEED = "hello-world"
STREAM = "hello-world"
CONFIG = {
    "projects": {"names": ["django-sample", "Hello-World"]},
    # The project's own feed first (so also its feed for alerts); releases of every
    # repository to the general feed.
    "feeds": [{"repos": ["Hello-World"], "destination": PROJECT_FEED},
              {"repos": ["*"], "destination": "feed", "events": ["release"]}],
    "destinations": {PROJECT_FEED: {"zulip_stream": STREAM}},
}
HEAD = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
PUSHED = "Codertocat pushed 1 commit to `master` in Hello-World"
DIRECT = ("⚠️ Direct push: Codertocat pushed to the default branch `master` without a merged "
          "pull request.")
COMMIT = "- `6113728` Initial commit (Codertocat)"
DISPUTE = f"dispute Hello-World {HEAD} Codertocat pushed to master without a merged pull request"


@asynccontextmanager
async def feed_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     db: Database) -> AsyncIterator[World]:
    """A world where the project Hello-World has a Discord channel and a Zulip stream of its
    own."""
    async with running_world(tmp_path, monkeypatch, db, config=CONFIG,
                             destinations=(*DESTINATIONS, PROJECT_FEED)) as world:
        world.zulip.add_stream(STREAM)
        yield world


def in_project_channel(world: World) -> list[dict[str, Any]]:
    return world.discord.messages_in(world.channels[PROJECT_FEED])


def push_to_master() -> dict[str, Any]:
    """GitHub's example push, made a push onto the existing default branch."""
    payload = copy.deepcopy(github_payload("push/with-new-branch"))
    payload.update(created=False, before="0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    return payload


async def test_an_opened_pull_request_reaches_the_project_s_channel_and_stream(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    async with feed_world(tmp_path, monkeypatch, db) as world:
        opened = github_payload("pull_request/opened")
        assert await world.webhook("pull_request", opened, delivery="pr-2-opened") == 202
        assert in_project_channel(world) == []  # gathered until the burst window closes
        await world.advance(11)

        [message] = in_project_channel(world)
        assert text_of(message) == (
            "Hello-World#2 Update the README with new information.\n"
            "**Codertocat** opened this pull request into `master`\n"
            "> This is a pretty simple change that we need to pull into master.")
        assert message["embeds"][0]["url"] == "https://github.com/Codertocat/Hello-World/pull/2"
        assert message["content"] == ""  # nobody is pinged
        assert buttons_of(message) == []
        [posted] = world.zulip.messages_in(STREAM)
        assert posted["subject"] == "Hello-World / #2 Update the README with new information."
        assert posted["content"] == (
            "**Hello-World#2 Update the README with new information.** "
            "(https://github.com/Codertocat/Hello-World/pull/2)\n"
            "**Codertocat** opened this pull request into `master`\n"
            "> This is a pretty simple change that we need to pull into master.")
        assert world.on_discord("feed") == []  # the general feed takes releases only
        assert world.zulip.messages_in("governance") == []

        # GitHub redelivers it (a timeout on its side): answered, not told again.
        assert await world.webhook("pull_request", opened, delivery="pr-2-opened") == 200
        await world.advance(11)
        assert len(in_project_channel(world)) == 1
        assert len(world.zulip.messages_in(STREAM)) == 1


async def test_a_direct_push_to_the_default_branch_offers_a_dispute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    async with feed_world(tmp_path, monkeypatch, db) as world:
        assert await world.webhook("push", push_to_master()) == 202

        [alert] = in_project_channel(world)
        assert text_of(alert) == f"{PUSHED}\n{DIRECT}\n{COMMIT}"
        [button] = buttons_of(alert)
        assert (button["label"], button["style"]) == ("Open a dispute", 4)  # danger: red
        assert button["custom_id"] == custom_id_for(DISPUTE)
        [posted] = world.zulip.messages_in(STREAM)
        assert posted["subject"] == "Hello-World / master"
        assert posted["content"].startswith(
            f"**{PUSHED}** (https://github.com/Codertocat/Hello-World/commit/{HEAD})\n"
            f"{DIRECT}\n{COMMIT}\n1. Open a dispute: `/{DISPUTE}`\n")


async def test_a_push_through_a_merged_pull_request_is_told_without_an_alert(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    async with feed_world(tmp_path, monkeypatch, db) as world:
        world.github.merged_pull("Hello-World", HEAD, 2)
        assert await world.webhook("push", push_to_master()) == 202
        await world.advance(11)  # an ordinary push is gathered with the others of its burst

        [message] = in_project_channel(world)
        assert text_of(message) == f"{PUSHED}\n{COMMIT}"
        assert buttons_of(message) == []
        [posted] = world.zulip.messages_in(STREAM)
        assert posted["content"] == (
            f"**{PUSHED}** (https://github.com/Codertocat/Hello-World/commit/{HEAD})\n{COMMIT}")
