"""Scheduled jobs: one replica runs each tick; when it dies, another takes over."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.cog import Job
from bot.runtime.metrics import Metrics
from bot.runtime.scheduler import Scheduler
from governance.clock import FakeClock
from governance.db import Database
from tests.support import ROOT, write_config


def _scheduler(db: Database, clock: FakeClock, name: str, runs: list[str]) -> Scheduler:
    async def run() -> None:
        runs.append(name)

    job = Job("test.job", run, every=timedelta(seconds=10))
    return Scheduler(db, clock, [job], Metrics(), holder=name, lease_ttl=timedelta(seconds=30))


async def test_only_the_lease_holder_runs_and_each_tick_once(db: Database,
                                                             clock: FakeClock) -> None:
    runs: list[str] = []
    a, b = _scheduler(db, clock, "a", runs), _scheduler(db, clock, "b", runs)
    assert await a.renew_lease()
    assert not await b.renew_lease()
    job = a._jobs[0]
    assert await a.run_job(job)
    assert not await a.run_job(job)  # the same tick again
    assert not await b.run_job(job)  # not the holder
    clock.advance(timedelta(seconds=10))
    assert await a.renew_lease()
    assert await a.run_job(job)
    assert runs == ["a", "a"]


async def test_an_expired_lease_passes_to_another_replica(db: Database,
                                                          clock: FakeClock) -> None:
    runs: list[str] = []
    a, b = _scheduler(db, clock, "a", runs), _scheduler(db, clock, "b", runs)
    assert await a.renew_lease()
    clock.advance(timedelta(seconds=29))
    assert not await b.renew_lease()
    clock.advance(timedelta(seconds=2))  # a stopped renewing: its lease ran out
    assert await b.renew_lease()
    assert not a.is_leader
    assert await b.run_job(b._jobs[0])
    assert runs == ["b"]


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _lines(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [(int(pid), int(tick)) for pid, tick in
            (line.split() for line in path.read_text().splitlines() if line.strip())]


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_share_the_jobs_and_survive_a_kill(tmp_path: Path, pg_db: Database) -> None:
    ticks = tmp_path / "ticks.txt"
    config = write_config(tmp_path, {
        "bot": {"cogs": ["tests.ticker_cog"]}, "ticker": {"path": str(ticks)},
        "console": {"enabled": "never"}, "scheduler": {"lease_ttl": "6s"},
    }, database=pg_db.url)
    first, second = _start(config), _start(config)
    try:
        deadline = time.time() + 30
        while len(_lines(ticks)) < 5 and time.time() < deadline:
            time.sleep(0.2)
        before = _lines(ticks)
        assert len(before) >= 5, "no ticks ran"
        leaders = {pid for pid, _ in before}
        assert len(leaders) == 1, "only the lease holder runs the jobs"
        leader = first if first.pid in leaders else second
        survivor = second if leader is first else first
        leader.send_signal(signal.SIGKILL)
        killed_at = time.time()
        while time.time() - killed_at < 60:
            if any(pid == survivor.pid for pid, _ in _lines(ticks)):
                break
            time.sleep(0.2)
        took = time.time() - killed_at
        after = _lines(ticks)
        if not any(pid == survivor.pid for pid, _ in after):
            survivor.send_signal(signal.SIGTERM)
            _, err = survivor.communicate(timeout=15)
            pytest.fail(f"nobody took over; ticks {after[-5:]}; the survivor said:\n{err}")
        assert took < 60
        tick_values = [tick for _, tick in after]
        assert len(tick_values) == len(set(tick_values)), "a tick ran twice"
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (first, second):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    assert survivor.returncode == 0, survivor.stderr.read() if survivor.stderr else ""


async def test_stopping_lets_a_running_job_finish_and_cancels_one_that_takes_too_long(
        db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="roadie.scheduler")
    finished: list[str] = []
    started = asyncio.Semaphore(0)

    async def quick() -> None:
        started.release()
        await asyncio.sleep(0.05)
        finished.append("quick")

    async def endless() -> None:
        started.release()
        await asyncio.sleep(3600)
        finished.append("endless")

    jobs = [Job("test.quick", quick, every=timedelta(seconds=10)),
            Job("test.endless", endless, every=timedelta(seconds=10))]
    scheduler = Scheduler(db, clock, jobs, Metrics(), holder="a",
                          lease_ttl=timedelta(seconds=30))
    assert await scheduler.renew_lease()
    running = [asyncio.create_task(scheduler.run_job(job)) for job in jobs]
    for _ in jobs:
        await started.acquire()  # both claimed their tick and started
    await scheduler.stop(grace=0.5)
    assert all(task.done() for task in running)
    # No error reaches APScheduler (which would log a traceback); the cancelled one says no.
    assert [task.result() for task in running] == [True, False]
    assert finished == ["quick"]
    assert "test.endless stopped with Roadie before it finished" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not await scheduler.run_job(jobs[0])  # stopped: a late firing runs nothing


async def test_ticks_that_fire_while_a_run_goes_on_are_skipped_and_told_once(
        db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """APScheduler fires every 0.1 s; the first run lasts until three ticks have come. They
    run nothing, and Roadie says once which job is held up and at what, not APScheduler."""
    caplog.set_level(logging.INFO, logger="roadie.scheduler")
    release = asyncio.Event()
    runs: list[float] = []

    async def slow() -> None:
        runs.append(time.monotonic())
        await release.wait()

    metrics = Metrics()
    scheduler = Scheduler(db, clock, [Job("test.slow", slow, every=timedelta(seconds=0.1))],
                          metrics, holder="a", lease_ttl=timedelta(seconds=30))
    def skipped() -> float:
        return metrics.registry.get_sample_value("roadie_scheduled_ticks_skipped_total",
                                                 {"job": "test.slow"}) or 0.0

    scheduler.start()
    try:
        for _ in range(100):  # on a loaded machine the ticks may come later
            if skipped() >= 3:
                break
            await asyncio.sleep(0.05)
        release.set()
        await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    assert len(runs) == 1
    assert skipped() >= 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                and r.name.startswith(("roadie.scheduler", "apscheduler"))]
    assert len(warnings) == 1, caplog.text
    assert warnings[0].startswith("scheduled job test.slow: the run that began")
    assert "is still running; the ticks due meanwhile are skipped" in warnings[0]
    assert f"held up {int(skipped())} tick(s) ended after" in caplog.text
