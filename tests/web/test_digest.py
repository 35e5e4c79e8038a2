"""Today's digest as a public page: the chat digest's sections, in its order, without what
stays private."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from governance.clock import FakeClock
from governance.db import Database
from tests.web.conftest import PATH, web_app
from tests.web.test_pages import page
from tests.web.world import NAMED_ACCOUNT, PUBLIC_SUMMARY, World


async def digest(client: TestClient) -> dict[str, object]:
    response = await client.get(f"{PATH}/api/digest")
    assert response.status == 200
    data: dict[str, object] = await response.json()
    return data


def sections(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["key"]: s for s in data["sections"]}  # type: ignore[attr-defined]


async def test_the_digest_has_the_chat_digests_sections_in_its_order(
        client: TestClient, world: World) -> None:
    data = await digest(client)
    assert [s["title"] for s in data["sections"]] == [  # type: ignore[attr-defined]
        "Escalations breached or due within 24h", "Nominations waiting for the nominee",
        "Votes decided in the last day", "Blocks of the last day", "Projects without a lead",
        "Admins away"]
    assert (data["day"], data["as_of"], data["timezone"]) == (
        "2026-01-05", "2026-01-05T15:00:00+00:00", "UTC")
    found = sections(data)
    [ticket] = found["escalations"]["items"]  # type: ignore[misc]
    assert (ticket["number"], ticket["overdue"]) == (world.overdue_ticket, True)
    [waiting] = found["nominations"]["items"]  # type: ignore[misc]
    assert (waiting["number"], waiting["nominee"]) == (world.waiting_nomination, "gina")
    [decided] = found["decided"]["items"]  # type: ignore[misc]
    assert (decided["number"], decided["result"]) == (world.closed_vote, "passed")
    moderation = found["moderation"]
    assert moderation["blocks"] == 2
    [case] = moderation["items"]  # type: ignore[misc]
    assert (case["number"], case["summary"], case["account"]) == (
        world.published_case, PUBLIC_SUMMARY, NAMED_ACCOUNT)
    assert found["without_lead"]["items"] == [{"project": "prettytable"}]
    assert [a["admin"] for a in found["away"]["items"]] == ["ada"]  # type: ignore[attr-defined]

    text = await page(client, "digest")
    assert "Daily digest, Monday 2026-01-05, as of 2026-01-05 15:00 (UTC)" in text
    assert f"#{world.overdue_ticket} urgent pip-tools permissions acknowledge by" in text
    assert "overdue by 2h" in text
    assert f"#{world.waiting_nomination} gina as lead of prettytable: waits for gina" in text
    assert f"#{world.closed_vote} frank as lead of django-sample: passed" in text
    assert "2 blocks opened or confirmed in the last day" in text
    assert f"Case #{world.published_case}: {NAMED_ACCOUNT}, active {PUBLIC_SUMMARY}" in text
    assert "Projects without a lead (1) prettytable" in text
    assert "ada until 2026-01-07 09:00 UTC" in text


async def test_a_day_later_the_clocks_have_moved(client: TestClient, world: World,
                                                 clock: FakeClock) -> None:
    clock.advance(timedelta(hours=44))  # 50 h after the votes opened for 72 h
    found = sections(await digest(client))
    closing = {v["number"]: v for v in found["closing"]["items"]}  # type: ignore[attr-defined]
    assert sorted(closing) == [world.open_vote, world.secret_vote]  # not the private one
    assert closing[world.secret_vote]["ballots"] == 2  # who voted is public; choices are not
    assert closing[world.open_vote]["seconds_left"] == 22 * 3600
    # The private repository's ticket is due within 24h now, and still not shown.
    assert [t["number"] for t in found["escalations"]["items"]] == [  # type: ignore[attr-defined]
        world.overdue_ticket]
    assert found["escalations"]["count"] == 1
    assert "moderation" not in found  # the blocks and the publication are two days old
    assert "decided" in found  # the vote closed 73 h after it opened: in the last day
    clock.advance(timedelta(days=14))  # django-sample's checklist has not moved since
    stuck = sections(await digest(client))["onboarding"]["items"]
    assert stuck == [{"project": "django-sample", "done": 0, "left": 3,
                      "next": {"item": "Add a README badge", "who": "lead"},
                      "last_progress_at": "2026-01-05T09:00:00+00:00", "issue_url": None}]
    line = ("django-sample: 0 of 3 done, no progress since 2026-01-05 09:00 UTC; next: Add a "
            "README badge (a lead can do it)")
    assert line in await page(client, "digest")
    assert line in await page(client, "overview")  # the overview says it in the same words


async def test_the_day_is_the_digests_day_in_its_timezone(db: Database, clock: FakeClock,
                                                          world: World) -> None:
    app = web_app(db, clock, digest_zone=ZoneInfo("Pacific/Auckland"))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        data = await digest(client)
        text = await page(client, "digest")
    assert (data["day"], data["as_of_local"], data["timezone"]) == (
        "2026-01-06", "2026-01-06T04:00:00+13:00", "Pacific/Auckland")
    assert ("Daily digest, Tuesday 2026-01-06, as of 2026-01-06 04:00 (Pacific/Auckland) , "
            "2026-01-05 15:00 UTC") in text  # the tags' places are spaces in `page`


async def test_a_quiet_day_says_so(db: Database, clock: FakeClock) -> None:
    async with TestClient(TestServer(web_app(db, clock), host="127.0.0.1", port=0)) as client:
        data = await digest(client)
        text = await page(client, "digest")
    assert data["quiet"] is True
    assert data["sections"] == []
    assert "A quiet day: nothing is stuck, overdue or new." in text
