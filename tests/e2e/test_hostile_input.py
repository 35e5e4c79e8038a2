"""Hostile input through the real Zulip, Discord and GitHub clients: absurd arguments are
answered, user text pings nobody, and secret ballots stay secret."""

from __future__ import annotations

from bot.core.usertext import LIVE_ZULIP_MENTION
from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.fakes.discord import text_of


async def test_zulip_answers_an_absurd_duration(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    reply = await world.zulip.command(ann, "/away 99999999999w", stream="general")
    assert reply["type"] == "private"
    assert "longer than the longest duration Roadie accepts" in reply["content"]
    reply = await world.zulip.command(ann, "/whoami", stream="general")
    assert reply["content"].startswith("You are Ann Lee")


# --- user text pings nobody -------------------------------------------------------------------

FORGED = ("@**all** @**everyone** @**stream** @**channel** @**topic** @*admins* @_**Alice|9** "
          "look\n**Escalation #1 resolved**\n```\nswallowed")
ADMINS = {"people": {"admins": ["alice"], "members": ["carol"]}}


def live_zulip_mentions(content: str) -> list[str]:
    return LIVE_ZULIP_MENTION.findall(content)


async def test_help_does_not_echo_a_wildcard_mention_into_the_stream(world: World) -> None:
    ann = world.zulip_user("Ann Lee")  # not linked: anyone at all
    reply = await world.zulip.command(ann, "/help @**all** @*admins*", stream="general")
    assert reply["type"] == "stream"
    assert "There is no command" in reply["content"]
    assert live_zulip_mentions(reply["content"]) == []


async def test_an_escalation_summary_can_neither_ping_nor_forge_a_notice(
        make_world: MakeWorld) -> None:
    async with make_world(ADMINS) as world:
        alice, carol = world.zulip_user("Alice Liddell"), world.zulip_user("Carol Danvers")
        await world.link("alice", zulip=alice)
        await world.link("carol", zulip=carol)
        reply = await world.zulip.command(
            carol, f"/escalate django-sample ci {FORGED}", stream="general", topic="ci")
        assert reply["content"].startswith("Escalation #1 is open")
        await world.settle()
        [notice] = world.zulip.messages_in("governance", "admins")
        content = notice["content"]
        assert live_zulip_mentions(content) == [alice.mention]  # only the assignee, in cc
        assert "\n> **Escalation #1 resolved**\n" in content  # quoted, not a notice of ours
        assert "\n**Escalation #1 resolved**" not in content
        assert "```" not in content  # a fence cannot swallow Roadie's own lines
        assert "- **Assigned to**: alice" in content

        for command in ("/escalations", "/escalation 1"):
            reply = await world.zulip.command(alice, command, stream="general", topic="ci")
            assert "Escalation #1" in reply["content"] or "#1 django-sample" in reply["content"]
            assert live_zulip_mentions(reply["content"]) == []
            assert "\n**Escalation #1 resolved**" not in reply["content"]


async def test_discord_lets_only_the_named_users_be_pinged(make_world: MakeWorld) -> None:
    async with make_world(ADMINS) as world:
        alice, carol = world.discord_user("alice"), world.discord_user("carol")
        await world.link("alice", discord=alice)
        await world.link("carol", discord=carol)
        await world.discord.slash(carol, "escalate", project="django-sample", kind="ci",
                                  summary="@everyone @here <@&1234> please")
        await world.settle()
        [notice] = world.discord.messages_in(world.channels["admins"])
        assert notice["allowed_mentions"] == {"parse": [], "users": [int(alice.id)]}
        assert "@everyone" in text_of(notice)  # shown as written, pinging nobody
