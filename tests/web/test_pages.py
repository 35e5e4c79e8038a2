"""The public pages as a person and a program see them."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from sqlmodel import Session

from governance.audit import Actor
from governance.audit.checkpoints import Checkpoint, sign_checkpoint
from governance.audit.keys import AuditKey
from governance.clock import FakeClock
from governance.db import Database
from governance.moderation import service as cases
from tests.web.conftest import PATH
from tests.web.world import NAMED_ACCOUNT, PUBLIC_SUMMARY, World

PAGES = ("overview", "digest", "escalations", "votes", "projects", "moderation", "audit")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def page(client: TestClient, name: str) -> str:
    response = await client.get(f"{PATH}/{name}")
    assert response.status == 200, name
    assert response.content_type == "text/html"
    return text_of(await response.text())


async def test_overview_says_what_is_overdue_and_what_closes_next(client: TestClient,
                                                                 world: World) -> None:
    text = await page(client, "overview")
    assert f"#{world.overdue_ticket}" in text
    assert "overdue by 2h" in text  # urgent: 4h to acknowledge, 6h ago
    assert "Projects without a lead prettytable" in text  # django-sample elected frank
    assert f"#{world.secret_vote}" in text  # closes next
    root = await client.get(f"{PATH}/")
    assert "Overview" in await root.text()


async def test_escalations_show_clocks_per_project_and_admin_and_a_chart(
        client: TestClient, world: World) -> None:
    html = await (await client.get(f"{PATH}/escalations")).text()
    text = text_of(html)
    assert "1 open, 1 of them overdue" in text  # the private repository's ticket is left out
    assert f"#{world.overdue_ticket} urgent pip-tools permissions acknowledge by" in text
    assert "Mean time to resolve, per month of opening" in html
    assert "<svg" in html
    data = await (await client.get(f"{PATH}/api/escalations")).json()
    assert data["by_project"] == [{"name": "pip-tools", "open": 1, "overdue": 1}]
    assert [m["mean_hours_to_resolve"] for m in data["monthly"]] == [5.0]
    assert data["monthly"][0]["mean_hours_to_acknowledge"] == 2.0
    assert [t["kind"] for t in data["recently_closed"]] == ["release"]


async def test_votes_show_rules_tally_and_only_who_voted_on_a_secret_vote(
        client: TestClient, world: World) -> None:
    response = await client.get(f"{PATH}/api/votes")
    data = await response.json()
    open_votes = {v["number"]: v for v in data["open"]}
    secret = open_votes[world.secret_vote]
    assert secret["voted"] == ["adam", "ada"]
    assert secret["tally"] is None
    assert secret["rules"]["electorate_size"] == 3
    assert secret["rules"]["secret"]
    nomination = open_votes[world.open_vote]
    assert nomination["tally"]["binding"]["+1"] == 1
    closed = {v["number"]: v for v in data["closed"]}[world.closed_vote]
    assert closed["result"] == "passed"
    assert closed["recount_matches"]
    assert closed["tally"]["binding"] == {"+1": 2, "-1": 1, "0": 0}
    text = await page(client, "votes")
    assert "choices and the count stay sealed until the close" in text


async def test_projects_show_leads_and_onboarding(client: TestClient, world: World) -> None:
    data = await (await client.get(f"{PATH}/api/projects")).json()
    projects = {p["name"]: p for p in data["projects"]}
    assert projects["pip-tools"]["leads"] == ["alice"]
    assert projects["django-sample"]["leads"] == ["frank"]  # elected by the closed vote
    progress = projects["django-sample"]["onboarding"]
    assert (progress["done"], progress["left"]) == (0, 3)
    assert progress["next"] == {"item": "Add a README badge", "who": "lead"}
    text = await page(client, "projects")
    assert "0 done, 3 left" in text
    assert "a lead can do it" in text


async def test_moderation_and_audit(client: TestClient, world: World) -> None:
    moderation = await (await client.get(f"{PATH}/api/moderation")).json()
    assert moderation["cases_by_state"] == {"active": 2}
    assert moderation["published"] == [{
        "number": world.published_case, "summary": PUBLIC_SUMMARY, "account": NAMED_ACCOUNT,
        "state": "active", "opened_at": "2026-01-05T09:00:00+00:00", "lifted_at": None,
        "published_at": "2026-01-05T09:00:00+00:00"}]
    text = await page(client, "moderation")
    assert f"Case #{world.published_case}: {NAMED_ACCOUNT}, active {PUBLIC_SUMMARY}" in text
    audit = await (await client.get(f"{PATH}/api/audit")).json()
    assert audit["log"]["entries"] > 10
    assert len(audit["log"]["head_hash"]) == 64
    assert audit["log"]["head_hash"] in await page(client, "audit")
    assert audit["checkpoints"] == []
    assert "No checkpoint has been signed yet" in await page(client, "audit")


async def test_the_audit_page_lists_the_signed_checkpoints(client: TestClient, world: World,
                                                           db: Database, clock: FakeClock) -> None:
    key = AuditKey.generate()

    def sign(session: Session) -> Checkpoint | None:
        return sign_checkpoint(session, key, origin="jazzband", now=clock.now())

    signed = await db.run(sign)
    assert signed is not None
    audit = await (await client.get(f"{PATH}/api/audit")).json()
    [shown] = audit["checkpoints"]
    assert shown["size"] == signed.size == audit["log"]["entries"]
    assert shown["root"] == signed.root
    assert shown["line"] == signed.line()  # as published: members can keep and check it
    [parsed] = Checkpoint.parse_all(shown["line"])
    assert parsed.signed_by(key.public)
    text = await page(client, "audit")
    assert signed.root in text
    assert key.public.key_id in text


async def test_every_page_has_a_json_twin_with_etag_and_304(client: TestClient,
                                                             world: World) -> None:
    for name in PAGES:
        for url in (f"{PATH}/{name}", f"{PATH}/api/{name}"):
            first = await client.get(url)
            assert first.status == 200, url
            tag = first.headers["ETag"]
            assert first.headers["Cache-Control"] == "public, max-age=30"
            again = await client.get(url, headers={"If-None-Match": tag})
            assert again.status == 304, url
            assert await again.read() == b""
            other = await client.get(url, headers={"If-None-Match": '"stale"'})
            assert other.status == 200
    index = await (await client.get(f"{PATH}/api")).json()
    assert sorted(index["pages"]) == sorted(PAGES)


async def test_a_lifted_published_case_says_when_never_why(client: TestClient, world: World,
                                                            db: Database,
                                                            clock: FakeClock) -> None:
    why = "lift-reason-91c4 the account was recovered by its owner"

    def lift(session: Session) -> None:
        case = cases.get_case(session, world.published_case, lock=True)
        cases.lift_case(session, case=case, actor=Actor.github("ada"), reason=why,
                        now=clock.now())

    await db.run(lift)
    [shown] = (await (await client.get(f"{PATH}/api/moderation")).json())["published"]
    assert (shown["state"], shown["lifted_at"]) == ("lifted", "2026-01-05T15:00:00+00:00")
    html = await (await client.get(f"{PATH}/moderation")).text()
    assert f"Case #{world.published_case}: {NAMED_ACCOUNT}, lifted" in text_of(html)
    assert "lifted 2026-01-05 15:00 UTC" in text_of(html)
    assert why not in html
