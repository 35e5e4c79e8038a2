"""The fakes are held to the services' descriptions: what an invalid exchange looks like."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from bot.github.client import PyGithubPort
from tests.fakes.contract import EXCHANGES, Exchange, _translate, contract
from tests.fakes.github import FakeGitHub


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def deliberate() -> Iterator[list[Exchange]]:
    """The exchanges this test makes on purpose, taken off the record afterwards so that
    the contract check does not fail the test that shows it working."""
    start = len(EXCHANGES)
    made: list[Exchange] = []
    yield made
    made += EXCHANGES[start:]
    del EXCHANGES[start:]


async def test_a_request_the_description_refuses_is_named_with_its_schema_path(
        github: FakeGitHub, deliberate: list[Exchange]) -> None:
    start = len(EXCHANGES)
    async with aiohttp.ClientSession() as http:
        answer = await http.post(f"{github.url}/repos/jazzband/demo/issues",
                                 json={"title": "Fine", "assignees": "carol"})
        assert answer.status == 201
        answer = await http.get(f"{github.url}/repos/jazzband/demo/issues?sort=loudest")
        await http.get(f"{github.url}/orgs/jazzband/no-such-thing")
    posted, listed, unknown = EXCHANGES[start:]
    assert posted.operation == "POST /repos/{owner}/{repo}/issues"
    assert posted.request_problems == [
        "body $.assignees: 'carol' is not of type 'array' (schema /paths/~1repos~1{owner}~1"
        "{repo}~1issues/post/requestBody/content/application~1json/schema/properties/assignees"
        "/type)"]
    failure = posted.failure()
    assert failure is not None
    assert failure.startswith("github POST /repos/{owner}/{repo}/issues -> 201: body")
    assert "'loudest' is not one of" in listed.request_problems[0]
    assert unknown.request_problems == ["no operation of the description matches"]


async def test_an_answer_the_description_refuses_fails_unless_answers_are_only_counted(
        github: FakeGitHub, deliberate: list[Exchange]) -> None:
    start = len(EXCHANGES)
    github.add_user("carol", member=True)
    github.fail("GET", "/orgs/jazzband/members", status=418, body={"message": "teapot"})
    async with aiohttp.ClientSession() as http:
        await http.get(f"{github.url}/orgs/jazzband/members")
    [exchange] = EXCHANGES[start:]
    assert exchange.request_valid
    assert exchange.response_problems == ["status 418 is not declared (declared: ['200', "
                                          "'422'])"]
    assert exchange.failure() is not None
    exchange.strict_responses = False
    assert exchange.failure() is None


def test_nullable_and_oneof_read_as_json_schema() -> None:
    assert _translate({"type": "string", "nullable": True, "enum": ["a"]}, True) == {
        "type": ["string", "null"], "enum": ["a", None]}
    assert _translate({"allOf": [{"$ref": "#/x"}], "nullable": True}, True) == {
        "anyOf": [{"allOf": [{"$ref": "#/x"}]}, {"type": "null"}]}
    assert _translate({"$ref": "#/x", "description": "ignored in 3.0"}, True) == {"$ref": "#/x"}
    assert _translate({"oneOf": [{"type": "string"}]}, False) == {"anyOf": [{"type": "string"}]}
    assert _translate({"minimum": 1, "exclusiveMinimum": True}, True) == {"exclusiveMinimum": 1}


def test_discord_takes_integer_snowflakes_in_requests_and_answers_strings() -> None:
    discord = contract("discord")
    found = discord.find("POST", "/users/@me/channels")
    assert found is not None
    operation, _ = found
    assert discord.check_request(operation, {}, {}, "application/json",
                                 {"recipient_id": 80351110224678912}) == []
    assert discord.check_request(operation, {}, {}, "application/json",
                                 {"recipient_id": "x1"}) != []


async def test_every_list_is_paginated_and_pygithub_follows_the_link(
        github: FakeGitHub) -> None:
    for number in range(7):
        github.add_user(f"member{number}", member=True)
    port = PyGithubPort(org="jazzband", token="t", api_url=github.url, throttle=False)
    assert await port.org_members() == [f"member{n}" for n in range(7)]
    pages = github.called("GET", "/orgs/jazzband/members")
    assert len(pages) == 3  # 3 + 3 + 1, at the fake's max_per_page of 3


async def test_every_answer_carries_the_rate_limit_headers(github: FakeGitHub) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/orgs/jazzband", "/users/nobody", "/orgs/jazzband/blocks/nobody"):
            answer = await http.get(github.url + path)
            assert answer.headers["x-ratelimit-limit"] == "5000"
            assert int(answer.headers["x-ratelimit-remaining"]) < 5000
            assert int(answer.headers["x-ratelimit-reset"]) > 0


def test_a_test_that_sends_an_invalid_request_fails(pytester: pytest.Pytester,
                                                     deliberate: list[Exchange]) -> None:
    pytester.makeconftest("from tests.conftest import _fakes_keep_their_contracts  # noqa")
    pytester.makeini("[pytest]\nasyncio_mode = auto\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_sends="""
        import aiohttp
        from tests.fakes.github import FakeGitHub

        async def test_sends_a_comment_without_its_body():
            fake = FakeGitHub()
            await fake.start()
            async with aiohttp.ClientSession() as http:
                await http.post(f"{fake.url}/repos/jazzband/demo/issues",
                                json={"title": "ok"})
                await http.post(f"{fake.url}/repos/jazzband/demo/issues/1/comments",
                                json={"text": "hello"})
            await fake.stop()
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*1 exchange(s) with a fake break the description:*",
        "github POST /repos/{owner}/{repo}/issues/{issue_number}/comments -> 422: body $: "
        "'body' is a required property (schema /paths/*/requestBody/content/application~1json"
        "/schema/required)*"])
