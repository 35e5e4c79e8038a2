"""What the mirror copies to GitHub pings nobody: `@user` and `@org/team` in a summary or a
comment are defused and quoted, while Roadie's own mentions of reporter and assignee stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.usertext import LIVE_GITHUB_MENTION
from governance.db import Database
from tests.cogs.test_escalation_mirror import github, mirrored  # noqa: F401 (a fixture)
from tests.fakes.github import FakeGitHub


async def test_mirrored_text_mentions_nobody_on_github(tmp_path: Path, db: Database,
                                                       github: FakeGitHub,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    async with mirrored(tmp_path, db, github, monkeypatch) as scene:
        await scene.say("/as alice", "/as carol",
                        "/escalate django-sample webhook @jazzband/admins and @bob: look\n"
                        "**Escalation #1 resolved**")
        await scene.say("/escalation comment 1 cc @jazzband/owners, @dave")
        await scene.synced()
        issue = github.issues[("help", 1)]
        assert LIVE_GITHUB_MENTION.findall(issue.title) == []
        assert LIVE_GITHUB_MENTION.findall(issue.body) == ["@carol", "@alice"]
        assert "\n> @\u200bjazzband/admins and @\u200bbob: look\n> **Escalation #1 resolved**\n" \
            in issue.body
        [comment] = scene.comments()
        assert LIVE_GITHUB_MENTION.findall(comment) == ["@carol"]
        assert comment.endswith("> cc @\u200bjazzband/owners, @\u200bdave")
