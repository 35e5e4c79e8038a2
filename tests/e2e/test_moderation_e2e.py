"""Moderation end to end, through Discord and through Zulip: `/block` bans on Discord,
deactivates on Zulip and blocks in the GitHub org; the second moderator; a platform that
fails and is retried; spam signals from a Discord join, with a Block button."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.fakes.discord import buttons_of, text_of
from tests.support import eventually

MODERATORS = {"people": {"moderators": ["bob", "dana"]}}
APPEAL = "You are being blocked from the jazzband community (case #1): "


def ban_path(world: World, user_id: str) -> str:
    return f"/api/v10/guilds/{world.discord.guild_id}/bans/{user_id}"


def labels(message: dict[str, Any]) -> list[str]:
    return [b["label"] for b in buttons_of(message)]


async def test_a_block_on_discord_bans_the_member_mentioned(world: World) -> None:
    bob, spammer = world.discord_user("bob"), world.discord_user("spammer")
    await world.link("bob", discord=bob)

    answer = await world.discord.slash(bob, "block user", target=spammer,
                                       reason="crypto spam in #general",
                                       **{"delete-messages": 1})
    assert answer.ephemeral
    assert answer.text == (f"Case #1: block of discord:{spammer.id}.\n"
                           f"✅ Discord: {spammer.id} is banned. (told them how to appeal.)")
    assert world.discord.ban_log == [("PUT", spammer.id, {
        "reason": "case #1: crypto spam in #general", "delete_message_seconds": 86400})]
    [notice] = world.discord.dms_to(spammer)  # sent before the ban, while it could arrive
    assert text_of(notice).startswith("Case #1\n" + APPEAL + "crypto spam in #general.")
    assert world.github.blocked == set()  # no GitHub login is known for that account
    await world.settle()
    assert world.on_discord("modlog")[-1].startswith(
        f"Case #1: block of discord:{spammer.id}\nBy bob: crypto spam in #general\n")
    assert world.on_zulip("modlog")[-1].startswith(f"**Case #1: block of discord:{spammer.id}**")


async def test_a_block_on_zulip_deactivates_and_deletes_messages(world: World) -> None:
    bob, spammer = world.zulip_user("Bob Stone"), world.zulip_user("Spam Bot")
    ann = world.zulip_user("Ann Lee")
    await world.link("bob", zulip=bob)
    spam = await world.zulip.say(spammer, "cheap tokens!", stream="general", topic="hi")
    kept = await world.zulip.say(ann, "hello", stream="general", topic="hi")

    reply = await world.zulip.command(
        bob, f"/block {spammer.mention} crypto spam --delete-messages 1", stream="general",
        topic="hi")
    assert reply["type"] == "private"  # moderation answers go to the moderator only
    assert reply["content"] == (
        f"Case #1: block of zulip:{spammer.user_id}.\n"
        f"✅ Zulip: {spammer.user_id} is deactivated. (told them how to appeal.)")
    assert not world.zulip.users[spammer.user_id].is_active
    assert [m["id"] for m in world.zulip.deleted] == [spam]
    assert kept in [m["id"] for m in world.zulip.messages]
    assert world.zulip.pms_to(spammer)[-1]["content"].startswith("**Case #1**\n" + APPEAL)
    assert world.zulip.messages_in("general", "hi") == []
    await world.settle()
    assert world.on_zulip("modlog")[-1].startswith(
        f"**Case #1: block of zulip:{spammer.user_id}**\nBy bob: crypto spam\n")


async def test_a_block_of_a_linked_person_reaches_github_and_both_chats(world: World) -> None:
    bob = world.discord_user("bob")
    spam_d, spam_z = world.discord_user("spammer"), world.zulip_user("Spam Bot")
    await world.link("bob", discord=bob)
    await world.link("spammer", discord=spam_d, zulip=spam_z)

    answer = await world.discord.slash(bob, "block user", target="spammer",
                                       reason="crypto spam")
    assert answer.text == (
        "Case #1: block of spammer.\n"
        "✅ GitHub: spammer is blocked in the jazzband org.\n"
        f"✅ Discord: spammer ({spam_d.id}) is banned. (told them how to appeal.)\n"
        f"✅ Zulip: Spam Bot ({spam_z.user_id}) is deactivated. (told them how to appeal.)")
    assert world.github.blocked == {"spammer"}
    assert world.discord.ban_log == [("PUT", spam_d.id, {"reason": "case #1: crypto spam",
                                                         "delete_message_seconds": 0})]
    assert not world.zulip.users[spam_z.user_id].is_active
    assert world.zulip.deleted == []  # no --delete-messages, and the default is 0 days


async def test_a_second_moderator_confirms_on_zulip_what_was_asked_on_discord(
        make_world: MakeWorld) -> None:
    async with make_world(MODERATORS) as world:
        bob, dana = world.discord_user("bob"), world.zulip_user("Dana Scully")
        await world.link("bob", discord=bob)
        await world.link("dana", zulip=dana)
        world.github.add_user("olive", member=True)  # an org member has standing

        answer = await world.discord.slash(bob, "block user", target="olive",
                                           reason="rude in reviews")
        assert answer.ephemeral
        assert answer.text.startswith("Case #1: nothing is blocked yet. Blocking olive needs a "
                                      "second moderator, because olive is a member of the "
                                      "jazzband org")
        await world.settle()
        [request] = world.discord.messages_in(world.channels["moderators"])
        assert text_of(request).startswith("Case #1: block of olive needs a second moderator\n"
                                           "bob asks to block olive: rude in reviews")
        assert labels(request) == ["Confirm"]
        answer = await world.discord.click(bob, request, "Confirm")  # not by himself
        assert answer.ephemeral
        assert answer.text.startswith("✋ You opened case #1; a second moderator must confirm")
        assert world.github.blocked == set()

        reply = await world.zulip.command(dana, "/choose 1", stream="governance",
                                          topic="moderators")
        assert reply["type"] == "private"
        assert reply["content"] == ("Case #1: block of olive, confirmed by dana.\n"
                                    "✅ GitHub: olive is blocked in the jazzband org.")
        assert world.github.blocked == {"olive"}
        await world.settle()
        assert text_of(request) == ("Case #1: block of olive, confirmed by dana\n"
                                    "By bob: rude in reviews")  # edited in place
        assert labels(request) == []
        assert world.on_zulip("moderators") == ["**Case #1: block of olive, confirmed by "
                                                "dana**\nBy bob: rude in reviews"]


async def test_a_ban_that_fails_is_reported_and_retried(world: World) -> None:
    bob = world.zulip_user("Bob Stone")
    spam_d, spam_z = world.discord_user("spammer"), world.zulip_user("Spam Bot")
    await world.link("bob", zulip=bob)
    await world.link("spammer", discord=spam_d, zulip=spam_z)
    world.discord.fail_api("PUT", f"/guilds/{world.discord.guild_id}/bans/{spam_d.id}",
                           status=503)

    reply = await world.zulip.command(bob, "/block spammer crypto spam --chat")
    lines = reply["content"].splitlines()
    assert lines[0] == "Case #1: block of spammer."
    assert lines[1].startswith(f"⏳ Discord: spammer ({spam_d.id}) is NOT blocked yet: discord "
                               "answered: 503 ")
    assert "Roadie tries again at 2026-01-05 09:00 UTC (attempt 2 of 12)." in lines[1]
    assert lines[2] == (f"✅ Zulip: Spam Bot ({spam_z.user_id}) is deactivated. (told them "
                        "how to appeal.)")
    assert spam_d.id not in world.discord.bans
    assert world.github.blocked == set()  # --chat

    await world.advance(31)  # the retry wait is 30 s
    assert world.discord.bans[spam_d.id]["reason"] == "case #1: crypto spam"
    assert len(world.discord.called("PUT", ban_path(world, spam_d.id))) == 2
    update = f"**Case #1: spammer, update**\n✅ Discord: spammer ({spam_d.id}) is banned."
    assert world.zulip.pms_to(bob)[-1]["content"] == update  # the moderator hears of it
    assert world.on_zulip("modlog")[-1] == update
    assert len(world.discord.dms_to(spam_d)) == 2  # linked, then told once how to appeal
    await world.advance(3600)
    assert len(world.discord.called("PUT", ban_path(world, spam_d.id))) == 2  # settled


async def test_a_new_discord_account_raises_spam_signals_with_a_block_button(
        world: World) -> None:
    bob, carol = world.discord_user("bob"), world.discord_user("carol")
    await world.link("bob", discord=bob)
    await world.link("carol", discord=carol)

    eve = await world.discord.join("cheap-followers-4u",
                                   created_at=world.clock.now() - timedelta(hours=5))
    await eventually(lambda: bool(world.discord.messages_in(world.channels["moderators"])))
    [alert] = world.discord.messages_in(world.channels["moderators"])
    assert text_of(alert) == (f"Spam signals: discord:{eve.id} joined Discord\n"
                              "Score 4 (alerts from 3).\naccount 5h old\n+2\n"
                              "name matches a spam pattern\n+2\n"
                              "Roadie blocks nobody by itself; a moderator decides.")
    assert labels(alert) == ["Block"]
    await world.settle()
    [on_zulip] = world.on_zulip("moderators")
    assert f"1. Block: `/block discord:{eve.id} spam signals: account 5h old, name matches a " \
           "spam pattern --chat`" in on_zulip
    assert world.discord.ban_log == []  # Roadie blocks nobody by itself

    answer = await world.discord.click(carol, alert, "Block")
    assert answer.ephemeral
    assert answer.text.startswith("✋ /block user needs the moderator role")
    assert world.discord.ban_log == []

    answer = await world.discord.click(bob, alert, "Block")
    assert answer.ephemeral
    assert answer.text == (f"Case #1: block of discord:{eve.id}.\n"
                           f"✅ Discord: {eve.id} is banned. (told them how to appeal.)")
    assert world.discord.bans[eve.id]["reason"] == (
        "case #1: spam signals: account 5h old, name matches a spam pattern")
