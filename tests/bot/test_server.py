"""Health, metrics, and a link proven by a signed GitHub comment, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bot.github.client import PyGithubPort
from bot.runtime.app import Roadie
from bot.runtime.dispatcher import Speaker
from bot.runtime.health import DatabaseWatch
from bot.runtime.server import fit_open_files
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


async def test_start_up_finishes_its_own_work_before_the_server_accepts_requests(
        tmp_path: Path, sqlite_db: Database) -> None:
    """`roadie run` sets the garbage collector up there: its first full collection takes
    about 0.1 s, which no request should wait for."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    roadie = Roadie(make_config(tmp_path, {"server": {"bind": f"127.0.0.1:{port}"}}),
                    db=sqlite_db, transports=[], use_config_github=False)
    accepted_before: list[bool] = []

    def before_serving() -> None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            accepted_before.append(True)
        except ConnectionRefusedError:
            accepted_before.append(False)

    await roadie.start(before_serving=before_serving)
    try:
        assert accepted_before == [False]
        async with aiohttp.ClientSession() as http, http.get(base(roadie) + "/healthz") as answer:
            assert answer.status == 200
    finally:
        await roadie.stop()


@pytest.mark.parametrize("endpoint", ["/healthz", "/readyz"])
async def test_health_and_readiness_say_503_when_the_database_is_gone(tmp_path: Path,
                                                                      endpoint: str) -> None:
    config = make_config(tmp_path)
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    roadie = Roadie(config, db=db, transports=[], use_config_github=False)
    assert roadie.server is not None
    await roadie.server.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(base(roadie) + endpoint) as resp:
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
            # Busy once a ping has gone unanswered for a second; every answer meanwhile
            # comes at once, and states how old it is.
            await eventually(lambda: _says(roadie, 503, "busy"), timeout=4.0)
            body = await _healthz_body(roadie)
            assert body["database"] == "busy"
            assert body["database_age_ms"] >= 1000
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await eventually(lambda: _says(roadie, 200, "ok"))  # once the waiting ping answers


async def test_healthz_answers_from_the_background_ping_not_one_of_its_own(
        tmp_path: Path, sqlite_db: Database) -> None:
    """A ping is a round trip through a thread; under load it waits tens of milliseconds for
    the interpreter. /healthz answers from the latest background ping instead, whose age it
    states: 100 probes cost a ping or two, not 100."""
    pings = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "SELECT 1":
            pings.append(statement)

    event.listen(sqlite_db.engine, "before_cursor_execute", count)
    async with running(make_config(tmp_path), db=sqlite_db) as roadie:
        await eventually(lambda: _says(roadie, 200, "ok"))
        before = len(pings)
        bodies = [await _healthz_body(roadie) for _ in range(100)]
        assert len(pings) - before <= 4
        assert {body["database"] for body in bodies} == {"ok"}
        assert all(0 <= body["database_age_ms"] <= 1500 for body in bodies)


async def test_the_database_watch_says_how_old_its_answer_is(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'watched.db'}")
    watch = DatabaseWatch(db, every=0.05, busy_after=0.3)
    watch.start()
    try:
        assert await watch.state() == ("ok", pytest.approx(0.0, abs=0.1))
        locker = sqlite3.connect(tmp_path / "watched.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            await eventually(lambda: _watch_says(watch, "busy"))
            state, age = await watch.state()
            assert state == "busy"
            assert age >= 0.3
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await eventually(lambda: _watch_says(watch, "ok"))
        assert (await watch.state())[1] <= 0.05 + 0.3
    finally:
        await watch.stop()
        await asyncio.to_thread(db.dispose)
    unreachable = DatabaseWatch(Database("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    unreachable.start()
    try:
        assert (await unreachable.state())[0] in ("unavailable", "busy")
    finally:
        await unreachable.stop()


async def _watch_says(watch: DatabaseWatch, state: str) -> bool:
    return (await watch.state())[0] == state


async def _healthz_body(roadie: Roadie) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(base(roadie) + "/healthz") as resp:
        body: dict[str, Any] = await resp.json()
        return {**body, "http_status": resp.status}


async def _says(roadie: Roadie, status: int, database: str) -> bool:
    body = await _healthz_body(roadie)
    return body["http_status"] == status and body["database"] == database


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


async def test_metrics_always_carry_outbox_depth_process_and_build(
        tmp_path: Path, sqlite_db: Database) -> None:
    from bot import roadie_version

    console = Console()
    async with running(make_config(tmp_path), db=sqlite_db,
                       transports=[console.transport]) as roadie, \
            aiohttp.ClientSession() as http, http.get(base(roadie) + "/metrics") as response:
        text = await response.text()
    assert 'roadie_outbox_depth{platform="console",status="pending"} 0.0' in text
    assert 'roadie_outbox_depth{platform="console",status="failed"} 0.0' in text
    assert "process_resident_memory_bytes " in text
    assert "process_start_time_seconds " in text
    assert 'roadie_build_info{python="' in text
    assert f'version="{roadie_version()}"' in text


async def test_readyz_is_ready_with_the_database_and_no_platform_down(
        tmp_path: Path, sqlite_db: Database) -> None:
    console = Console()
    async with running(make_config(tmp_path), db=sqlite_db,
                       transports=[console.transport]) as roadie, \
            aiohttp.ClientSession() as http, http.get(base(roadie) + "/readyz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ready"
    assert body["database"] == "ok"
    assert body["console"] == "connected"


async def _healthz(roadie: Roadie) -> int:
    async with aiohttp.ClientSession() as http, http.get(
            base(roadie) + "/healthz", timeout=aiohttp.ClientTimeout(total=5)) as response:
        return response.status


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
        return True
    except TimeoutError:
        return False


async def test_slow_and_idle_connections_are_closed(tmp_path: Path,
                                                    sqlite_db: Database) -> None:
    config = make_config(tmp_path, {"server": {"idle_timeout": "1s"}})
    async with running(config, db=sqlite_db) as roadie:
        assert roadie.server is not None
        slow = []
        for _ in range(20):  # each sends half a request head, and no more
            reader, writer = await asyncio.open_connection("127.0.0.1", roadie.server.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append((reader, writer))
        assert await _healthz(roadie) == 200
        closed = await asyncio.gather(*(_closed_by_server(r, within=4.0) for r, _ in slow))
        assert all(closed)
        for _, writer in slow:
            writer.close()
        assert await _healthz(roadie) == 200


async def test_connections_beyond_the_limit_are_answered_503(tmp_path: Path,
                                                             sqlite_db: Database) -> None:
    config = make_config(tmp_path, {"server": {"max_connections": 16}})
    async with running(config, db=sqlite_db) as roadie:
        assert roadie.server is not None
        held = [await asyncio.open_connection("127.0.0.1", roadie.server.port)
                for _ in range(16)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", roadie.server.port)
        answer = await asyncio.wait_for(reader.read(), 3)
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5")
        writer.close()
        for _, held_writer in held:
            held_writer.close()
        await asyncio.sleep(0.1)
        assert await _healthz(roadie) == 200
        async with aiohttp.ClientSession() as http, http.get(base(roadie) + "/metrics") as resp:
            assert "roadie_http_connections_refused_total 1.0" in await resp.text()


def test_the_open_files_limit_is_raised_to_fit_the_connections() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, hard))
        assert fit_open_files(1000) == (1000 if hard >= 1256 else hard - 256)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= min(1256, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
