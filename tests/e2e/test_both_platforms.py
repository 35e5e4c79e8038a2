"""One Roadie on Discord and Zulip at once."""

from __future__ import annotations

from bot.core.messages import Message
from tests.e2e.harness import World


async def test_a_person_linked_on_both_platforms_is_one_person(world: World) -> None:
    alice_d = world.discord_user("alice")
    alice_z = world.zulip_user("Alice Liddell")
    await world.link("alice", discord=alice_d, zulip=alice_z)

    reply = await world.zulip.command(alice_z, "/whoami", stream="general", topic="chat")
    assert "You are alice on GitHub." in reply["content"]
    assert "discord:alice, zulip:Alice Liddell" in reply["content"]
    answer = await world.discord.slash(alice_d, "whoami")
    assert "Roles: admin" in answer.text


async def test_a_notice_arrives_in_the_discord_channel_and_the_zulip_topic(world: World) -> None:
    await world.post("admins", Message(title="Webhook failing", body="Deliveries fail.",
                                       tone="warning"))
    assert world.on_discord("admins") == ["Webhook failing\nDeliveries fail."]
    assert world.on_zulip("admins") == ["**Webhook failing**\nDeliveries fail."]
