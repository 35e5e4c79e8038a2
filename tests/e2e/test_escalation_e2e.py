"""Escalations end to end, through Discord and through Zulip: opening, the admins' notice with
its mentions, reminders and breach alerts as the clock moves, acknowledging, resolving, and
what the reporter hears; refusals stay with the one who asked."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.fakes.discord import buttons_of, text_of

HOUR = 3600
ADMINS = {"people": {"admins": ["alice", "frank", "gina"]}}
"""Three admins: alice and frank linked in chat, gina not (she is named, never pinged)."""
SUMMARY = "Make the test job a required check on main"


async def linked(world: World, platform: str, names: dict[str, str]) -> list[Any]:
    """People in chat on `platform` (GitHub login -> name there), each linked to their login."""
    people = []
    for login, name in names.items():
        person = world.discord_user(name) if platform == "discord" else world.zulip_user(name)
        await world.link(login, **{platform: person})
        people.append(person)
    return people


def labels(message: dict[str, Any]) -> list[str]:
    return [b["label"] for b in buttons_of(message)]


def last_dm(world: World, user: Any) -> str:
    return text_of(world.discord.dms_to(user)[-1])


async def test_an_escalation_through_discord(make_world: MakeWorld) -> None:
    async with make_world(ADMINS) as world:
        alice, frank, carol = await linked(world, "discord", {"alice": "alice", "frank": "frank",
                                                              "carol": "carol"})

        answer = await world.discord.slash(carol, "escalate", project="django-sample",
                                           kind="required-checks", summary=SUMMARY,
                                           urgent=True)
        assert not answer.ephemeral
        assert answer.text.startswith(
            "Escalation #1 is open (urgent required-checks for django-sample), assigned to "
            "alice. An admin acknowledges it by 2026-01-05 13:00 UTC (in 4h)")
        await world.settle()
        [notice] = world.discord.messages_in(world.channels["admins"])
        assert notice["content"] == f"cc <@{alice.id}>"  # the assignee, pinged
        assert notice["allowed_mentions"] == {"parse": [], "users": [int(alice.id)]}
        assert text_of(notice).startswith(f"cc <@{alice.id}>\nEscalation #1: urgent "
                                          f"required-checks for django-sample\n{SUMMARY}\n")
        assert labels(notice) == ["Take it", "Acknowledge"]
        [in_feed] = world.discord.messages_in(world.channels["feed"])
        assert text_of(in_feed).startswith("Escalation #1: urgent required-checks")
        assert in_feed["content"] == ""  # the public hears of it, nobody is pinged
        assert labels(in_feed) == []

        await world.advance(2 * HOUR)  # half the time to acknowledge: the assignee is reminded
        reminder = world.discord.dms_to(alice)[-1]
        assert text_of(reminder).startswith(
            "Reminder: escalation #1 waits for acknowledgement\n50% of its time is gone: to be "
            "acknowledged by 2026-01-05 13:00 UTC (in 2h).")
        assert labels(reminder) == ["Acknowledge"]

        await world.advance(2 * HOUR + 60)  # the deadline passed: every admin is alerted
        alert = world.discord.messages_in(world.channels["admins"])[-1]
        assert text_of(alert).startswith(
            f"cc <@{alice.id}> <@{frank.id}> @gina\n"
            "Overdue: escalation #1 was not acknowledged in time\n")
        assert alert["allowed_mentions"] == {"parse": [],
                                             "users": [int(alice.id), int(frank.id)]}
        assert labels(alert) == ["Acknowledge"]  # alice holds it: nobody is offered to take it

        answer = await world.discord.click(frank, alert, "Acknowledge")
        assert answer.ephemeral
        assert answer.text.startswith("Acknowledged escalation #1; the reporter has been told.")
        await world.settle()
        assert last_dm(world, carol).startswith(
            "Escalation #1 acknowledged\nacknowledged by frank after 4h 1m (after its deadline)")
        assert last_dm(world, alice).startswith("Escalation #1 acknowledged")  # the assignee

        answer = await world.discord.slash(frank, "escalation resolve", number=1,
                                           note="Required check set on main")
        assert answer.text == "Resolved escalation #1; the reporter has been told."
        await world.settle()
        assert last_dm(world, carol).startswith(
            "Escalation #1 resolved\nresolved by frank: Required check set on main")
        assert world.on_discord("feed")[-1].startswith("Escalation #1 resolved")
        await world.advance(24 * HOUR)
        assert len(world.discord.messages_in(world.channels["admins"])) == 2  # no more alerts


async def test_an_escalation_through_zulip(make_world: MakeWorld) -> None:
    async with make_world(ADMINS) as world:
        alice, frank, carol = await linked(world, "zulip", {
            "alice": "Alice Liddell", "frank": "Frank Lin", "carol": "Carol Danvers"})

        reply = await world.zulip.command(
            carol, f"/escalate django-sample required-checks {SUMMARY} --urgent",
            stream="general", topic="ci")
        assert (reply["type"], reply["subject"]) == ("stream", "ci")  # answered where asked
        assert reply["content"].startswith(
            "Escalation #1 is open (urgent required-checks for django-sample), assigned to "
            "alice.")
        await world.settle()
        [notice] = world.zulip.messages_in("governance", "admins")
        assert notice["content"].startswith(
            f"**Escalation #1: urgent required-checks for django-sample**\n{SUMMARY}\n")
        assert f"\ncc {alice.mention}\n" in notice["content"]
        assert "1. Take it: `/escalation take 1`\n2. Acknowledge: `/escalation ack 1`" in \
            notice["content"]
        assert world.on_zulip("feed")[0].startswith("**Escalation #1: urgent required-checks")

        await world.advance(2 * HOUR)
        assert world.zulip.pms_to(alice)[-1]["content"].startswith(
            "**Reminder: escalation #1 waits for acknowledgement**\n50% of its time is gone")
        await world.advance(2 * HOUR + 60)
        alert = world.on_zulip("admins")[-1]
        assert alert.startswith("**Overdue: escalation #1 was not acknowledged in time**\n")
        assert f"\ncc {alice.mention} {frank.mention} @gina\n" in alert

        before = len(world.zulip.pms_to(alice))
        await world.zulip.react(alice, notice["id"], "two")  # 2. Acknowledge
        [answer] = await world.zulip.wait_for(lambda: world.zulip.pms_to(alice)[before:])
        assert answer["content"].startswith(
            "Acknowledged escalation #1; the reporter has been told.")
        await world.settle()
        assert world.zulip.pms_to(carol)[-1]["content"].startswith(
            "**Escalation #1 acknowledged**\nacknowledged by alice after 4h 1m")

        await world.advance(8 * HOUR)  # half the time to resolve (24h from opening)
        reminder = world.zulip.pms_to(alice)[-1]["content"]
        assert reminder.startswith("**Reminder: escalation #1 waits for resolution**\n50% of "
                                   "its time is gone")
        assert "Resolve it with `/escalation resolve 1 <note>`." in reminder
        assert "/choose" not in reminder  # a resolution needs a note: no one-step choice

        reply = await world.zulip.command(alice, "escalation resolve 1 Required check set")
        assert reply["content"] == "Resolved escalation #1; the reporter has been told."
        await world.settle()
        assert world.zulip.pms_to(carol)[-1]["content"].startswith(
            "**Escalation #1 resolved**\nresolved by alice: Required check set")
        assert world.on_zulip("feed")[-1].startswith("**Escalation #1 resolved**")


async def test_escalation_refusals_on_discord_are_ephemeral(world: World) -> None:
    carol, stranger = world.discord_user("carol"), world.discord_user("stranger")
    await world.link("carol", discord=carol)

    answer = await world.discord.slash(stranger, "escalate", project="django-sample",
                                       kind="ci", summary="CI is red")
    assert answer.ephemeral
    assert answer.text.startswith("✋ /escalate needs the member role")
    answer = await world.discord.slash(carol, "escalate", project="django-sample",
                                       kind="coffee", summary="More coffee")
    assert answer.ephemeral
    assert "coffee" in answer.text
    assert "required-checks" in answer.text  # the kinds that are valid
    answer = await world.discord.slash(carol, "escalate", project="django-sample", kind="ci",
                                       summary="CI is red")
    assert not answer.ephemeral
    answer = await world.discord.slash(carol, "escalation ack", number=1)
    assert answer.ephemeral
    assert answer.text.startswith("✋ /escalation ack needs the admin role")
    await world.settle()
    assert len(world.on_discord("admins")) == 1  # only the ticket that was opened


async def test_escalation_refusals_on_zulip_are_private(world: World) -> None:
    carol = world.zulip_user("Carol Danvers")
    await world.link("carol", zulip=carol)

    reply = await world.zulip.command(carol, "/escalate no-such-project ci CI is red",
                                      stream="general", topic="ci")
    assert reply["type"] == "private"
    assert reply["content"].startswith("✋ There is no project called 'no-such-project'.")
    reply = await world.zulip.command(carol, "/escalation ack 1", stream="general", topic="ci")
    assert reply["type"] == "private"
    assert reply["content"].startswith("✋ /escalation ack needs the admin role")
    assert world.zulip.messages_in("general", "ci") == []
    await world.settle()
    assert world.on_zulip("admins") == []
