"""Discord end to end: slash commands, refusals, buttons, notices, DMs, joins, bans."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import event

from bot.core.messages import Choice, Field, Message
from bot.core.ports import PlatformError
from bot.transports.discord.transport import CONNECTIONS
from tests.e2e import probe_cog
from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.fakes.discord import BAN_MEMBERS, BOT_PERMISSIONS, buttons_of, text_of
from tests.support import eventually


def synced(world: World, name: str) -> dict:
    return next(c for c in world.discord.commands if c["name"] == name)


async def test_every_command_is_a_slash_command_with_typed_options(world: World) -> None:
    names = {c["name"] for c in world.discord.commands}
    assert {"help", "whoami", "grant", "revoke", "roles", "link", "unlink", "projects",
            "project"} <= names
    assert "as" not in names  # console only
    assert "choose" not in names  # Zulip only
    options = {o["name"]: o for o in synced(world, "grant")["options"]}
    assert options["login"]["type"] == 3
    assert options["login"]["required"] is True
    assert [c["value"] for c in options["role"]["choices"]] == ["member", "lead", "moderator",
                                                                "admin"]
    assert options["project"]["autocomplete"] is True
    assert options["reason"].get("required", False) is False
    link = {o["name"]: o for o in synced(world, "link")["options"]}
    assert link["start"]["type"] == 1  # a subcommand of the /link group
    assert link["start"]["options"][0]["name"] == "login"


async def test_an_admin_grants_a_role_and_the_modlog_hears_of_it(world: World) -> None:
    alice = world.discord_user("alice")
    await world.link("alice", discord=alice)

    answer = await world.discord.slash(alice, "grant", login="dave", role="moderator",
                                       reason="reviews a lot")
    assert answer.text == "dave is now moderator."
    assert not answer.ephemeral
    await world.settle()
    assert world.on_discord("modlog") == ["dave is now moderator\nGranted by alice. "
                                          "Reason: reviews a lot"]
    assert world.on_zulip("modlog") == ["**dave is now moderator**\nGranted by alice. "
                                        "Reason: reviews a lot"]


async def test_refusals_and_usage_errors_are_ephemeral(world: World) -> None:
    carol = world.discord_user("carol")
    answer = await world.discord.slash(carol, "grant", login="bob", role="admin")
    assert answer.ephemeral
    assert answer.text.startswith("✋ /grant needs the admin role")
    assert "`/link <github-login>`" in answer.text

    alice = world.discord_user("alice")
    await world.link("alice", discord=alice)
    answer = await world.discord.slash(alice, "grant", login="not a login!", role="admin")
    assert answer.ephemeral
    assert "is not a GitHub login" in answer.text
    assert world.on_discord("modlog") == []


async def test_help_lists_and_explains_commands(world: World) -> None:
    carol = world.discord_user("carol")
    answer = await world.discord.slash(carol, "help")
    assert "- `/whoami`: Who Roadie thinks you are" in answer.text
    assert "/grant" not in answer.text  # not for carol's role
    answer = await world.discord.slash(carol, "help", command="grant")
    assert answer.text.startswith("`/grant <login> <member|lead|moderator|admin> [project]")
    assert "(You may not use this one yet.)" in answer.text


async def test_autocomplete_offers_projects(world: World) -> None:
    alice = world.discord_user("alice")
    found = await world.discord.autocomplete(alice, "grant", "project", login="bob",
                                             role="lead", project="dj")
    assert found == [{"name": "django-sample", "value": "django-sample"}]


async def test_a_slow_command_is_deferred_then_answered(make_world: MakeWorld) -> None:
    async with make_world(probe_cog.CONFIG) as world:
        probe = probe_cog.probe_of(world.roadie)
        carol = world.discord_user("carol")
        world.discord_transport.defer_after = 0.01
        public = await world.discord.dispatch_slash(carol, "probe wait", answer="public")
        private = await world.discord.dispatch_slash(carol, "probe wait", answer="private")
        await eventually(lambda: public.deferred and private.deferred)
        assert public.deferred_ephemeral  # "thinking" shows only to the one who asked
        probe.release.set()
        await eventually(lambda: public.answered.is_set() and private.answered.is_set())
        assert public.original_deleted  # the private "thinking" made way for a public answer
        assert public.answer().text == "Released (public)."
        assert not public.answer().ephemeral
        assert private.answer().text == "Released (private)."
        assert private.answer().ephemeral


async def test_a_choice_is_a_button_that_runs_its_command_as_the_clicker(world: World) -> None:
    alice, carol = world.discord_user("alice"), world.discord_user("carol")
    await world.link("alice", discord=alice)
    long_reason = "a reason long enough that the command no longer fits a custom id " * 2
    await world.post("admins", Message(title="What now?", choices=(
        Choice("Who am I?", "whoami", style="primary"),
        Choice("Make dave a moderator", f'grant dave moderator --reason "{long_reason}"'))))
    [message] = world.discord.messages_in(world.channels["admins"])
    assert [b["label"] for b in buttons_of(message)] == ["Who am I?", "Make dave a moderator"]
    assert buttons_of(message)[0]["custom_id"] == "roadie:whoami"
    assert buttons_of(message)[1]["custom_id"].startswith("roadie#")

    answer = await world.discord.click(carol, message, "Who am I?")
    assert answer.ephemeral
    assert "You are carol on discord" in answer.text
    refused = await world.discord.click(carol, message, "Make dave a moderator")
    assert refused.ephemeral
    assert refused.text.startswith("✋ /grant needs the admin role")

    await world.restart()  # buttons keep working in a new process
    answer = await world.discord.click(alice, message, "Make dave a moderator")
    assert answer.text == "dave is now moderator."
    assert answer.ephemeral


async def test_a_notice_fits_discords_limits_and_pings_only_linked_people(world: World) -> None:
    alice = world.discord_user("alice")
    await world.link("alice", discord=alice)
    await world.post("feed", Message(
        title="T" * 300, body="@everyone look " + "b" * 5000,
        fields=tuple(Field(f"field {i}", "v" * 2000) for i in range(30)),
        mentions=("alice", "zed"), url="https://github.com/jazzband/x/pull/1", tone="success"))
    [message] = world.discord.messages_in(world.channels["feed"])
    embed = message["embeds"][0]
    assert len(embed["title"]) == 256
    assert embed["title"].endswith("…")
    assert len(embed["description"]) <= 4096
    assert embed["description"].endswith("…")
    assert len(embed["fields"]) <= 25
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"]) + sum(
        len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    assert "more not shown" in embed["footer"]["text"]
    assert embed["url"] == "https://github.com/jazzband/x/pull/1"
    assert message["content"] == f"cc <@{alice.id}> @zed"
    assert message["allowed_mentions"] == {"parse": [], "users": [int(alice.id)]}


async def test_direct_messages_reach_linked_people(world: World) -> None:
    alice = world.discord_user("alice")
    await world.link("alice", discord=alice)
    assert [text_of(m) for m in world.discord.dms_to(alice)] == [
        "Your chat account is linked\nYour comment proved that this account is alice on "
        "GitHub."]


async def test_ban_unban_and_lookup(world: World) -> None:
    spammer = world.discord_user("spammer")
    transport = world.discord_transport
    member = await transport.lookup_member(spammer.id)
    assert member is not None
    assert member.display_name == "spammer"

    await transport.ban(spammer.id, reason="crypto spam (by bob)", delete_message_days=2)
    assert world.discord.bans[spammer.id]["reason"] == "crypto spam (by bob)"
    assert world.discord.ban_log[-1] == ("PUT", spammer.id, {
        "reason": "crypto spam (by bob)", "delete_message_seconds": 172800})
    assert await transport.lookup_member(spammer.id) is None

    await transport.unban(spammer.id, reason="appeal accepted")
    await transport.unban(spammer.id, reason="twice is fine")
    assert spammer.id not in world.discord.bans

    world.discord.set_bot_permissions(BOT_PERMISSIONS & ~BAN_MEMBERS)
    with pytest.raises(PlatformError) as refused:
        await transport.ban(spammer.id, reason="again")
    assert refused.value.permanent
    assert refused.value.status == 403


async def test_a_slow_command_is_deferred_within_discords_three_seconds(
        make_world: MakeWorld) -> None:
    """The fake refuses an answer that comes after 3 s; the command takes 3.5 s."""
    async with make_world(probe_cog.CONFIG) as world:
        probe = probe_cog.probe_of(world.roadie)
        carol = world.discord_user("carol")
        asked = await world.discord.dispatch_slash(carol, "probe wait", answer="public")
        await asyncio.sleep(world.discord.interaction_deadline + 0.5)
        assert asked.deferred
        assert asked.acknowledged
        probe.release.set()
        await eventually(lambda: asked.answered.is_set())
        assert asked.answer().text == "Released (public)."
        assert asked.refusals == []  # nothing came too late, nothing was answered twice


async def test_many_choices_become_rows_of_buttons_with_unique_ids(world: World) -> None:
    choices = tuple(Choice(f"Option {n}", f"whoami {n}") for n in range(12))
    await world.post("feed", Message(title="Pick one", choices=(
        *choices, Choice("Option 0 again", "whoami 0"),
        Choice("Long", "whoami " + "x" * 120))))
    [message] = world.discord.messages_in(world.channels["feed"])  # Discord accepted it
    rows = [[b["label"] for b in row["components"]] for row in message["components"]]
    assert rows == [[f"Option {n}" for n in range(5)], [f"Option {n}" for n in range(5, 10)],
                    ["Option 10", "Option 11", "Long"]]
    custom_ids = [b["custom_id"] for b in buttons_of(message)]
    assert len(set(custom_ids)) == len(custom_ids)
    assert max(map(len, custom_ids)) <= 100

    many = tuple(Choice(f"#{n}", f"whoami {n}") for n in range(30))
    await world.post("feed", Message(title="Pick from many", choices=many))
    _, crowded = world.discord.messages_in(world.channels["feed"])
    assert len(crowded["components"]) == 5
    assert len(buttons_of(crowded)) == 25
    assert "Also: #25: `/whoami 25`" in text_of(crowded)


async def test_long_text_is_shortened_not_refused(world: World) -> None:
    await world.post("feed", Message(body="y" * 7000, mentions=tuple(
        f"person{n}" for n in range(400))))
    [message] = world.discord.messages_in(world.channels["feed"])  # Discord accepted it
    assert len(message["content"]) == 2000
    assert message["content"].endswith("…")
    assert len(message["embeds"][0]["description"]) == 4096


async def test_a_slow_database_still_gets_every_interaction_answered_in_time(
        world: World) -> None:
    """Every statement takes 1.6 s: a command is deferred before Discord's 3 s are up and
    answered later. Suggestions cannot be deferred: when they would come too late (2.5 s a
    statement), none are offered, in time."""
    carol = world.discord_user("carol")
    delay = 1.6

    def slow(*_args: Any) -> None:
        time.sleep(delay)

    engine = world.roadie.db.engine
    event.listen(engine, "before_cursor_execute", slow)
    try:
        asked = await world.discord.dispatch_slash(carol, "whoami")
        await asyncio.wait_for(asked.answered.wait(), 30)
        delay = 2.5
        suggesting = await world.discord.dispatch_slash(
            carol, "grant", focused="project", login="bob", role="lead", project="dj")
        await asyncio.wait_for(suggesting.answered.wait(), 10)
    finally:
        event.remove(engine, "before_cursor_execute", slow)
    assert asked.deferred
    assert "You are carol on discord" in asked.answer().text
    assert suggesting.choices == []
    assert asked.refusals == []  # nothing came too late
    assert suggesting.refusals == []


async def test_a_burst_of_commands_is_answered_over_a_bounded_number_of_connections(
        world: World) -> None:
    members = await world.discord_members(2 * CONNECTIONS)
    asked = await asyncio.gather(*(world.discord.dispatch_slash(user, "whoami")
                                   for user, _ in members))
    await asyncio.wait_for(asyncio.gather(*(a.answered.wait() for a in asked)), 60)
    for interaction, (_, login) in zip(asked, members, strict=True):
        assert interaction.answer().text.startswith(f"You are {login} on GitHub.")
    assert len(world.discord.connections) <= CONNECTIONS
