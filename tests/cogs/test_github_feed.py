"""The GitHub feed's behaviour: bursts, CI notices edited in place, direct pushes, routing."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.events import GitHubEvent
from bot.github.client import PyGithubPort
from governance.audit import history
from governance.db import Database
from tests.cogs.feed_support import feed_roadie
from tests.fakes.github import FakeGitHub
from tests.support import github_payload

HEAD = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


def payload(name: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(github_payload(name))
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for step in parents:
            node = node[step]
        node[last] = value
    return data


def labeled(name: str, label: str) -> dict[str, Any]:
    data = payload("issues/opened", action=name)
    data["label"] = {"name": label}
    return data


def push_to_master(**changes: Any) -> dict[str, Any]:
    changes.setdefault("before", "a" * 40)
    return payload("push/with-new-branch", created=False, **changes)


# --- bursts ---------------------------------------------------------------------------------


async def test_a_storm_on_one_issue_becomes_one_message(tmp_path: Path,
                                                        db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        await feed.deliver("issues", payload("issues/opened"))
        for label in ("bug", "docs", "bug"):
            await feed.deliver("issues", labeled("labeled", label))
        assigned = payload("issues/opened", action="assigned")
        assigned["assignee"] = {"login": "carol"}
        await feed.deliver("issues", assigned)
        await feed.deliver("issue_comment", github_payload("issue_comment/created"))
        assert feed.texts() == [], "nothing is sent before the window closes"
        await feed.later()
        assert feed.texts() == [
            "**Hello-World#1 Spelling error in the README file** "
            "(https://github.com/Codertocat/Hello-World/issues/1)\n"
            "**Codertocat** opened this issue\n"
            "> It looks like you accidently spelled 'commit' with two 't's.\n"
            "**Codertocat** commented\n"
            "> You are totally right! I'll get this fixed right away.\n"
            "Labels: +bug, +docs\n"
            "Assigned to carol"]
        await feed.deliver("issues", payload("issues/reopened", action="closed"))
        await feed.later()
        assert len(feed.texts()) == 2
        assert "**Codertocat** closed this issue" in feed.texts()[1]


async def test_labels_alone_are_not_news(tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        await feed.deliver("issues", labeled("labeled", "bug"))
        await feed.later()
        assert feed.texts() == []
        assert await feed.statuses() == ["ignored"]


async def test_a_late_label_edits_the_message_or_follows_it_once(tmp_path: Path,
                                                                 db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        await feed.deliver("issues", payload("issues/opened"))
        await feed.later()
        (told,) = feed.chat.sent
        # Soon after the message went out, a label edits it in place.
        feed.clock.advance(timedelta(minutes=2))
        await feed.deliver("issues", labeled("labeled", "bug"))
        assert len(feed.chat.sent) == 1
        assert told.text.endswith("Labels: +bug")
        # Much later, a review request and an assignment make one follow-up message.
        feed.clock.advance(timedelta(hours=1))
        requested = payload("issues/opened", action="assigned")
        requested["assignee"] = {"login": "carol"}
        await feed.deliver("issues", requested)
        await feed.deliver("issues", labeled("labeled", "docs"))
        await feed.later()
        assert len(feed.chat.sent) == 2
        assert feed.texts()[1] == (
            "**Hello-World#1 Spelling error in the README file** "
            "(https://github.com/Codertocat/Hello-World/issues/1)\n"
            "Labels: +docs\n"
            "Assigned to carol")


async def test_a_label_filtered_feed_sees_the_labels_an_item_has_now(
        tmp_path: Path, sqlite_db: Database) -> None:
    config = {"feeds": [{"repos": ["*"], "destination": "feed"},
                        {"repos": ["*"], "destination": "security", "labels": ["security"]}]}
    async with feed_roadie(tmp_path, sqlite_db, config=config) as feed:
        await feed.deliver("issues", payload("issues/opened"))
        await feed.later()
        assert [s.place for s in feed.chat.sent] == ["feed"]
        late = labeled("labeled", "security")
        late["issue"]["labels"] = [{"name": "security"}]
        feed.clock.advance(timedelta(hours=1))
        await feed.deliver("issues", late)
        await feed.later()
        security = [s.text for s in feed.chat.sent if s.place == "security"]
        assert security == [
            "**Hello-World#1 Spelling error in the README file** "
            "(https://github.com/Codertocat/Hello-World/issues/1)\n"
            "**Codertocat** labelled this issue `security`\n"
            "Labels: +security"]
        # And from now on it follows the item there.
        comment = github_payload("issue_comment/created")
        comment["issue"]["labels"] = [{"name": "security"}]
        await feed.deliver("issue_comment", comment)
        await feed.later()
        assert len([s for s in feed.chat.sent if s.place == "security"]) == 2


async def test_handling_a_delivery_twice_adds_nothing_twice(tmp_path: Path,
                                                           db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        cog = next(c for c in feed.roadie.cogs if c.name == "github_feed")
        opened = GitHubEvent("issues", "opened", "d-1", payload("issues/opened"),
                             feed.clock.now())
        comment = GitHubEvent("issue_comment", "created", "d-2",
                              github_payload("issue_comment/created"), feed.clock.now())
        for event in (opened, comment, opened, comment):
            await cog.item_activity(event)  # type: ignore[attr-defined]
        await feed.later()
        assert len(feed.texts()) == 1
        assert feed.texts()[0].count("commented") == 1
        assert await cog.item_activity(comment) is False  # type: ignore[attr-defined]


async def test_a_pull_request_merged_with_its_review(tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        review = payload("pull_request_review/submitted", review__state="approved",
                         review__body="Ship it @everyone")
        await feed.deliver("pull_request_review", review)
        merged = payload("pull_request/closed", pull_request__merged_at="2019-05-15T15:21:18Z",
                         pull_request__merged_by={"login": "alice"})
        await feed.deliver("pull_request", merged)
        await feed.later()
        (text,) = feed.texts()
        assert "**Codertocat** approved\n> Ship it @\u200beveryone" in text
        assert "**alice** merged this pull request into `master`" in text
        assert feed.chat.sent[0].message.tone == "success"


async def test_topics_fit_zulip(tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        long_title = "A very long title that goes on and on about the README file and more"
        await feed.deliver("issues", payload("issues/opened", issue__title=long_title))
        await feed.later()
        topic = feed.chat.sent[0].message.topic
        assert topic == "Hello-World / #1 A very long title that goes on and on abou…"
        assert len(topic) == 60


# --- CI -------------------------------------------------------------------------------------


def run(conclusion: str, run_id: int, **changes: Any) -> dict[str, Any]:
    minute = 30 + run_id
    changes.setdefault("workflow_run__updated_at", f"2020-10-05T16:{minute:02d}:00Z")
    return payload("workflow_run/completed", workflow_run__conclusion=conclusion,
                   workflow_run__id=run_id, **changes)


async def test_a_failing_workflow_has_one_notice_edited_in_place(tmp_path: Path,
                                                                 db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        await feed.deliver("workflow_run", run("success", 1))
        assert feed.texts() == []
        await feed.deliver("workflow_run", run("failure", 2))
        (notice,) = feed.chat.sent
        assert notice.text == (
            "**❌ test failed on master of octo-repo** "
            "(https://github.com/octo-org/octo-repo/actions/runs/289782451)\n"
            "Failed: `3484a3f` build(test): check workflow run event payload (Codertocat)")
        await feed.deliver("workflow_run", run("failure", 3))
        await feed.deliver("workflow_run", run("failure", 3))  # the same run again
        assert len(feed.chat.sent) == 1, "edited, not repeated"
        assert notice.text.startswith(
            "**❌ test is failing on master of octo-repo: 2 runs in a row**")
        await feed.deliver("workflow_run", run("cancelled", 4))
        await feed.deliver("workflow_run", run("success", 5))
        assert len(feed.chat.sent) == 1
        assert notice.text.startswith("**✅ test passes again on master of octo-repo**")
        assert "After 2 failed runs; fixed by `3484a3f`" in notice.text
        await feed.deliver("workflow_run", run("success", 6))
        await feed.deliver("workflow_run", run("failure", 7))
        assert len(feed.chat.sent) == 1, "a failure soon after the fix: the same notice"
        assert notice.text.startswith("**⚠️ test is flapping on master of octo-repo: it failed "
                                      "again**")
        await feed.deliver("workflow_run", run("success", 8))
        assert "It flapped 1 time: a pass may not last." in notice.text
        # Long after the fix, a failure is news of its own.
        late = run("failure", 9, workflow_run__updated_at="2020-10-05T19:00:00Z")
        await feed.deliver("workflow_run", late)
        assert len(feed.chat.sent) == 2, "a failure long after a pass is a new notice"
        assert feed.chat.sent[1].text.startswith("**❌ test failed on master of octo-repo**")


STATUS_REPO = github_payload("push/payload")["repository"]  # Codertocat/Hello-World, master


def status(state: str, number: int, *, context: str = "ci/jenkins",
           branches: tuple[str, ...] = ("master",)) -> dict[str, Any]:
    """A commit status as GitHub's webhook schema (`status`) describes it."""
    sha = f"{number:02d}" + "f" * 38
    return {"id": 1000 + number, "sha": sha, "name": "Codertocat/Hello-World",
            "target_url": f"https://ci.example.org/job/{number}", "context": context,
            "description": f"The build {state}", "state": state,
            "commit": {"sha": sha, "html_url": f"https://github.com/Codertocat/Hello-World/"
                                               f"commit/{sha}",
                       "commit": {"message": f"Change {number}\n\ndetails"},
                       "author": {"login": "Codertocat"}},
            "branches": [{"name": b, "commit": {"sha": sha}} for b in branches],
            "created_at": f"2026-01-05T09:{number:02d}:00Z",
            "updated_at": f"2026-01-05T09:{number:02d}:30Z",
            "repository": copy.deepcopy(STATUS_REPO),
            "sender": {"login": "Codertocat", "type": "User"}}


