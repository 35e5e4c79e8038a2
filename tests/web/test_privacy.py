"""Nothing private reaches a public page or its JSON: direct messages, secret ballots before
the close, private repositories' projects (unless published), moderation cases' subjects,
reasons and appeals, escalations' summaries, chat ids."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from governance.clock import FakeClock
from governance.db import Database
from governance.votes import service as votes
from tests.web.conftest import PATH, web_app
from tests.web.world import KEY, PRIVATE, PRIVATE_PROJECT, SECRET_REASON, World

PAGES = ("", "overview", "escalations", "votes", "projects", "moderation", "audit")


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


async def test_a_secret_ballot_shows_once_the_vote_closed(db: Database, clock: FakeClock,
                                                          client: TestClient,
                                                          world: World) -> None:
    def close() -> None:
        with db.transaction() as session:
            votes.close(session, number=world.secret_vote, now=clock.now() + timedelta(days=4),
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
