"""Hostile input through the real Zulip, Discord and GitHub clients: absurd arguments are
answered, user text pings nobody, and secret ballots stay secret."""

from __future__ import annotations

from typing import Any

from bot.core.messages import Message
from bot.core.usertext import LIVE_ZULIP_MENTION
from bot.transports.zulip.text import stream_place
from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import LINK_CODE, World
from tests.e2e.test_voting_e2e import MINUTE_VOTES, line, org_on_github, votes_on_zulip
from tests.fakes.discord import text_of
from tests.fakes.zulip import ZulipUser


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


# --- secret ballots only in private -------------------------------------------------------------

SECRET = {"voting": {"nomination": {**MINUTE_VOTES["nomination"], "secret": True}}}


async def secret_vote(world: World) -> dict[str, ZulipUser]:
    """A secret nomination open on Zulip, with four linked org members."""
    org_on_github(world)
    names = {"alice": "Alice Liddell", "carol": "Carol Danvers", "dave": "Dave Grohl",
             "erin": "Erin Brockovich"}
    people = {login: world.zulip_user(name) for login, name in names.items()}
    for login, user in people.items():
        await world.link(login, zulip=user)
    await world.zulip.command(people["carol"], "nominate carol django-sample I would lead it")
    await world.settle()
    return people


def ballots_line(world: World) -> str:
    [status] = votes_on_zulip(world)
    return line(status["content"], "Ballots")


async def test_choose_in_a_stream_casts_no_secret_ballot(make_world: MakeWorld) -> None:
    async with make_world(SECRET) as world:
        people = await secret_vote(world)
        dave = people["dave"]
        shown = await world.zulip.command(dave, "/vote 1", stream="general", topic="leads")
        assert shown["type"] == "stream"  # the status, with its choices, in the stream
        said = await world.zulip.say(dave, "/choose 1", stream="general", topic="leads")
        reply = await world.zulip.reply_to(dave, said, stream="general", topic="leads")
        assert reply["type"] == "private"
        assert reply["content"].startswith("✋ There is nothing to choose from here.")
        assert ballots_line(world) == "none yet"

        # Under the status itself, after a restart (the outbox remembers what was offered):
        # the choice runs, as a ballot given in public, and is refused.
        await world.restart()
        stream, topic = world.topics["feed"]
        said = await world.zulip.say(dave, "/choose 1", stream=stream, topic=topic)
        reply = await world.zulip.reply_to(dave, said, stream=stream, topic=topic)
        assert reply["type"] == "private"
        assert reply["content"].startswith("✋ Vote #1 is secret")
        assert said in [m["id"] for m in world.zulip.deleted]
        assert ballots_line(world) == "none yet"
        assert not [m for m in world.zulip.messages_in("general", "leads")
                    if m["content"].startswith("Your")]


async def test_digit_reactions_cast_no_secret_ballot(make_world: MakeWorld) -> None:
    async with make_world(SECRET) as world:
        people = await secret_vote(world)
        [status] = votes_on_zulip(world)
        before = len(world.zulip.pms_to(people["erin"]))
        await world.zulip.react(people["erin"], status["id"], "one")
        reply = await world.zulip.wait_for(
            lambda: world.zulip.pms_to(people["erin"])[before:])
        assert reply[0]["content"].startswith("✋ Vote #1 is secret")
        assert ballots_line(world) == "none yet"


async def test_a_ballot_in_a_group_conversation_is_refused(make_world: MakeWorld) -> None:
    async with make_world(SECRET) as world:
        people = await secret_vote(world)
        erin, alice = people["erin"], people["alice"]
        said = await world.zulip.group_pm(erin, [alice], "vote 1 -1 not yet")
        reply = await world.zulip.reply_to(erin, said)
        assert [r["id"] for r in reply["display_recipient"]] == sorted(
            [erin.user_id, world.zulip.bot.user_id])  # to erin alone, not to the group
        assert reply["content"].startswith("✋ Vote #1 is secret")
        assert said in [m["id"] for m in world.zulip.deleted]
        assert ballots_line(world) == "none yet"


# --- link proof -------------------------------------------------------------------------------


def comment(login: str, body: str, *, kind: str = "User") -> dict[str, Any]:
    return {"action": "created", "comment": {"body": body, "user": {"login": login,
                                                                     "type": kind}},
            "issue": {"number": 1, "title": "link"},
            "repository": {"name": "roadie-links", "full_name": "jazzband/roadie-links"},
            "sender": {"login": login}}


