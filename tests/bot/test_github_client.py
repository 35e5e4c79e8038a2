"""The real PyGithub, through our port, against the fake GitHub on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.ports import PlatformError
from bot.github.client import PyGithubPort
from tests.fakes.github import FakeGitHub


@pytest.fixture
async def github() -> AsyncIterator[tuple[FakeGitHub, PyGithubPort]]:
    fake = FakeGitHub()
    await fake.start()
    yield fake, PyGithubPort(org="jazzband", token="t", api_url=fake.url, throttle=False)
    await fake.stop()


async def test_blocks_members_and_users(github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    fake.add_user("spammer", created_at="2026-11-20T00:00:00Z", public_repos=0, member=True)
    await port.block_user("spammer")
    assert await port.is_blocked("spammer")
    assert fake.called("PUT", "/orgs/jazzband/blocks/spammer")
    await port.unblock_user("spammer")
    assert not await port.is_blocked("spammer")
    assert await port.is_org_member("spammer")
    user = await port.get_user("spammer")
    assert user is not None
    assert user.public_repos == 0
    assert user.created_at is not None
    assert user.created_at.year == 2026
    assert await port.get_user("nobody") is None


async def test_errors_say_whether_to_retry(github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    fake.admins.add("boss")
    with pytest.raises(PlatformError) as refused:
        await port.block_user("boss")
    assert refused.value.permanent
    assert refused.value.status == 422
    fake.fail("PUT", "/orgs/jazzband/blocks/", status=502)
    with pytest.raises(PlatformError) as down:
        await port.block_user("someone")
    assert not down.value.permanent
    await port.block_user("someone")
    assert "someone" in fake.blocked


async def test_issues_teams_and_pulls(github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    issue = await port.create_issue("django-sample", "Onboarding", "- [ ] CI",
                                    assignees=("carol",))
    assert issue.number == 1
    assert issue.assignees == ("carol",)
    edited = await port.edit_issue("django-sample", 1, body="- [x] CI", state="closed")
    assert edited.state == "closed"
    assert (await port.get_issue("django-sample", 1)).body == "- [x] CI"
    await port.comment_issue("django-sample", 1, "done")
    assert fake.issues[("django-sample", 1)].comments[0]["body"] == "done"
    fake.teams["django-sample-leads"] = {"dave"}
    fake.add_user("erin", member=True)
    await port.add_team_member("django-sample-leads", "erin")
    assert sorted(await port.team_members("django-sample-leads")) == ["dave", "erin"]
    fake.merged_pull("django-sample", "abc123", 7)
    assert await port.pulls_for_commit("django-sample", "abc123") == [7]
    assert await port.pulls_for_commit("django-sample", "fff") == []
