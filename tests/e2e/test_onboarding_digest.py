"""Onboarding and the digest end to end: the real transports, the real PyGithub, on loopback."""

from __future__ import annotations

from cogs.digest.cog import DigestCog
from tests.cogs.onboarding.world import transferred
from tests.e2e.harness import World

DIGEST_ON_ZULIP = (
    "**Daily digest, Monday 2026-01-05**\n"
    "**Projects without a lead** (2)\n- django-sample\n- pip-tools-demo\n"
    "*`/digest` shows today's digest again, as of the moment you ask.*")
DIGEST_ON_DISCORD = (
    "Daily digest, Monday 2026-01-05\n"
    "**Projects without a lead** (2)\n- django-sample\n- pip-tools-demo\n"
    "`/digest` shows today's digest again, as of the moment you ask.")


async def test_the_digest_arrives_in_the_discord_channel_and_the_zulip_topic(
        world: World) -> None:
    [job] = [j for j in world.roadie.jobs if j.name == "digest.daily"]
    await world.roadie.scheduler.renew_lease()
    assert await world.roadie.scheduler.run_job(job)  # as its cron time makes it run
    await world.settle()
    assert world.on_discord("digest") == [DIGEST_ON_DISCORD]
    assert world.on_zulip("digest") == [DIGEST_ON_ZULIP]

    # Another replica's run (or a restart) on the same day sends nothing more.
    assert not await next(c for c in world.roadie.cogs if isinstance(c, DigestCog)).send(
        world.clock.now())
    await world.restart()
    await world.settle()
    assert len(world.on_discord("digest")) == len(world.on_zulip("digest")) == 1


async def test_an_item_ticked_in_chat_edits_the_github_issue(world: World) -> None:
    assert await world.webhook("repository", transferred()) == 202
    issue = world.github.issues[("Hello-World", 1)]
    assert "- [ ] `links`" in issue.body
    assert world.on_zulip("feed")[0].startswith("**Onboarding of Hello-World started**")

    carol = world.zulip_user("Carol Ng")
    await world.link("carol", zulip=carol)
    reply = await world.zulip.command(carol, "/onboarding Hello-World done links",
                                      stream="general", topic="onboarding")
    assert reply["content"] == ("Ticked `links` of Hello-World: 1 of 12 done. The GitHub issue "
                                "shows it.")
    assert "- [x] `links` Fix the links" in issue.body

    alice = world.discord_user("alice")
    await world.link("alice", discord=alice)
    answer = await world.discord.slash(alice, "onboarding", project="Hello-World",
                                       action="done", item="webhook")
    assert answer.text == ("Ticked `webhook` of Hello-World: 2 of 12 done. The GitHub issue "
                           "shows it.")
    assert "- [x] `webhook` Add the Read the Docs webhook" in issue.body
    answer = await world.discord.slash(alice, "onboarding", project="Hello-World")
    assert "✅ `webhook` Add the Read the Docs webhook to the repository (an org admin): " \
           "ticked by alice on 2026-01-05" in answer.text
