"""Health, metrics, and a link proven by a signed GitHub comment, over real HTTP."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bot.github.client import PyGithubPort
from bot.runtime.app import Roadie
from bot.runtime.dispatcher import Speaker
from bot.runtime.webhooks import signature_for
from governance.db import Database
from governance.people.service import profile_for_chat, start_link
from tests.fakes.github import FakeGitHub
from tests.support import Console, eventually, make_config, running

SECRET = "It's a Secret to Everybody"


def base(roadie: Roadie) -> str:
    assert roadie.server is not None
    return f"http://127.0.0.1:{roadie.server.port}"


def test_signature_matches_githubs_test_vector() -> None:
    assert signature_for(SECRET.encode(), b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")


async def test_healthz_and_metrics(tmp_path: Path, sqlite_db: Database) -> None:
    async with running(make_config(tmp_path), db=sqlite_db) as roadie, \
            aiohttp.ClientSession() as http:
        await roadie.run_text(_speaker(), "help")
        async with http.get(base(roadie) + "/healthz") as response:
            assert response.status == 200
            assert (await response.json())["database"] == "ok"
        async with http.get(base(roadie) + "/metrics") as response:
            text = await response.text()
        assert 'roadie_commands_total{command="help",outcome="ok"} 1.0' in text
        assert "roadie_outbox_depth" in text


async def test_healthz_says_503_when_the_database_is_gone(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    roadie = Roadie(config, db=db, transports=[], use_config_github=False)
    assert roadie.server is not None
    await roadie.server.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(base(roadie) + "/healthz") as resp:
            assert resp.status == 503
            # Refused at once ("unavailable"), unless the machine is too slow to hear the
            # refusal within the ping's timeout ("busy").
            assert (await resp.json())["database"] in ("unavailable", "busy")
    finally:
        await roadie.server.stop()


async def test_healthz_answers_busy_while_another_process_holds_the_sqlite_lock(
        tmp_path: Path, sqlite_db: Database) -> None:
    async with running(make_config(tmp_path), db=sqlite_db) as roadie:
        path = make_url(sqlite_db.url).database
        assert path is not None
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            async with aiohttp.ClientSession() as http, \
                    http.get(base(roadie) + "/healthz") as resp:
                assert resp.status == 503
                assert (await resp.json())["database"] == "busy"
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await eventually(lambda: _healthy(roadie))  # once the pings waiting on it are done


async def _healthy(roadie: Roadie) -> bool:
    async with aiohttp.ClientSession() as http, http.get(base(roadie) + "/healthz") as resp:
        return resp.status == 200


def _speaker() -> Speaker:
    return Speaker("console", "operator", "operator", "console")


@pytest.mark.parametrize("member", [True, False])
async def test_a_link_is_proven_by_a_signed_comment(tmp_path: Path, sqlite_db: Database,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    member: bool) -> None:
    monkeypatch.setenv("ROADIE_WEBHOOK_SECRET", SECRET)
    github = FakeGitHub()
    await github.start()
    if member:
        github.add_user("frank", member=True)
    console = Console()
    port = PyGithubPort(org="jazzband", token="t", api_url=github.url, throttle=False)
    async with running(make_config(tmp_path), db=sqlite_db, transports=[console.transport],
                       github=port) as roadie, aiohttp.ClientSession() as http:
        await console.say("/as frank")
        def transact(session: Session) -> Any:
            code = start_link(session, platform="discord", user_id="555", display_name="Frank",
                              login="frank", now=roadie.clock.now(),
                              ttl=timedelta(hours=1)).code
            return code
        code = await roadie.db.run(transact)
        payload = {"action": "created", "comment": {"body": f"Linking: {code}",
                                                    "user": {"login": "frank"}},
                   "issue": {"number": 1}, "repository": {"name": "django-sample"},
                   "sender": {"login": "frank"}}
        body = json.dumps(payload).encode()
        headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "d-1",
                   "X-Hub-Signature-256": signature_for(SECRET.encode(), body),
                   "Content-Type": "application/json"}
        async with http.post(base(roadie) + "/github/webhook", data=body,
                             headers=headers) as response:
            assert response.status == 202
        await roadie.settle()
        profile = await roadie.db.run(lambda session: profile_for_chat(session, "discord", "555"))
    await github.stop()
    assert profile.login == "frank"
    assert (profile.role.label == "member") is member
    assert "[@frank] **Your chat account is linked**" in console.text
