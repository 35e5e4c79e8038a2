"""Appeals: filed on GitHub from the appeal template or in chat, queued for the moderators,
decided, recorded in the case, and told to the person."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from governance.clock import FakeClock
from governance.db import Database
from governance.moderation import service as cases
from tests.cogs.moderation.world import World, fake_github, iso, world
from tests.fakes.github import FakeIssue
from tests.support import deliver, github_payload, say

SECRET = "appeals-test-secret"
CONFIG = {"github": {"webhook_secret_env": "ROADIE_TEST_APPEALS_SECRET"},
          "moderation": {"appeals_repo": "help"}}
SAM = "2001"  # sam's Discord account


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADIE_TEST_APPEALS_SECRET", SECRET)


def appeal_issue(number: int, author: str, body: str, *,
                 labels: tuple[str, ...] = ("appeal",)) -> dict[str, Any]:
    """The octokit issues/opened example, as opened from the appeal template in jazzband/help."""
    data = copy.deepcopy(github_payload("issues/opened"))
    data["issue"].update(number=number, title="Appeal", body=body,
                         html_url=f"https://github.com/jazzband/help/issues/{number}",
                         labels=[{"name": name} for name in labels])
    data["issue"]["user"]["login"] = author
    data["repository"].update(name="help", full_name="jazzband/help")
    data["sender"]["login"] = author
    return data


async def sam_says(w: World, text: str) -> str:
    return (await say(w.roadie, "discord", SAM, text.removeprefix("/"))).as_text()


async def test_an_appeal_on_github_is_queued_decided_and_answered(
        tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, CONFIG) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        await w.link("sam", SAM)
        blocked = await w.say("bob", "/block sam posted crypto links --chat")
        assert "Case #1: block of sam." in blocked
        (notice,) = [s.message for s in w.chat.sent if s.place == f"dm:{SAM}"]
        assert ("If you think this is a mistake, appeal: open an issue from the appeal "
                "template (https://github.com/jazzband/help/issues/new?template=appeal.yml)"
                in notice.body)

        github.issues[("help", 4)] = FakeIssue("help", 4, "Appeal", "", creator="sam")
        body = "Those were links to my own project's release notes."
        assert await deliver(w.roadie, "issues", appeal_issue(4, "sam", body), secret=SECRET,
                             delivery="a-1") == 202
        assert github.issues[("help", 4)].comments[-1]["body"] == (
            "Roadie has received your appeal against case #1. The moderators decide; Roadie "
            "answers here.")
        asked = w.last("moderators")
        assert asked.startswith("**Appeal against case #1: sam**")
        assert f"sam appeals (https://github.com/jazzband/help/issues/4): {body}" in asked
        # Delivered again: filed once.
        await deliver(w.roadie, "issues", appeal_issue(4, "sam", body), secret=SECRET,
                      delivery="a-2")
        queue = await w.say("bob", "/appeals")
        assert queue.splitlines()[0] == "Appeals waiting (1), oldest first:"
        assert "case #1 sam (blocked by bob: posted crypto links): sam" in queue

        decided = await w.say("dana", "/appeal decide 1 lift the links were release notes")
        assert decided.splitlines()[0] == "Case #1: the appeal by sam is lifted."
        assert "Case #1: sam unblocked by dana" in decided
        assert "The appeal's issue is answered and closed." in decided
        assert [user for user, _ in w.chat.unbans] == [SAM]
        issue = github.issues[("help", 4)]
        assert issue.comments[-1]["body"] == ("Your appeal against case #1: the block is "
                                              "lifted. dana decided: the links were release "
                                              "notes")
        assert issue.state == "closed"
        shown = await w.say("bob", "/case 1")
        assert "lifted" in shown.splitlines()[0]
        assert "by dana: lifted: the links were release notes" in shown
        assert await w.say("bob", "/appeals") == "No appeals are waiting."


async def test_an_appeal_in_chat_upheld(tmp_path: Path, db: Database,
                                        clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, CONFIG) as w:
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        await w.link("sam", SAM)
        await w.say("bob", "/block sam spam in issues --github")  # still in chat
        assert await sam_says(w, "/appeal I was testing a bot, sorry") == (
            "Your appeal against case #1 is with the moderators. Roadie tells you here when "
            "they decide.")
        assert (await sam_says(w, "/appeal please")).startswith(
            "✋ An appeal against case #1 is already waiting for the moderators")
        assert "sam appeals (in chat): I was testing a bot, sorry" in w.last("moderators")

        decided = await w.say("dana", "/appeal decide 1 uphold the spam was real")
        assert decided == ("Case #1: the appeal by sam is upheld.\n"
                           "sam is told by direct message.")
        told = [s.text for s in w.chat.sent if s.place == f"dm:{SAM}"][-1]
        assert told.startswith("**Your appeal against case #1: the block is upheld**")
        assert "dana decided: the spam was real" in told
        assert (await w.roadie.db.run(lambda session: cases.get_case(session, 1))).state == \
            "active"
        assert "sam" in github.blocked


async def test_appeal_refusals(tmp_path: Path, db: Database, clock: FakeClock) -> None:
    async with fake_github() as github, world(tmp_path, db, clock, github, CONFIG) as w:
        await w.link("sam", SAM)
        assert (await sam_says(w, "/appeal let me in")).startswith(
            "✋ Roadie finds no open case that blocks sam.")
        assert (await w.say("dana", "/appeal decide 1 lift fine")).startswith(
            "✋ There is no case #1.")
        github.add_user("sam", created_at=iso(clock.now() - timedelta(days=3)))
        await w.say("bob", "/block sam spam --github")
        assert (await w.say("dana", "/appeal decide 1 lift fine")).startswith(
            "✋ No appeal against case #1 is waiting.")
        assert (await w.say("carol", "/appeals")).startswith("✋ /appeals needs the moderator")
        # An issue in the help repository without the appeal label is not an appeal.
        github.issues[("help", 5)] = FakeIssue("help", 5, "Question", "", creator="sam")
        await deliver(w.roadie, "issues", appeal_issue(5, "sam", "how do I…", labels=()),
                      secret=SECRET)
        assert github.issues[("help", 5)].comments == []
