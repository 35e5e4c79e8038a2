"""Hostile input through the real Zulip, Discord and GitHub clients: absurd arguments are
answered, user text pings nobody, and secret ballots stay secret."""

from __future__ import annotations

from tests.e2e.harness import World


async def test_zulip_answers_an_absurd_duration(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    reply = await world.zulip.command(ann, "/away 99999999999w", stream="general")
    assert reply["type"] == "private"
    assert "longer than the longest duration Roadie accepts" in reply["content"]
    reply = await world.zulip.command(ann, "/whoami", stream="general")
    assert reply["content"].startswith("You are Ann Lee")