async def test_commit_statuses_are_told_like_check_runs(tmp_path: Path, db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        await feed.deliver("status", status("pending", 1))
        await feed.deliver("status", status("success", 2))
        await feed.deliver("status", status("failure", 3, branches=("feature",)))
        assert feed.texts() == []
        await feed.deliver("status", status("failure", 4))
        (notice,) = feed.chat.sent
        assert notice.text == ("**❌ ci/jenkins failed on master of Hello-World** "
                               "(https://ci.example.org/job/4)\n"
                               "Failed: `04fffff` Change 4 (Codertocat)")
        await feed.deliver("status", status("error", 5))
        assert len(feed.chat.sent) == 1
        assert notice.text.startswith(
            "**❌ ci/jenkins is failing on master of Hello-World: 2 runs in a row**")
        await feed.deliver("status", status("success", 6))
        assert notice.text.startswith("**✅ ci/jenkins passes again on master of Hello-World**")
        await feed.deliver("status", status("failure", 7))
        assert len(feed.chat.sent) == 1
        assert "is flapping on master of Hello-World" in notice.text
        # Another context is another notice.
        await feed.deliver("status", status("failure", 8, context="ci/coverage"))
        assert len(feed.chat.sent) == 2


async def test_ci_elsewhere_than_the_default_branch_is_ignored(tmp_path: Path,
                                                               sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        await feed.deliver("workflow_run", run("failure", 1, workflow_run__head_branch="dev"))
        await feed.deliver("workflow_run", run("failure", 2, workflow_run__event="pull_request"))
        actions = payload("check_run/completed", check_run__conclusion="failure",
                          check_run__app={"slug": "github-actions", "name": "GitHub Actions"})
        actions["check_run"]["check_suite"]["head_branch"] = "master"
        await feed.deliver("check_run", actions)
        assert feed.texts() == []
        linter = payload("check_run/completed", check_run__conclusion="failure")
        linter["check_run"]["check_suite"]["head_branch"] = "master"
        await feed.deliver("check_run", linter)
        (text,) = feed.texts()
        assert text.startswith("**❌ Octocoders-linter failed on master of Hello-World** "
                               "(https://github.com/Codertocat/Hello-World/runs/128620228)")


# --- direct pushes --------------------------------------------------------------------------


@pytest.fixture
async def github() -> AsyncIterator[tuple[FakeGitHub, PyGithubPort]]:
    fake = FakeGitHub()
    await fake.start()
    yield fake, PyGithubPort(org="jazzband", token="t", api_url=fake.url, throttle=False)
    await fake.stop()


async def test_a_direct_push_is_told_with_a_dispute_choice(
        tmp_path: Path, db: Database, github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    async with feed_roadie(tmp_path, db, github=port) as feed:
        await feed.deliver("push", push_to_master())
        (sent,) = feed.chat.sent
        assert sent.place == "feed"
        assert sent.message.topic == "Hello-World / master"
        assert sent.text.startswith("**Codertocat pushed 1 commit to `master` in Hello-World**")
        assert ("⚠️ Direct push: Codertocat pushed to the default branch `master` without a "
                "merged pull request.\n- `6113728` Initial commit (Codertocat)") in sent.text
        assert [(c.label, c.command) for c in sent.message.choices] == [
            ("Open a dispute", f"dispute Hello-World {HEAD} Codertocat pushed to master "
                               "without a merged pull request")]
        assert fake.called("GET", f"/repos/jazzband/Hello-World/commits/{HEAD}/pulls")
        (entry,) = await db.run(lambda session: history(session, action_prefix="push.direct"))
        assert entry.actor == "github:Codertocat"
        assert entry.target == f"commit:hello-world@{HEAD}"


async def test_a_merged_pull_request_is_no_direct_push(
        tmp_path: Path, sqlite_db: Database, github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    fake.merged_pull("Hello-World", HEAD, 7)
    async with feed_roadie(tmp_path, sqlite_db, github=port) as feed:
        await feed.deliver("push", push_to_master())
        assert feed.texts() == []  # an ordinary push waits for the others of its burst
        await feed.later()
        (text,) = feed.texts()
        assert "Direct push" not in text
        assert feed.chat.sent[0].message.choices == ()


async def test_without_a_token_the_check_is_said_to_be_impossible(
        tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        await feed.deliver("push", push_to_master())
        (text,) = feed.texts()
        assert ("⚠️ Roadie could not check whether this push to the default branch came "
                "through a merged pull request: no GitHub token is configured.") in text


async def test_exempt_pushers_and_the_project_feed(
        tmp_path: Path, sqlite_db: Database, github: tuple[FakeGitHub, PyGithubPort]) -> None:
    _fake, port = github
    config = {"github_feed": {"direct_push": {"exempt_logins": ["RELEASER"]}},
              "feeds": [{"repos": ["*"], "destination": "feed", "events": ["issues"]}]}
    async with feed_roadie(tmp_path, sqlite_db, config=config, github=port) as feed:
        await feed.deliver("push", push_to_master(sender={"login": "releaser"}))
        await feed.deliver("push", push_to_master(sender={"login": "dependabot[bot]",
                                                          "type": "Bot"}))
        assert feed.texts() == [], "the feed takes issues only, and these pushes are exempt"
        await feed.deliver("push", push_to_master())
        (text,) = feed.texts("feed")
        assert "⚠️ Direct push" in text, "a direct push reaches the project's feed regardless"


async def test_github_failures_delay_the_check_then_say_so(
        tmp_path: Path, sqlite_db: Database, github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    fake.fail("GET", "/repos/jazzband/Hello-World/commits", status=502, times=2)
    async with feed_roadie(tmp_path, sqlite_db, github=port) as feed:
        await feed.deliver("push", push_to_master())
        assert feed.texts() == []
        assert await feed.statuses() == ["pending"], "kept for a retry"
        await feed.later(360)
        (text,) = feed.texts()
        assert "Roadie could not check whether this push" in text
        assert "GitHub answered: 502" in text
        assert await feed.statuses() == ["done"]


# --- routing --------------------------------------------------------------------------------


async def test_feeds_filter_events_branches_labels_bots_and_private(
        tmp_path: Path, sqlite_db: Database) -> None:
    config = {"feeds": [
        {"repos": ["hello-*"], "destination": "feed", "branches": ["main"],
         "actions": ["opened"]},
        {"repos": ["*"], "destination": "releases", "events": ["release"]},
        {"repos": ["*"], "destination": "security", "labels": ["Security"],
         "ignore_private": True},
    ], "github_feed": {"direct_push": {"enabled": False}}}
    async with feed_roadie(tmp_path, sqlite_db, config=config) as feed:
        await feed.deliver("release", github_payload("release/published"))
        assert [s.place for s in feed.chat.sent] == ["releases"]
        await feed.deliver("push", push_to_master())  # master is not main
        await feed.deliver("issues", github_payload("issues/reopened"))  # not opened
        await feed.deliver("issues", payload("issues/opened", sender={"login": "bot[bot]"}))
        await feed.later()
        assert [s.place for s in feed.chat.sent] == ["releases"]
        secret = payload("issues/opened", issue__number=5)
        secret["issue"]["labels"] = [{"name": "security"}]
        await feed.deliver("issues", secret)
        private = copy.deepcopy(secret)
        private["issue"]["number"] = 6
        private["repository"]["private"] = True
        await feed.deliver("issues", private)
        await feed.later()
        assert sorted(s.place for s in feed.chat.sent) == ["feed", "feed", "releases",
                                                            "security"]


async def test_push_lists_commits_up_to_the_cap(tmp_path: Path, sqlite_db: Database) -> None:
    commit = github_payload("push/with-new-branch")["commits"][0]
    commits = [{**commit, "id": f"{i}" + "a" * 39, "message": f"Change {i}\n\nDetails"}
               for i in range(1, 9)]
    config = {"github_feed": {"max_commits": 3, "direct_push": {"enabled": False}}}
    async with feed_roadie(tmp_path, sqlite_db, config=config) as feed:
        await feed.deliver("push", push_to_master(commits=commits, forced=True))
        await feed.deliver("push", payload("push/with-new-branch", created=False, deleted=True,
                                           after="0" * 40, commits=[], head_commit=None,
                                           ref="refs/heads/old"))
        first, second = feed.texts()
        assert first.startswith("**Codertocat force-pushed 8 commits to `master` in "
                                "Hello-World**")
        assert "- `1aaaaaa` Change 1 (Codertocat)\n- `2aaaaaa` Change 2 (Codertocat)\n" in first
        assert first.endswith("- `3aaaaaa` Change 3 (Codertocat)\nand 5 more")
        assert second.startswith("**Codertocat deleted branch `old` in Hello-World**")
        assert feed.chat.sent[1].message.topic == "Hello-World / old"


async def test_roadie_ignores_its_own_activity(tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        await feed.deliver("issues", payload("issues/opened", sender={"login": "roadie-bot"}))
        await feed.later()
        assert feed.texts() == []



async def test_pushes_to_a_branch_within_the_burst_window_are_one_message(
        tmp_path: Path, sqlite_db: Database) -> None:
    config = {"feeds": [{"repos": ["*"], "destination": "feed"},
                        {"repos": ["hello-*"], "destination": "releases", "events": ["push"]}],
              "github_feed": {"max_commits": 3, "direct_push": {"enabled": False}}}
    commit = github_payload("push/with-new-branch")["commits"][0]
    shas = [f"{i}" + "b" * 39 for i in range(7)]

    def push(i: int, branch: str = "master") -> dict[str, Any]:
        return push_to_master(before=shas[i - 1], after=shas[i], ref=f"refs/heads/{branch}",
                              commits=[{**commit, "id": shas[i], "message": f"Change {i}"}])

    async with feed_roadie(tmp_path, sqlite_db, config=config) as feed:
        for i in range(1, 7):
            await feed.deliver("push", push(i), delivery=f"push-{i}")
            feed.clock.advance(timedelta(seconds=1))
        await feed.deliver("push", push(6), delivery="push-6")  # delivered again
        await feed.deliver("push", push(1, "docs"), delivery="docs-1")
        await feed.later()
        told = [(s.place, s.text) for s in feed.chat.sent]
        assert [place for place, _ in told] == ["feed", "releases", "feed", "releases"]
        master = told[0][1]
        assert master.startswith(
            "**Codertocat pushed 6 commits to `master` in Hello-World in 6 pushes** "
            f"(https://github.com/Codertocat/Hello-World/compare/{shas[0][:12]}..."
            f"{shas[6][:12]})")
        assert master.endswith("3 earlier, then:\n- `4bbbbbb` Change 4 (Codertocat)\n"
                               "- `5bbbbbb` Change 5 (Codertocat)\n"
                               "- `6bbbbbb` Change 6 (Codertocat)")
        assert told[1][1] == master
        assert told[2][1].startswith("**Codertocat pushed 1 commit to `docs` in Hello-World** "
                                     "(https://github.com/Codertocat/Hello-World/commit/")
        # After the window, a push opens a new message.
        await feed.deliver("push", push(1), delivery="push-late")
        await feed.later()
        assert len(feed.chat.sent) == 6