async def link_code(world: World, user: ZulipUser, login: str) -> str:
    reply = await world.zulip.command(user, f"/link {login}")
    [code] = set(LINK_CODE.findall(reply["content"]))
    return code


async def test_a_quoted_code_does_not_link_the_one_who_posted_it(world: World) -> None:
    mallory = world.zulip_user("Mallory")
    code = await link_code(world, mallory, "alice")  # alice is an admin
    await world.webhook("issue_comment", comment("alice", f"> {code}\n\nWhat is this code?"))
    reply = await world.zulip.command(mallory, "/whoami")
    assert "not linked" in reply["content"]


async def test_no_comment_by_roadie_or_a_bot_proves_a_link(world: World) -> None:
    mallory = world.zulip_user("Mallory")
    reply = await world.zulip.command(mallory, "/link roadie-bot")
    assert reply["content"].startswith("✋ roadie-bot is Roadie's own GitHub account")
    code = await link_code(world, mallory, "ci-helper")
    await world.webhook("issue_comment", comment("ci-helper", f"mirrored: {code}", kind="Bot"))
    reply = await world.zulip.command(mallory, "/whoami")
    assert "not linked" in reply["content"]


async def test_an_admin_sees_and_confirms_the_claimed_pair(world: World) -> None:
    admin, mallory = world.zulip_user("Alice Liddell"), world.zulip_user("Mallory")
    await world.link("alice", zulip=admin)
    reply = await world.zulip.command(mallory, "/link bob")
    assert "until 2026-" in reply["content"]  # the code says when it expires
    [code] = set(LINK_CODE.findall(reply["content"]))

    reply = await world.zulip.command(admin, f"/link confirm {code}")
    assert reply["content"].startswith(
        f"The code {code} was given to the chat account zulip:{mallory.user_id} (Mallory), "
        "which claims to be bob on GitHub. Nothing is linked yet.")
    assert f"`/link confirm {code} bob`" in reply["content"]
    assert "not linked" in (await world.zulip.command(mallory, "/whoami"))["content"]

    reply = await world.zulip.command(admin, f"/link confirm {code} carol")
    assert reply["content"].startswith(f"✋ The code {code} claims the GitHub login bob, not "
                                       "carol.")
    reply = await world.zulip.command(admin, f"/link confirm {code} bob")
    assert reply["content"] == f"Linked zulip:{mallory.user_id} to bob."


async def test_block_and_vote_reasons_ping_nobody(world: World) -> None:
    bob, spammer = world.zulip_user("Bob Stone"), world.zulip_user("Spam Bot")
    await world.link("bob", zulip=bob)
    reply = await world.zulip.command(
        bob, f"/block {spammer.mention} @**all** @*moderators* spam\n**Case #1 lifted**",
        stream="general", topic="hi")
    assert reply["content"].startswith("Case #1: block of")
    await world.settle()
    [*_, logged] = world.zulip.messages_in("governance", "modlog")
    assert live_zulip_mentions(logged["content"]) == []
    assert "\n**Case #1 lifted**" not in logged["content"]
    assert live_zulip_mentions(world.zulip.pms_to(spammer)[-1]["content"]) == []

    org_on_github(world)
    carol = world.zulip_user("Carol Danvers")
    await world.link("carol", zulip=carol)
    await world.zulip.command(carol, "/nominate carol django-sample @**everyone** vote for me")
    await world.settle()
    [status] = votes_on_zulip(world)
    assert live_zulip_mentions(status["content"]) == []
    assert "\n> @\u200b**everyone** vote for me\n" in status["content"]


async def test_roadie_deletes_messages_on_both_platforms(world: World) -> None:
    await world.post("admins", Message(title="to be withdrawn"))
    [posted] = world.discord.messages_in(world.channels["admins"])
    await world.discord_transport.delete(world.channels["admins"], posted["id"])
    assert world.discord.messages_in(world.channels["admins"]) == []
    assert [m["id"] for m in world.discord.deleted] == [posted["id"]]

    ann = world.zulip_user("Ann Lee")
    said = await world.zulip.say(ann, "a ballot in public", stream="general", topic="x")
    await world.zulip_transport.delete(stream_place("general", "x", 60), str(said))
    assert [m["id"] for m in world.zulip.deleted] == [said]
