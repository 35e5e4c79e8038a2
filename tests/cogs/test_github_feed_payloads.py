"""Every GitHub payload example, posted signed through the real aiohttp app: acknowledged,
then rendered (the text people read is asserted) or deliberately ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.db import Database
from tests.cogs.feed_support import feed_roadie
from tests.support import FIXTURES, github_payload

EXAMPLES = FIXTURES / "github"

RENDERED: dict[str, tuple[str, list[str]]] = {
    "create/payload": ("feed", ["**Codertocat created tag `simple-tag` in Hello-World**"]),
    "delete/payload": ("feed", ["**Codertocat deleted tag `simple-tag` in Hello-World**"]),
    "fork/payload": ("feed", ["**Octocoders forked Hello-World to Octocoders/Hello-World** "
                              "(https://github.com/Octocoders/Hello-World)"]),
    "issue_comment/created": ("feed", [
        "**Hello-World#1 Spelling error in the README file** "
        "(https://github.com/Codertocat/Hello-World/issues/1)",
        "**Codertocat** commented\n> You are totally right! I'll get this fixed right away."]),
    "issues/opened": ("feed", [
        "**Hello-World#1 Spelling error in the README file**",
        "**Codertocat** opened this issue\n"
        "> It looks like you accidently spelled 'commit' with two 't's."]),
    "issues/reopened": ("feed", ["**Codertocat** reopened this issue"]),
    "member/added": ("feed", ["**hacktocat is now a collaborator on Hello-World**",
                              "Added by hacktocat."]),
    "membership/added": ("admins", ["**Codertocat was added to the github team**"]),
    "organization/member_added": ("admins", [
        "**hacktocat joined the Octocoders organization as member**", "Added by Codertocat."]),
    "ping/payload": ("admins", [
        "**✅ The GitHub webhook works**",
        "GitHub reached Roadie: the repository hook 109948940 of Octocoders/Hello-World is set "
        "up and signed correctly.", "It sends: *",
        "*Anything added dilutes everything else.*"]),
    "pull_request/closed": ("feed", [
        "**Hello-World#2 Update the README with new information.** "
        "(https://github.com/Codertocat/Hello-World/pull/2)",
        "**Codertocat** closed without merging this pull request"]),
    "pull_request/opened": ("feed", [
        "**Codertocat** opened this pull request into `master`\n"
        "> This is a pretty simple change that we need to pull into master."]),
    "pull_request/reopened": ("feed", ["**Codertocat** reopened this pull request"]),
    "pull_request_review/submitted": ("feed", ["**Codertocat** reviewed"]),
    "push/with-new-branch": ("feed", [
        "**Codertocat created branch `master` with 1 commit in Hello-World** "
        "(https://github.com/Codertocat/Hello-World/commit/"
        "6113728f27ae82c7b1a177c8d03f9e96e0adf246)",
        "- `6113728` Initial commit (Codertocat)"]),
    "release/published": ("feed", [
        "**Hello-World 0.0.1: release published by Codertocat** "
        "(https://github.com/Codertocat/Hello-World/releases/tag/0.0.1)"]),
    "repository/created": ("feed", ["**New repository Hello-World, created by Codertocat**"]),
    "repository/transferred": ("feed", [
        "**Hello-World was transferred from octocat by Codertocat**"]),
    "star/created": ("feed", ["**⭐ Codertocat starred Hello-World (1 star)**"]),
}

IGNORED = {
    "check_run/completed": "a success on a branch other than the default one",
    "issues/edited": "edits are not shown",
    "push/payload": "a tag deleted: the delete event tells it",
    "workflow_run/completed": "a success with no failure before it",
}

TOPICS = {
    "issues/opened": "Hello-World / #1 Spelling error in the README file",
    "pull_request/opened": "Hello-World / #2 Update the README with new information.",
    "push/with-new-branch": "Hello-World / master",
}


def example_names() -> list[str]:
    names = []
    for path in sorted(EXAMPLES.rglob("*.json")):
        relative = path.relative_to(EXAMPLES)
        names.append(f"{relative.parent}/{relative.name.removesuffix('.json')}"
                     .removesuffix(".payload"))
    return names


def test_every_example_is_either_rendered_or_ignored_on_purpose() -> None:
    assert sorted(example_names()) == sorted([*RENDERED, *IGNORED])
    assert (EXAMPLES / "LICENSE").exists()


@pytest.mark.parametrize("name", sorted(RENDERED))
async def test_example_is_rendered(name: str, tmp_path: Path, sqlite_db: Database) -> None:
    place, expected = RENDERED[name]
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        assert await feed.deliver(name.split("/")[0], github_payload(name)) == 202
        await feed.later()
        texts = feed.texts(place)
        assert len(texts) == 1, feed.texts()
        for part in expected:
            assert part in texts[0], texts[0]
        assert len(feed.chat.sent) == 1, "told once, in one place"
        if name in TOPICS:
            assert feed.chat.sent[0].message.topic == TOPICS[name]
        print(f"--- {name} -> {place}\n{texts[0]}")
        assert await feed.statuses() == ["done"]


@pytest.mark.parametrize("name", sorted(IGNORED))
async def test_example_is_ignored(name: str, tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        assert await feed.deliver(name.split("/")[0], github_payload(name)) == 202
        await feed.later()
        assert feed.texts() == []
        assert await feed.statuses() == ["ignored"]
