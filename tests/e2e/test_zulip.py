"""Zulip end to end: commands in streams and direct messages, choices, notices, joins, bans."""

from __future__ import annotations

import pytest

from bot.core.messages import Choice, Message
from bot.core.ports import PlatformError
from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.fakes.zulip import MEMBER


async def test_commands_are_answered_where_they_were_given(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    reply = await world.zulip.command(ann, "/whoami", stream="general", topic="questions")
    assert (reply["type"], reply["display_recipient"], reply["subject"]) == (
        "stream", "general", "questions")
    assert reply["content"].startswith("You are Ann Lee on zulip, not linked")

    reply = await world.zulip.command(ann, "@**Roadie** help whoami", stream="general",
                                      topic="questions")
    assert reply["subject"] == "questions"
    assert reply["content"].startswith("`/whoami`\nWho Roadie thinks you are")

    reply = await world.zulip.command(ann, "whoami")  # a direct message
    assert reply["type"] == "private"
    assert reply["content"].startswith("You are Ann Lee on zulip")


async def test_refusals_go_privately_to_the_one_who_asked(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    said = await world.zulip.say(ann, "/grant bob admin", stream="general", topic="roles")
    reply = await world.zulip.reply_to(ann, said, stream="general", topic="roles")
    assert reply["type"] == "private"
    assert reply["content"].startswith("✋ /grant needs the admin role")
    assert world.zulip.messages_in("general", "roles") == []


async def test_only_roadies_commands_are_taken_from_streams(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    await world.zulip.say(ann, "/poll Lunch?", stream="general", topic="lunch")  # Zulip's own
    reply = await world.zulip.command(ann, "/whoami", stream="general", topic="lunch")
    assert reply["content"].startswith("You are Ann Lee")  # the first got no answer
    reply = await world.zulip.command(ann, "poll Lunch?")
    assert reply["content"].startswith("✋ There is no command /poll.")


async def test_mentions_name_chat_accounts(world: World) -> None:
    alice, bob = world.zulip_user("Alice Liddell"), world.zulip_user("Bob Stone")
    await world.link("alice", zulip=alice)
    await world.link("carol", zulip=bob)
    reply = await world.zulip.command(alice, f"/unlink {bob.mention}", stream="general")
    assert reply["content"] == f"Unlinked zulip:{bob.user_id}."

    d_alice, d_dave = world.discord_user("alice"), world.discord_user("dave")
    await world.link("alice", discord=d_alice)
    await world.link("dave", discord=d_dave)
    answer = await world.discord.slash(d_alice, "unlink", target=d_dave.mention)
    assert answer.text == f"Unlinked discord:{d_dave.id}."


async def test_choices_are_numbered_commands_and_digit_reactions(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    await world.post("admins", Message(title="Pick one", choices=(
        Choice("Who am I?", "whoami"), Choice("Help", "help whoami"))))
    [notice] = world.zulip.messages_in("governance", "admins")
    assert notice["content"] == (
        "**Pick one**\n1. Who am I?: `/whoami`\n2. Help: `/help whoami`\n"
        "Answer with the command, or `/choose <number>`, or react with the number's emoji "
        "(:one:, :two:, ...).")
    assert [r["emoji_name"] for r in notice["reactions"]] == ["one", "two"]

    reply = await world.zulip.command(ann, "/choose 2", stream="governance", topic="admins")
    assert reply["content"].startswith("`/whoami`\nWho Roadie thinks you are")
    reply = await world.zulip.command(ann, "/choose 3", stream="governance", topic="admins")
    assert reply["content"] == "✋ There is no option 3 here. Pick a number from 1 to 2."

    await world.restart()  # the outbox remembers what was offered
    reply = await world.zulip.command(ann, "/choose 1", stream="governance", topic="admins")
    assert reply["content"].startswith("You are Ann Lee on zulip")
    before = len(world.zulip.pms_to(ann))
    await world.zulip.react(ann, notice["id"], "one")
    [answer] = (await world.zulip.wait_for(lambda: world.zulip.pms_to(ann)[before:]))
    assert answer["content"].startswith("You are Ann Lee on zulip")

    reply = await world.zulip.command(ann, "/choose 1", stream="general", topic="elsewhere")
    assert reply["content"].startswith("✋ There is nothing to choose from here.")


async def test_notices_use_their_topic_and_mention_linked_people(world: World) -> None:
    alice = world.zulip_user("Alice Liddell")
    await world.link("alice", zulip=alice)
    await world.post("feed", Message(body="Review please", mentions=("alice", "zed"),
                                     topic="jazzband/" + "x" * 80 + " #12"))
    [notice] = world.zulip.messages_in("governance")[-1:]
    assert len(notice["subject"]) == 60
    assert notice["subject"].endswith("…")
    assert notice["content"] == f"Review please\ncc {alice.mention} @zed"


async def test_ban_deactivates_and_deletes_recent_messages(world: World) -> None:
    spammer, ann = world.zulip_user("Spam Bot"), world.zulip_user("Ann Lee")
    spam = await world.zulip.say(spammer, "cheap tokens", stream="general", topic="hi")
    kept = await world.zulip.say(ann, "hello", stream="general", topic="hi")
    transport = world.zulip_transport

    member = await transport.lookup_member(str(spammer.user_id))
    assert member is not None
    assert (member.display_name, member.roles) == ("Spam Bot", ("member",))
    await transport.ban(str(spammer.user_id), reason="spam", delete_message_days=1)
    assert not world.zulip.users[spammer.user_id].is_active
    assert [m["id"] for m in world.zulip.deleted] == [spam]
    assert kept in [m["id"] for m in world.zulip.messages]
    await transport.ban(str(spammer.user_id), reason="again: nothing to do")

    await transport.unban(str(spammer.user_id), reason="appeal")
    assert world.zulip.users[spammer.user_id].is_active
    assert await transport.lookup_member("99999") is None

    world.zulip.bot.role = MEMBER
    with pytest.raises(PlatformError) as refused:
        await transport.ban(str(spammer.user_id), reason="spam")
    assert refused.value.permanent
    assert "Insufficient permission" in refused.value.detail


async def test_limits_come_from_register_and_long_text_is_cut_by_roadie(
        make_world: MakeWorld) -> None:
    """A realm with other limits than Zulip's defaults: Roadie cuts to them itself (with
    "…"), so that Zulip never truncates ("[message truncated]", "...")."""
    async with make_world(zulip_realm={"max_message_length": 500,
                                       "max_topic_length": 30}) as world:
        rules = world.zulip_transport.rules
        assert (rules.content, rules.topic) == (500, 30)
        await world.post("feed", Message(body="b" * 2000, topic="t" * 50))
        [notice] = world.zulip.messages_in("governance")[-1:]
        assert notice["subject"] == "t" * 29 + "…"
        assert len(notice["content"]) == 500
        assert notice["content"].endswith("…")

        ann = world.zulip_user("Ann Lee")
        reply = await world.zulip.command(ann, "/help", stream="general", topic="chat")
        assert len(reply["content"]) <= 500
        assert "[message truncated]" not in reply["content"]
