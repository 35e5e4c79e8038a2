"""The real discord.py against the fake gateway: Discord asks to reconnect (op 7), says the
session is invalid (op 9), or refuses the Server Members intent (close code 4014)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.e2e.harness import World
from tests.support import eventually


async def answers(world: World) -> str:
    alice = world.discord_user("alice")
    return (await world.discord.slash(alice, "whoami")).text


async def test_op_7_is_answered_with_a_resume(world: World) -> None:
    await world.discord.request_reconnect()
    await asyncio.wait_for(world.discord.resumed.wait(), 10)
    assert world.discord.sessions == 1  # resumed, not identified anew
    assert await answers(world)


async def test_op_9_is_answered_with_a_new_session(world: World) -> None:
    await world.discord.invalidate_session(resumable=False)
    await eventually(lambda: world.discord.sessions == 2, 10)
    assert await answers(world)
    await world.discord.drop()  # and a session made that way resumes, too
    await asyncio.wait_for(world.discord.resumed.wait(), 10)
    assert world.discord.sessions == 2
    assert await answers(world)


async def test_without_the_members_intent_one_line_says_so_and_commands_still_work(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.discord.application_flags = 0  # the Server Members intent is off in the portal
    with caplog.at_level(logging.INFO, logger="roadie.discord"):
        await world.restart()
        assert await answers(world)
        await asyncio.sleep(1.0)  # time enough for a crash loop to show
    assert world.discord.gateway_closes == [4014]  # refused once, never tried again
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == [
        "Discord: the Server Members intent is off for this bot (gateway close code 4014): "
        "turn on Server Members Intent in the Developer Portal (Bot > Privileged Gateway "
        "Intents). Until then Roadie serves Discord without it: member joins go unheard (no "
        "spam signals)."]
    assert world.discord_transport.members_intent is False


async def test_a_refused_token_ends_the_gateway_with_one_line(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    transport = world.discord_transport
    with caplog.at_level(logging.INFO, logger="roadie.discord"):
        world.discord.token = "another-token"
        await world.discord.close_gateway(4004, "Authentication failed.")
        assert transport._gateway is not None
        await asyncio.wait_for(asyncio.shield(transport._gateway), 10)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == ["Discord: the gateway closed the connection for good (close code 4004): "
                     "the bot token was refused; check discord.token_env (or token_file)"]
