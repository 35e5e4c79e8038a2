"""One Roadie on Discord and Zulip at once."""

from __future__ import annotations

from bot.core.commands import parse_target
from bot.core.messages import Choice, Message
from tests.e2e import probe_cog
from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.fakes.discord import text_of
from tests.support import eventually


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


async def test_a_github_event_arrives_in_the_discord_channel_and_the_zulip_topic(
        make_world: MakeWorld) -> None:
    async with make_world(probe_cog.CONFIG) as world:
        status = await world.webhook("ping", {
            "zen": "Keep it logically awesome.", "organization": {"login": "jazzband"},
            "hook": {"url": "https://api.github.com/orgs/jazzband/hooks/1"}})
        assert status == 202
        assert world.on_discord("feed") == ["GitHub says hello to jazzband\n"
                                            "Keep it logically awesome."]
        assert world.on_zulip("feed") == [
            "**GitHub says hello to jazzband** (https://api.github.com/orgs/jazzband/hooks/1)\n"
            "Keep it logically awesome."]


async def test_a_block_bans_the_account_on_each_platform(world: World) -> None:
    spam_d, spam_z = world.discord_user("spammer"), world.zulip_user("Spam Bot")
    spam = await world.zulip.say(spam_z, "cheap tokens!", stream="general", topic="hi")
    # What a /block does with its targets: each one to its own platform's ChatPort.
    for target in (parse_target(f"discord:{spam_d.id}"), parse_target(f"zulip:{spam_z.user_id}")):
        await world.roadie.ports[target.platform].ban(
            target.id, reason="crypto spam (blocked by bob)", delete_message_days=1)
    assert world.discord.bans[spam_d.id]["reason"] == "crypto spam (blocked by bob)"
    assert not world.zulip.users[spam_z.user_id].is_active
    assert [m["id"] for m in world.zulip.deleted] == [spam]


async def test_an_edited_notice_changes_in_place_on_both_platforms(world: World) -> None:
    key = await world.post("admins", Message(title="Vote #3: open", choices=(
        Choice("Yes", "whoami"), Choice("No", "help"))))
    await world.roadie.db.run(lambda session: world.roadie.outbox.edit(
        session, 'admins', key, Message(title='Vote #3: closed', body='Accepted, 5 to 1.')))
    await world.settle()
    [on_discord] = world.discord.messages_in(world.channels["admins"])
    assert text_of(on_discord) == "Vote #3: closed\nAccepted, 5 to 1."
    assert on_discord["components"] == []  # the buttons are gone with the vote
    assert len(on_discord["edits"]) == 1
    [on_zulip] = world.zulip.messages_in("governance", "admins")
    assert on_zulip["content"] == "**Vote #3: closed**\nAccepted, 5 to 1."
    assert on_zulip["edits"][0].startswith("**Vote #3: open**")


async def test_member_joins_on_both_platforms_reach_the_cogs(make_world: MakeWorld) -> None:
    async with make_world(probe_cog.CONFIG) as world:
        probe = probe_cog.probe_of(world.roadie)
        eve_d = await world.discord.join("eve")
        await eventually(lambda: len(probe.joined) == 1)
        eve_z = await world.zulip.join("Eve Spam")
        await eventually(lambda: len(probe.joined) == 2)
        assert [(j.platform, j.user_id, j.display_name) for j in probe.joined] == [
            ("discord", eve_d.id, "eve"), ("zulip", str(eve_z.user_id), "Eve Spam")]
        assert probe.joined[0].account_created_at is not None  # a spam signal, from the id
