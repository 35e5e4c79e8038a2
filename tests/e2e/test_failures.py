"""Platform failures on loopback: 5xx, 429 with retry_after, a dropped gateway, an expired
Zulip queue, a permanent refusal. Nothing is lost and nothing is doubled."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.core.messages import Message
from bot.core.ports import PlatformError
from governance.outbox.models import FAILED, PENDING, SENT, OutboxMessage
from tests.e2e import probe_cog
from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.support import eventually


async def outbox(world: World, platform: str) -> list[OutboxMessage]:
    return await world.roadie.db.run(lambda session: list(session.exec(select(OutboxMessage).where(
        OutboxMessage.platform == platform).order_by(OutboxMessage.id)).all()))


def posts_to(world: World, channel_id: str) -> int:
    return len(world.discord.called("POST", f"/api/v10/channels/{channel_id}/messages"))


async def test_a_discord_5xx_is_retried_later_and_the_other_platform_goes_on(
        world: World) -> None:
    channel = world.channels["admins"]
    world.discord.fail_api("POST", f"/channels/{channel}/messages", status=503)
    await world.post("admins", Message(title="Deliveries failing"))
    assert world.on_discord("admins") == []
    assert world.on_zulip("admins") == ["**Deliveries failing**"]
    [row] = await outbox(world, "discord")
    assert (row.status, row.attempts) == (PENDING, 1)
    assert "503" in row.last_error

    await world.advance(2)  # the first backoff is one second
    assert world.on_discord("admins") == ["Deliveries failing"]
    assert (await outbox(world, "discord"))[0].status == SENT


async def test_a_discord_429_waits_as_asked(world: World) -> None:
    channel = world.channels["digest"]
    world.discord.rate_limit("POST", f"/channels/{channel}/messages", retry_after=0.01)
    await world.post("digest", Message(title="Daily digest"))
    assert world.on_discord("digest") == ["Daily digest"]  # discord.py waited and retried
    assert posts_to(world, channel) == 2

    world.discord.rate_limit("POST", f"/channels/{channel}/messages", retry_after=0.01,
                             times=5)
    await world.post("digest", Message(title="Another digest"))
    [_, row] = await outbox(world, "discord")  # discord.py gave up after five 429s
    assert row.status == PENDING
    assert row.attempts == 0  # a rate limit is not a failed attempt
    assert "rate limited" in row.last_error
    await world.advance(1)
    assert world.on_discord("digest") == ["Daily digest", "Another digest"]


async def test_discord_buckets_and_its_global_limit_lose_and_double_nothing(
        world: World) -> None:
    """Discord's rate-limit headers reach discord.py, which waits for a spent bucket; over
    the global limit, Discord answers 429s, which discord.py waits out and retries a few
    times, then the outbox, as long as Discord asked."""
    world.discord.rate_limits.limits["messages"] = (2, 1.0)
    world.discord.rate_limits.global_limit = 3
    places = ("admins", "feed", "digest")

    def burst(session: Session) -> None:
        for n in range(4):
            for place in places:
                world.roadie.outbox.post(session, place, Message(body=f"{place} {n}"))

    await world.roadie.db.run(burst)
    for _ in range(30):  # discord.py retries a few 429s itself, the outbox the rest, later
        if all(len(world.on_discord(p)) == 4 for p in places):
            break
        await world.advance(1)
    for place in places:
        assert world.on_discord(place) == [f"{place} {n}" for n in range(4)]
    posts = sum(posts_to(world, world.channels[p]) for p in places)
    assert posts > 12  # some were refused with a 429 and sent again
    assert {row.status for row in await outbox(world, "discord")} == {SENT}


async def test_a_long_discord_rate_limit_becomes_a_platform_error(world: World) -> None:
    channel = world.channels["feed"]
    world.discord.rate_limit("POST", f"/channels/{channel}/messages", retry_after=31)
    with pytest.raises(PlatformError) as limited:
        await world.discord_transport.send(channel, Message(body="x"), key="k1", mentions={})
    assert limited.value.retry_after == 31
    assert not limited.value.permanent


async def test_a_retried_discord_send_is_not_doubled(world: World) -> None:
    channel = world.channels["feed"]
    transport = world.discord_transport
    first = await transport.send(channel, Message(body="once"), key="feed:42", mentions={})
    again = await transport.send(channel, Message(body="once"), key="feed:42", mentions={})
    assert first == again
    assert world.on_discord("feed") == ["once"]


async def test_a_permanent_refusal_is_reported_to_the_admins_elsewhere(world: World) -> None:
    del world.discord.channels[world.channels["feed"]]  # someone deleted the channel
    await world.post("feed", Message(title="New release"))
    [row] = await outbox(world, "discord")
    assert row.status == FAILED
    assert "404" in row.last_error
    await world.settle()
    [report] = world.on_zulip("admins")
    assert report.startswith("**A message to feed on discord could not be sent**")
    assert "roadie doctor" in report


async def test_commands_given_while_the_gateway_is_down_are_answered(world: World) -> None:
    carol = world.discord_user("carol")
    await world.discord.drop()
    interaction = await world.discord.dispatch_slash(carol, "whoami")
    await world.discord.resumed.wait()
    await eventually(interaction.answered.is_set)
    assert "You are carol on discord" in interaction.answer().text
    assert world.discord.sessions == 1  # resumed, not a new session


async def test_a_zulip_5xx_is_retried_later(world: World) -> None:
    world.zulip.fail_api("POST", "/messages", status=502)
    await world.post("modlog", Message(title="Blocked spammer"))
    assert world.on_zulip("modlog") == []
    [row] = await outbox(world, "zulip")
    assert (row.status, row.attempts) == (PENDING, 1)
    assert "502" in row.last_error
    await world.advance(2)
    assert world.on_zulip("modlog") == ["**Blocked spammer**"]


async def test_a_zulip_429_waits_as_asked(world: World) -> None:
    world.zulip.rate_limit("POST", "/messages", retry_after=0.05)
    await world.post("modlog", Message(title="Unblocked"))
    [row] = await outbox(world, "zulip")
    assert row.status == PENDING
    assert "rate limited" in row.last_error
    assert row.not_before > world.clock.now()
    await world.advance(1)
    assert world.on_zulip("modlog") == ["**Unblocked**"]


async def test_a_zulip_answer_held_back_by_a_rate_limit_still_comes(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    world.zulip.rate_limit("POST", "/messages", retry_after=0.2, times=2)
    reply = await world.zulip.command(ann, "/whoami", stream="general", topic="chat")
    assert "Ann Lee" in reply["content"]
    assert len([m for m in world.zulip.messages_in("general", "chat")]) == 1


async def test_failed_event_polls_lose_nothing(world: World) -> None:
    ann = world.zulip_user("Ann Lee")
    world.zulip.fail_api("GET", "/events", status=502, times=2)
    reply = await world.zulip.command(ann, "/whoami", stream="general", topic="a")
    assert reply["content"].startswith("You are Ann Lee")
    reply = await world.zulip.command(ann, "/whoami", stream="general", topic="b")
    assert reply["content"].startswith("You are Ann Lee")


async def test_an_expired_zulip_queue_is_replaced_and_nothing_is_missed(
        make_world: MakeWorld) -> None:
    async with make_world(probe_cog.CONFIG) as world:
        probe = probe_cog.probe_of(world.roadie)
        ann = world.zulip_user("Ann Lee")
        world.zulip.expire_queues()
        said = await world.zulip.say(ann, "/whoami", stream="general", topic="gap")
        reply = await world.zulip.reply_to(ann, said, stream="general", topic="gap")
        assert reply["content"].startswith("You are Ann Lee")

        world.zulip.expire_queues()
        eve = await world.zulip.join("Eve")
        await eventually(lambda: bool(probe.joined))
        assert [j.user_id for j in probe.joined] == [str(eve.user_id)]
        assert world.zulip.registrations == 3
        await eventually(lambda: world.zulip_transport.registrations == 3)
