"""The fakes refuse what the real services refuse and say what they say (the rules of
../shared/testdata/api-specs/README.md), asked directly over HTTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.contract import refusals_on_purpose
from tests.fakes.discord import FakeDiscord
from tests.fakes.zulip import FakeZulip


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    fake.add_channel("general")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def zulip_fake() -> AsyncIterator[FakeZulip]:
    fake = FakeZulip(edit_limit_seconds=1, max_message_length=100, max_topic_length=20)
    fake.add_stream("general")
    await fake.start()
    yield fake
    await fake.stop()


async def call(fake: FakeDiscord, method: str, path: str, body: Any = None
               ) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.request(
            method, fake.rest_base + path, json=body,
            headers={"Authorization": f"Bot {fake.token}"}) as response:
        data = await response.json() if response.status != 204 else None
        return response.status, data, dict(response.headers)


def buttons(*custom_ids: str) -> dict[str, Any]:
    return {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": c}
                                      for c in custom_ids]}


async def test_discord_refuses_messages_over_its_limits(discord_fake: FakeDiscord) -> None:
    path = f"/channels/{next(iter(discord_fake.channels))}/messages"
    discord_fake.rate_limits.limits["messages"] = (20, 1.0)  # refusals count, too
    too_much = {
        "content": {"content": "x" * 2001},
        "embeds": {"embeds": [{"title": "t", "description": "d" * 4000},
                              {"description": "d" * 2100}]},
        "embeds.0.title": {"embeds": [{"title": "t" * 257}]},
        "embeds.0.fields": {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
        "components.0.components.0.custom_id": {"components": [buttons("c" * 101)]},
        "components.0.components.1.custom_id": {"components": [buttons("a", "a")]},
        "components.0.components": {"components": [buttons(*"abcdef")]},
        "components": {"components": [buttons(str(n)) for n in range(6)]},
    }
    for where, body in too_much.items():
        with refusals_on_purpose() as made:
            status, error, _ = await call(discord_fake, "POST", path, body)
        assert (status, error["code"], error["message"]) == (400, 50035, "Invalid Form Body"), \
            where
        [exchange] = made
        assert exchange.response_valid, exchange.response_problems  # Discord's error shape
        tree = error["errors"]
        for part in where.split("."):
            tree = tree[part]
        assert tree["_errors"][0]["code"], where
    assert discord_fake.messages == []
    status, _, _ = await call(discord_fake, "POST", path, {
        "content": "x" * 2000, "components": [buttons(*"abcde")] * 1 + [buttons("f", "g")]})
    assert status == 200


async def test_discord_buckets_carry_their_headers_and_429(discord_fake: FakeDiscord) -> None:
    path = f"/channels/{next(iter(discord_fake.channels))}/messages"
    discord_fake.rate_limits.limits["messages"] = (2, 60.0)
    remaining = []
    for _ in range(2):
        status, _, headers = await call(discord_fake, "POST", path, {"content": "hi"})
        assert status == 200
        assert {"X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Reset-After",
                "X-RateLimit-Bucket"} <= set(headers)
        remaining.append(headers["X-RateLimit-Remaining"])
    assert remaining == ["1", "0"]
    status, error, headers = await call(discord_fake, "POST", path, {"content": "hi"})
    assert status == 429
    assert error["global"] is False
    assert 0 < error["retry_after"] <= 60
    assert headers["X-RateLimit-Scope"] == "user"
    assert len(discord_fake.messages) == 2

    discord_fake.rate_limits.global_limit = 1
    await asyncio.sleep(1.0)
    await call(discord_fake, "GET", "/users/@me")
    status, error, headers = await call(discord_fake, "GET", "/users/@me")
    assert (status, error["global"], headers["X-RateLimit-Scope"]) == (429, True, "global")


async def test_discord_interactions_have_a_deadline_and_one_answer(
        discord_fake: FakeDiscord) -> None:
    user = discord_fake.add_user("carol")
    discord_fake.commands = [{"id": "1", "name": "ping", "type": 1}]
    discord_fake.interaction_deadline = 0.2
    first = await discord_fake.dispatch_slash(user, "ping")
    callback = f"/interactions/{first.id}/{first.token}/callback?with_response=true"
    assert (await call(discord_fake, "POST", callback,
                       {"type": 4, "data": {"content": "pong"}}))[0] == 200
    status, error, _ = await call(discord_fake, "POST", callback, {"type": 4,
                                                                   "data": {"content": "again"}})
    assert (status, error["code"]) == (400, 40060)

    late = await discord_fake.dispatch_slash(user, "ping")
    await asyncio.sleep(0.3)
    status, error, _ = await call(discord_fake, "POST",
                                  f"/interactions/{late.id}/{late.token}/callback",
                                  {"type": 5})
    assert (status, error["code"], error["message"]) == (404, 10062, "Unknown interaction")

    discord_fake.token_lifetime = 0.2
    status, error, _ = await call(discord_fake, "POST",
                                  f"/webhooks/{discord_fake.app_id}/{first.token}",
                                  {"content": "follow-up"})
    assert (status, error["code"]) == (401, 50027)


async def zulip_call(fake: FakeZulip, method: str, path: str, data: dict[str, Any] | None = None
                     ) -> tuple[int, dict[str, Any], dict[str, str]]:
    auth = base64.b64encode(f"{fake.bot.email}:{fake.api_key}".encode()).decode()
    async with aiohttp.ClientSession() as session, session.request(
            method, f"{fake.url}/api/v1{path}", data=data,
            headers={"Authorization": f"Basic {auth}"}) as response:
        return response.status, await response.json(), dict(response.headers)


async def test_zulip_truncates_limits_edits_and_refuses_as_zulip_does(
        zulip_fake: FakeZulip) -> None:
    status, registered, headers = await zulip_call(zulip_fake, "POST", "/register", {
        "event_types": '["message"]', "fetch_event_types": '["realm"]'})
    assert (registered["max_message_length"], registered["max_topic_length"],
            registered["realm_message_content_edit_limit_seconds"]) == (100, 20, 1)
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers)

    status, sent, _ = await zulip_call(zulip_fake, "POST", "/messages", {
        "type": "stream", "to": "general", "topic": "t" * 30, "content": "c" * 150})
    assert status == 200
    [message] = zulip_fake.messages
    assert message["subject"] == "t" * 17 + "..."
    assert len(message["content"]) == 100
    assert message["content"].endswith("[message truncated]")

    edit = f"/messages/{sent['id']}"
    assert (await zulip_call(zulip_fake, "PATCH", edit, {"content": "new"}))[0] == 200
    await asyncio.sleep(1.1)
    status, error, _ = await zulip_call(zulip_fake, "PATCH", edit, {"content": "newer"})
    assert (status, error["msg"]) == (400, "The time limit for editing this message has past")
    assert message["content"] == "new"

    someone = zulip_fake.add_user("Ann Lee")
    theirs = await zulip_fake.say(someone, "mine", stream="general", topic="chat")
    status, error, _ = await zulip_call(zulip_fake, "PATCH", f"/messages/{theirs}",
                                        {"content": "edited by the bot"})
    assert (status, error["msg"]) == (400, "You don't have permission to edit this message")

    reaction = {"emoji_name": "one"}
    assert (await zulip_call(zulip_fake, "POST", f"{edit}/reactions", reaction))[0] == 200
    status, error, _ = await zulip_call(zulip_fake, "POST", f"{edit}/reactions", reaction)
    assert (status, error["code"]) == (400, "REACTION_ALREADY_EXISTS")

    someone.is_active = False
    status, error, _ = await zulip_call(zulip_fake, "POST", "/messages", {
        "type": "private", "to": f"[{someone.user_id}]", "content": "hello"})
    assert (status, error["msg"]) == (400, f"'{someone.email}' is no longer using Zulip.")


async def test_zulip_rate_limits_with_retry_after(zulip_fake: FakeZulip) -> None:
    zulip_fake.request_limit = 2
    remaining = [(await zulip_call(zulip_fake, "GET", "/users/me"))[2]["X-RateLimit-Remaining"]
                 for _ in range(2)]
    assert remaining == ["1", "0"]
    status, error, headers = await zulip_call(zulip_fake, "GET", "/users/me")
    assert (status, error["code"]) == (429, "RATE_LIMIT_HIT")
    assert 0 < float(headers["Retry-After"]) <= 60
