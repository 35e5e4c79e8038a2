"""A failure that repeats logs its first traceback, then a count a minute."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlmodel import create_engine

from bot.core import logflood
from bot.core.logflood import RepeatedFailure
from governance.db import Database
from tests.cogs.feed_support import SECRET, feed_roadie
from tests.support import post_webhook

WORKERS = ("webhook-worker failed", "outbox-sender failed", "the scheduler lease could not",
           "storing deliveries failed")


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_database_outage_logs_one_traceback_per_worker_then_counts(
        tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    time = FakeTime()
    monkeypatch.setattr(logflood, "_monotonic", time)
    caplog.set_level(logging.INFO)
    # The scheduler renews its lease every third of lease_ttl.
    async with feed_roadie(tmp_path, db, config={"scheduler": {"lease_ttl": "1s"}}) as feed:
        roadie = feed.roadie
        working = roadie.db.engine
        roadie.db.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
        try:
            for second in range(20):  # each worker tries again every second of the outage
                time.now += 1
                roadie.webhook_worker.wake()
                roadie.sender.wake()
                status, _ = await post_webhook(roadie, "ping", {"zen": "z"}, secret=SECRET,
                                               delivery=f"d-{second}")
                assert status == 503
                await asyncio.sleep(0.1)
            tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
            for worker in WORKERS:
                assert sum(m.startswith(worker) for m in tracebacks) == 1, (worker, tracebacks)
            assert len(tracebacks) == len(WORKERS)
            time.now += 60  # a minute on: each says how many more times it failed
            roadie.webhook_worker.wake()
            roadie.sender.wake()
            await post_webhook(roadie, "ping", {"zen": "z"}, secret=SECRET, delivery="d-late")
            await asyncio.sleep(0.6)
        finally:
            roadie.db.engine = working
        counts = [r.getMessage() for r in caplog.records if "more failure(s) in the last" in
                  r.getMessage()]
        for worker in ("webhook-worker", "outbox-sender", "the scheduler lease",
                       "storing deliveries"):
            assert any(m.startswith(worker + ":") for m in counts), (worker, counts)
        status, _ = await post_webhook(roadie, "ping", {"zen": "z"}, secret=SECRET)
        assert status == 202
        await asyncio.sleep(0.6)
        await roadie.settle()
    recovered = [r.getMessage() for r in caplog.records if "works again after" in r.getMessage()]
    assert any(m.startswith("storing deliveries works again") for m in recovered)
    assert any(m.startswith("the scheduler lease works again") for m in recovered)
    assert len([r for r in caplog.records if r.exc_info]) == len(WORKERS)


def test_a_run_of_failures_ends_with_a_success() -> None:
    time = FakeTime()
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("roadie.test.flood")

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keep())
    try:
        failures = RepeatedFailure(logger, "the work", clock=time)
        for run in range(2):
            for _ in range(150):  # two and a half minutes, a failure a second
                failures.failed(ConnectionError("refused"))
                time.now += 1
            failures.succeeded()
            lines = [r.getMessage() for r in records]
            assert sum(bool(r.exc_info) for r in records) == run + 1
        assert lines[:4] == [
            "the work failed",
            "the work: 60 more failure(s) in the last 60 s (latest: ConnectionError: refused)",
            "the work: 60 more failure(s) in the last 60 s (latest: ConnectionError: refused)",
            "the work works again after 150 failure(s)"]
    finally:
        logger.handlers.clear()
