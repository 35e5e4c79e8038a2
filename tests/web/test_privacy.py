"""Nothing private reaches a public page or its JSON: direct messages, secret ballots before
the close, private repositories' projects (unless published), moderation cases' subjects,
reasons, moderators and appeals (a case the moderators publish shows only the summary they
wrote, and the account only if they named it), admins' away notes, escalations' summaries,
chat ids."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import Session

from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.moderation import publishing
from governance.votes.closing import close as close_vote
from tests.web import test_pages as pages
from tests.web.conftest import PATH, web_app
from tests.web.world import (
    KEY,
    NAMED_ACCOUNT,
    PRIVATE,
    PRIVATE_PROJECT,
    PUBLIC_SUMMARY,
    PUBLISHER,
    SECRET_REASON,
    World,
)

PAGES = ("", *pages.PAGES)
CASE_SUMMARY = "Harassed contributors; the case is public at their request."


async def everything(client: TestClient) -> dict[str, str]:
    shown = {}
    for name in PAGES:
        for url in (f"{PATH}/{name}", f"{PATH}/api/{name}" if name else f"{PATH}/api"):
            response = await client.get(url)
            assert response.status == 200, url
            shown[url] = await response.text()
    return shown


def leaks(shown: dict[str, str]) -> list[str]:
    return [f"{secret!r} on {url}" for url, text in shown.items() for secret in PRIVATE
            if secret.lower() in text.lower()]


async def test_no_page_or_json_shows_private_data(client: TestClient, world: World) -> None:
    shown = await everything(client)
    assert leaks(shown) == []
    secret_vote = next(v for v in json.loads(shown[f"{PATH}/api/votes"])["open"]
                       if v["number"] == world.secret_vote)
    assert secret_vote["tally"] is None  # neither the choices nor their count
    assert secret_vote["voted"] == ["adam", "ada"]  # only who voted
    assert f"#{world.private_ticket}" not in shown[f"{PATH}/escalations"]
    for url in (f"{PATH}/moderation", f"{PATH}/api/moderation", f"{PATH}/digest"):
        assert PUBLIC_SUMMARY in shown[url]  # what the moderators wrote for everyone


async def test_a_published_case_shows_only_its_summary_until_unpublished(
        db: Database, clock: FakeClock, client: TestClient, world: World) -> None:
    def publish(session: Session) -> None:
        publishing.publish(session, number=world.private_case, actor=Actor.github(PUBLISHER),
                           summary=CASE_SUMMARY, name=False, now=clock.now())

    await db.run(publish)
    shown = await everything(client)
    assert leaks(shown) == []  # neither its subject nor its reason, nor who published it
    cases = json.loads(shown[f"{PATH}/api/moderation"])["published"]
    assert [(c["number"], c["summary"], c["account"]) for c in cases] == [
        (world.published_case, PUBLIC_SUMMARY, NAMED_ACCOUNT),
        (world.private_case, CASE_SUMMARY, None)]
    assert f"Case #{world.private_case}: an account, active" in shown[f"{PATH}/moderation"]
    assert CASE_SUMMARY in shown[f"{PATH}/api/digest"]  # published in the last day

    def unpublish(session: Session) -> None:
        for number in (world.private_case, world.published_case):
            publishing.unpublish(session, number=number, actor=Actor.github(PUBLISHER),
                                 now=clock.now())

    await db.run(unpublish)
    shown = await everything(client)
    assert leaks(shown) == []
    for summary in (CASE_SUMMARY, PUBLIC_SUMMARY):
        assert [url for url, text in shown.items() if summary in text] == []
    assert [url for url, text in shown.items() if NAMED_ACCOUNT in text] == []
    assert json.loads(shown[f"{PATH}/api/moderation"])["published"] == []


async def test_a_secret_ballot_shows_once_the_vote_closed(db: Database, clock: FakeClock,
                                                          client: TestClient,
                                                          world: World) -> None:
    def close() -> None:
        with db.transaction() as session:
            close_vote(session, number=world.secret_vote, now=clock.now() + timedelta(days=4),
                       key=KEY)

    await asyncio.to_thread(close)
    data = await (await client.get(f"{PATH}/api/votes")).json()
    closed = next(v for v in data["closed"] if v["number"] == world.secret_vote)
    assert closed["tally"]["binding"]["review"] == 1
    assert closed["tally"]["binding"]["keep"] == 1
    assert SECRET_REASON not in json.dumps(data)  # reasons are not published, even now


async def test_private_repositories_show_when_the_cooperative_publishes_them(
        db: Database, clock: FakeClock, world: World) -> None:
    app = web_app(db, clock, publish_private_repos=True)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        shown = await everything(client)
    assert PRIVATE_PROJECT in shown[f"{PATH}/projects"]
    assert PRIVATE_PROJECT in shown[f"{PATH}/api/votes"]
    assert f"#{world.private_ticket}" in shown[f"{PATH}/escalations"]
    assert [leak for leak in leaks(shown) if PRIVATE_PROJECT not in leak] == []
