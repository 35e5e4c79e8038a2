"""`roadie webhook send` and `roadie webhook redeliver`, against a running Roadie and the
fake GitHub."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from governance.db import Database
from governance.inbox import service as inbox
from governance.migrate import upgrade
from tests.cogs.feed_support import feed_config_overrides
from tests.fakes.github import FakeGitHub
from tests.support import FIXTURES, RecordingChat, deep_merge, running, write_config

ISSUE = FIXTURES / "github" / "issues" / "opened.payload.json"


async def test_send_signs_and_posts_a_payload(tmp_path: Path, sqlite_db: Database,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, feed_config_overrides(tmp_path, {
        "github_feed": {"burst_window": "1s"}}))
    chat = RecordingChat()
    async with running(load_config(path), db=sqlite_db, transports=[chat]) as roadie:
        assert roadie.server is not None
        url = f"http://127.0.0.1:{roadie.server.port}/github/webhook"
        argv = ["webhook", "send", "issues", str(ISSUE), "--config", str(path), "--url", url,
                "--delivery", "try-1"]
        assert await asyncio.to_thread(main, argv) == 0
        assert "issues delivery try-1 to " in capsys.readouterr().out
        assert await asyncio.to_thread(main, argv) == 0
        assert '200 {"status":"duplicate","delivery":"try-1"}' in capsys.readouterr().out
        for _ in range(50):
            await roadie.settle()
            if chat.sent:
                break
            await asyncio.sleep(0.05)
        assert chat.texts("feed")[0].startswith(
            "**Hello-World#1 Spelling error in the README file**")


def test_send_refuses_without_a_secret_or_with_a_bad_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {"github": {"webhook_secret_env": "ROADIE_TEST_NO_SECRET"}})
    assert main(["webhook", "send", "issues", str(ISSUE), "--config", str(path)]) == 2
    assert "no webhook secret in $ROADIE_TEST_NO_SECRET" in capsys.readouterr().err
    path = write_config(tmp_path, feed_config_overrides(tmp_path))
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert main(["webhook", "send", "issues", str(bad), "--config", str(path)]) == 2
    assert "is not JSON" in capsys.readouterr().err


def attempt(id_: int, guid: str, status: int, ago: timedelta) -> dict[str, object]:
    at = (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": id_, "guid": guid, "delivered_at": at, "redelivery": False, "duration": 0.3,
            "status": "OK" if status < 300 else "Invalid HTTP Response: 502",
            "status_code": status, "event": "issues", "action": "opened"}


async def test_redeliver_asks_github_for_the_failed_deliveries(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeGitHub()
    await fake.start()
    try:
        token = tmp_path / "token"
        token.write_text("t")
        path = write_config(tmp_path, deep_merge(feed_config_overrides(tmp_path), {
            "github": {"api_url": fake.url, "token_file": str(token)}}))
        minutes = timedelta(minutes=1)
        fake.hook_deliveries = [  # newest first, as GitHub lists them
            attempt(9, "fixed-later", 202, 2 * minutes),
            attempt(8, "failed", 502, 5 * minutes),
            attempt(7, "fixed-later", 502, 10 * minutes),
            attempt(6, "stored", 0, 20 * minutes),
            attempt(5, "failed-too", 500, 30 * minutes),
            *(attempt(1000 + i, f"ok-{i}", 202, 40 * minutes) for i in range(150)),
            attempt(4, "failed-on-page-2", 502, 50 * minutes),
            attempt(3, "too-old", 502, 2 * 60 * minutes),
        ]
        db = Database(load_config(path).database_url)
        await asyncio.to_thread(upgrade, db)
        await db.run(lambda session: inbox.store_deliveries(
            session, [inbox.NewDelivery('stored', 'issues', '', '', '{}')], now=datetime.now(UTC)))
        db.dispose()
        argv = ["webhook", "redeliver", "--since", "1h", "--config", str(path)]
        assert await asyncio.to_thread(main, [*argv, "--dry-run"]) == 0
        assert fake.redelivered == []
        assert await asyncio.to_thread(main, argv) == 0
        assert fake.redelivered == [4, 5, 8]
        assert len(fake.called("GET", "/orgs/jazzband/hooks/1/deliveries")) == 4
        out = capsys.readouterr().out
        assert "redelivered failed-too (issues.opened, " in out
        assert "hook 1: 4 failed deliveries since" in out
        assert "redelivered 3, 1 already stored by Roadie" in out
    finally:
        await fake.stop()


def test_redeliver_needs_a_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {"github": {"token_env": "ROADIE_TEST_NO_TOKEN"}})
    assert main(["webhook", "redeliver", "--config", str(path)]) == 2
    assert "needs a GitHub token" in capsys.readouterr().err
