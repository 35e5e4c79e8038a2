"""`roadie doctor` against the fakes: it connects and names what is missing."""

from __future__ import annotations

import asyncio

import pytest

from bot.cli import main
from tests.e2e.harness import World
from tests.fakes.discord import BAN_MEMBERS, BOT_PERMISSIONS, VIEW_CHANNEL
from tests.fakes.zulip import MEMBER


async def doctor(world: World, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    monkeypatch.setenv("ROADIE_GITHUB_TOKEN", "doctor-token")
    path = world.roadie.config.base_dir / "roadie.toml"
    code = await asyncio.to_thread(main, ["doctor", "--config", str(path)])
    out = capsys.readouterr().out
    return code, out.splitlines()


async def test_doctor_finds_everything_in_place(world: World, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    world.github.admins.add("roadie-bot")
    code, lines = await doctor(world, monkeypatch, capsys)
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "Everything Roadie needs is in place."
    assert "  ok      the Server Members intent is on" in lines
    assert "  ok      the bot is an administrator: it may deactivate users and delete " \
           "messages" in lines
    assert "  ok      roadie-bot is an owner of jazzband" in lines
    assert "  ok      admins: governance > admins" in lines


async def test_doctor_says_what_is_missing(world: World, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    world.discord.set_bot_permissions(BOT_PERMISSIONS & ~BAN_MEMBERS)
    world.discord.channels[world.channels["modlog"]]["permission_overwrites"].append(
        {"id": world.discord.bot_role["id"], "type": 0, "allow": "0",
         "deny": str(VIEW_CHANNEL)})
    world.discord.application_flags = 0
    world.zulip.bot.role = MEMBER
    world.zulip.subscribed.discard("governance")
    world.github.token_scopes = "repo"

    code, lines = await doctor(world, monkeypatch, capsys)
    assert code == 1
    missing = [line.removeprefix("  MISSING ") for line in lines
               if line.startswith("  MISSING ")]
    assert missing[:3] == [
        "the Server Members intent is off: turn it on in the Developer Portal (Bot > "
        "Privileged Gateway Intents); without it member joins cannot feed the spam signals",
        "in fake-guild, the bot lacks: Ban Members (for /block)",
        "modlog: in #modlog the bot lacks View Channel, Send Messages, Embed Links"]
    assert ("the bot is not an administrator, so it cannot deactivate users or delete "
            "messages: give it the Administrator role (Organization settings > Bots)") in missing
    assert ("admins: the bot is not subscribed to 'governance', so it does not see commands "
            "given there: subscribe it") in missing
    assert "the token lacks the admin:org scope, needed to block users (it has: repo)" in missing
    assert "roadie-bot is not an owner of jazzband; only owners may block users" in missing
    assert lines[-1] == f"{len(missing)} thing(s) missing; see MISSING above."
