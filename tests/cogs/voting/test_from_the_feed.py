"""A direct push flagged by the GitHub feed becomes a dispute with one click."""

from __future__ import annotations

from pathlib import Path

from bot.github.client import PyGithubPort
from governance.audit import Actor
from governance.db import Database
from governance.people.service import link_directly
from tests.cogs.feed_support import feed_roadie
from tests.cogs.test_github_feed import HEAD, push_to_master
from tests.fakes.github import FakeGitHub
from tests.support import say


async def test_the_alerts_choice_opens_a_dispute_on_the_pushed_commit(tmp_path: Path,
                                                                       db: Database) -> None:
    fake = FakeGitHub()
    for login in ("alice", "carol", "dave", "erin"):
        fake.add_user(login, member=True)
    await fake.start()
    port = PyGithubPort(org="jazzband", token="t", api_url=fake.url, throttle=False)
    try:
        projects = {"projects": {"names": ["Hello-World"]}}
        async with feed_roadie(tmp_path, db, github=port, config=projects) as feed:
            await feed.roadie.db.run(lambda session: link_directly(
                session, actor=Actor.system(), platform='recording', user_id='7',
                display_name='carol', login='carol', now=feed.clock.now()))
            await feed.deliver("push", push_to_master())
            (choice,) = feed.chat.sent[-1].message.choices

            reply = await say(feed.roadie, "recording", "7", choice.command)
            assert reply.as_text() == (f"Vote #1 on the direct push {HEAD[:10]} to hello-world "
                                       "is open until 2026-01-08 09:00 UTC. `/vote 1` shows it.")
            status = feed.chat.sent[-1]
            assert status.place == "feed"
            assert status.text.startswith(f"**Vote #1: the direct push {HEAD[:10]} to "
                                          "hello-world**\n> Codertocat pushed to master without "
                                          "a merged pull request")
            assert [c.command for c in status.message.choices] == [
                "vote 1 revert", "vote 1 keep", "vote 1 review", "vote 1 0"]
            # Clicking it again finds the open dispute instead of opening a second one.
            reply = await say(feed.roadie, "recording", "7", choice.command)
            assert f"Commit {HEAD[:12]} of hello-world is already disputed: vote #1." in \
                reply.as_text()
    finally:
        await fake.stop()
