"""The real PyGithub, through our port, against the fake GitHub on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bot.core.ports import PlatformError
from bot.github import doctor
from bot.github.client import PyGithubPort, rate_limit_wait
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


async def test_a_non_member_added_to_a_team_is_only_invited(
        github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    fake.teams["django-sample-leads"] = set()
    fake.add_user("member", member=True)
    fake.add_user("outsider")
    assert await port.add_team_member("django-sample-leads", "member") == "active"
    assert await port.add_team_member("django-sample-leads", "outsider") == "pending"
    assert await port.team_members("django-sample-leads") == ["member"]
    assert await port.team_membership("django-sample-leads", "outsider") == "pending"
    fake.accept_invitation("outsider")
    assert await port.team_membership("django-sample-leads", "outsider") == "active"
    assert await port.team_membership("django-sample-leads", "nobody") is None


@pytest.mark.parametrize("status", [403, 429])
async def test_rate_limits_are_waited_out_as_github_asks(
        github: tuple[FakeGitHub, PyGithubPort], status: int) -> None:
    fake, port = github
    fake.add_user("sam")
    # A secondary limit: retry-after first, even with a reset further away.
    fake.secondary_limit("GET", "/users/sam", retry_after=30, status=status)
    with pytest.raises(PlatformError) as secondary:
        await port.get_user("sam")
    assert secondary.value.retry_after == 30
    assert not secondary.value.permanent
    # The primary limit: until x-ratelimit-reset, when nothing remains.
    fake.rate_limit_status = status
    fake.rate_limit_remaining, fake.rate_limit_reset = 0, int(time.time()) + 300
    with pytest.raises(PlatformError) as primary:
        await port.get_user("sam")
    assert primary.value.retry_after is not None
    assert 290 <= primary.value.retry_after <= 300
    assert not primary.value.permanent
    fake.rate_limit_remaining = 10
    assert await port.get_user("sam") is not None


async def test_a_limit_that_names_no_time_waits_a_minute_and_a_refusal_is_permanent(
        github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    fake.fail("PUT", "/orgs/jazzband/blocks/", status=429,
              body={"message": "Too many requests", "documentation_url": "https://docs"})
    with pytest.raises(PlatformError) as limited:
        await port.block_user("spammer")
    assert limited.value.retry_after == 60
    fake.fail("PUT", "/orgs/jazzband/blocks/", status=403,
              body={"message": "Must have admin rights", "documentation_url": "https://docs"})
    with pytest.raises(PlatformError) as refused:
        await port.block_user("spammer")
    assert refused.value.permanent
    assert refused.value.retry_after is None


def test_retry_after_comes_before_the_reset() -> None:
    now = 1_700_000_000.0
    assert rate_limit_wait(403, {"Retry-After": "5", "X-RateLimit-Remaining": "0",
                                 "X-RateLimit-Reset": str(int(now) + 3600)}, "", now=now) == 5
    assert rate_limit_wait(429, {"x-ratelimit-remaining": "0",
                                 "x-ratelimit-reset": str(int(now) + 90)}, "", now=now) == 90
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "12"}, "secondary rate limit",
                           now=now) == 60
    assert rate_limit_wait(403, {"x-ratelimit-remaining": "12"}, "Forbidden", now=now) is None
    assert rate_limit_wait(502, {"retry-after": "5"}, "", now=now) is None


async def test_lists_of_many_pages_are_read_whole(
        github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, port = github
    for number in range(5):
        fake.merged_pull("django-sample", "abc123", number + 1)
    assert await port.pulls_for_commit("django-sample", "abc123") == [1, 2, 3, 4, 5]
    assert len(fake.called("GET", "/repos/jazzband/django-sample/commits/abc123/pulls")) == 2
    fake.teams["big"] = {f"m{n}" for n in range(7)}
    assert len(await port.team_members("big")) == 7


async def test_the_doctor_tells_a_rate_limit_from_a_refused_token(
        github: tuple[FakeGitHub, PyGithubPort]) -> None:
    fake, _ = github
    fake.rate_limit_remaining, fake.rate_limit_reset = 0, int(time.time()) + 120
    [finding] = await doctor.check("jazzband", "t", fake.url, "the environment")
    assert not finding.ok
    assert finding.text.startswith("GitHub is rate limiting this token (403): run `roadie "
                                   "doctor` again in 1")
    fake.rate_limit_remaining = 10
    fake.fail("GET", "/user", status=401, body={"message": "Bad credentials",
                                                "documentation_url": "https://docs"})
    [finding] = await doctor.check("jazzband", "t", fake.url, "the environment")
    assert finding.text == "the token was refused (401): make a new one"
