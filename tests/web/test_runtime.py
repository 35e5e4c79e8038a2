"""Roadie serves the public pages when `[web]` is enabled, under its path, and not otherwise;
the `[web]` settings refuse a path or base URL that cannot work."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import Session, col, select

from bot.config import ConfigError
from bot.runtime.app import Roadie
from governance.clock import FakeClock
from governance.db import Database
from governance.outbox.models import OutboxMessage
from tests.support import Console, make_config, running


def base(roadie: Roadie) -> str:
    assert roadie.server is not None
    return f"http://127.0.0.1:{roadie.server.port}"


async def test_roadie_serves_the_pages_under_the_configured_path(tmp_path: Path,
                                                                 sqlite_db: Database) -> None:
    config = make_config(tmp_path, {"web": {"enabled": True, "path": "/coop"},
                                    "projects": {"names": ["pip-tools"]}})
    async with running(config, db=sqlite_db) as roadie, aiohttp.ClientSession() as http:
        async with http.get(base(roadie) + "/coop/projects") as response:
            assert response.status == 200
            assert "pip-tools" in await response.text()
        async with http.get(base(roadie) + "/coop/api/overview") as response:
            assert (await response.json())["escalations"] == {"open": 0, "overdue": 0}
        async with http.get(base(roadie) + "/roadie/overview") as response:
            assert response.status == 404


async def test_the_digest_page_counts_the_day_in_the_digests_timezone(
        tmp_path: Path, sqlite_db: Database) -> None:
    config = make_config(tmp_path, {"web": {"enabled": True},
                                    "digest": {"timezone": "America/Los_Angeles"}})
    clock = FakeClock()  # 2026-01-05 09:00 UTC: 01:00 in Los Angeles, the same day
    clock.advance(-timedelta(hours=2))  # 23:00 on Sunday there
    async with running(config, db=sqlite_db, clock=clock) as roadie, \
            aiohttp.ClientSession() as http, \
            http.get(base(roadie) + "/roadie/api/digest") as response:
        data = await response.json()
    assert (data["day"], data["timezone"], data["as_of"]) == (
        "2026-01-04", "America/Los_Angeles", "2026-01-05T07:00:00+00:00")


async def test_no_pages_when_disabled(tmp_path: Path, sqlite_db: Database) -> None:
    config = make_config(tmp_path, {"web": {"enabled": False}})
    async with running(config, db=sqlite_db) as roadie, aiohttp.ClientSession() as http, \
            http.get(base(roadie) + "/roadie/overview") as response:
        assert response.status == 404


@pytest.mark.parametrize(("key", "value", "says"), [
    ("path", "roadie", "expected a path such as /roadie"),
    ("path", "/roadie/", "not ending with /"),
    ("base_url", "coop.example.org", "expected the pages' public address"),
])
def test_bad_web_settings_are_refused_with_a_hint(tmp_path: Path, key: str, value: str,
                                                  says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, {"web": {key: value}})
    assert f"web.{key}" in str(refused.value)
    assert says in str(refused.value)


async def test_chat_notices_link_to_their_page_when_the_pages_have_an_address(
        tmp_path: Path, sqlite_db: Database) -> None:
    config = make_config(tmp_path, {
        "people": {"admins": ["alice"]},
        "web": {"enabled": True, "base_url": "https://coop.example.org/roadie/"}})
    console = Console()
    async with running(config, db=sqlite_db, clock=FakeClock(),
                       transports=[console.transport]) as roadie:
        await console.say("/as carol")
        await console.say("/escalate django-sample webhook Add the Read the Docs webhook")
        await roadie.settle()

    def opened(session: Session) -> list[str]:
        rows = session.exec(select(OutboxMessage).where(
            col(OutboxMessage.key).startswith("escalation:1:opened"))).all()
        return [json.loads(row.payload)["url"] for row in rows]

    urls = await sqlite_db.run(opened)
    assert urls
    assert set(urls) == {"https://coop.example.org/roadie/escalations#escalation-1"}
