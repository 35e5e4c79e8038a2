"""Scheduled jobs: APScheduler fires them; a lease in the database picks who runs them.

Jobs live only in memory and ask the database what is due, so nothing is lost by a restart.
Exactly one replica holds the lease and runs the jobs; a tick of a job is claimed in the
database before it runs, so even a lease handover cannot run the same tick twice. When the
holder dies, its lease expires after `lease_ttl` and another replica takes over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.cog import Job
from bot.core.logflood import RepeatedFailure
from bot.runtime.metrics import Metrics
from governance.clock import Clock
from governance.db import Database
from governance.scheduling import service as scheduling

log = logging.getLogger("roadie.scheduler")
LEASE = "scheduler"
STOP_GRACE = 5.0
"""Seconds a job that is running when Roadie stops has to finish; then it is cancelled
(what it left undone is still due at its next tick)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Run:
    """A run of a job under way in this replica."""

    started: float  # time.monotonic()
    stage: str = "claiming its tick"
    skipped: int = 0  # ticks that fired meanwhile


def tick_of(job: Job, now: datetime) -> datetime:
    """The tick a run at `now` belongs to: the start of its interval, or its minute."""
    if job.every is not None:
        step = job.every.total_seconds()
        return EPOCH + timedelta(seconds=(now - EPOCH).total_seconds() // step * step)
    return now.replace(second=0, microsecond=0)


def trigger_for(job: Job) -> IntervalTrigger | CronTrigger:
    if job.every is not None:
        return IntervalTrigger(seconds=job.every.total_seconds(), timezone=UTC)
    if job.daily_at is not None:
        return CronTrigger(hour=job.daily_at.hour, minute=job.daily_at.minute,
                           timezone=job.timezone)
    raise ValueError(f"job {job.name} has neither an interval nor a time of day")


class Scheduler:
    def __init__(self, db: Database, clock: Clock, jobs: Sequence[Job], metrics: Metrics, *,
                 holder: str, lease_ttl: timedelta) -> None:
        self._db = db
        self._clock = clock
        self._jobs = list(jobs)
        self._metrics = metrics
        self.holder = holder
        self._ttl = lease_ttl
        self._lease_until: datetime | None = None
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._lease_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()
        self._runs: dict[str, _Run] = {}
        self._stopping = False
        self._lease_failures = RepeatedFailure(log, "the scheduler lease")
        self._job_failures = {job.name: RepeatedFailure(log, f"scheduled job {job.name}")
                              for job in self._jobs}

    @property
    def is_leader(self) -> bool:
        return self._lease_until is not None and self._clock.now() < self._lease_until

    async def renew_lease(self) -> bool:
        now = self._clock.now()
        try:
            held = await self._db.run(lambda session: scheduling.try_hold_lease(
                session, name=LEASE, holder=self.holder, now=now, ttl=self._ttl))
        except Exception as error:
            self._lease_failures.failed(error, "could not be renewed")
            held = False
        else:
            self._lease_failures.succeeded()
        was_leader = self.is_leader
        # Stop a little before the lease really ends, so two holders never overlap.
        self._lease_until = now + self._ttl * 0.8 if held else None
        if held != was_leader:
            log.info("%s %s the scheduler lease", self.holder, "holds" if held else "lost")
        self._metrics.leader.set(1 if held else 0)
        return held

    async def _keep_lease(self) -> None:
        interval = max(self._ttl.total_seconds() / 3, 0.2)
        while True:
            await self.renew_lease()
            await asyncio.sleep(interval)

    def start(self) -> None:
        for job in self._jobs:
            # Two instances, so that a tick that fires while the last run goes on reaches
            # `run_job`, which skips it and says why (APScheduler's own warning would not).
            self._aps.add_job(self.run_job, trigger_for(job), args=[job], id=job.name,
                              name=job.name, max_instances=2, coalesce=True,
                              misfire_grace_time=30)
        self._aps.start()
        self._lease_task = asyncio.create_task(self._keep_lease(), name="scheduler-lease")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Fire no more jobs, let those running finish within `grace` seconds (then cancel
        them), and give up the lease."""
        self._stopping = True
        if self._aps.running:
            self._aps.shutdown(wait=False)
        if self._running:
            _, unfinished = await asyncio.wait(set(self._running), timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._lease_task is not None:
            self._lease_task.cancel()
            await asyncio.gather(self._lease_task, return_exceptions=True)
        if self._lease_until is not None:
            try:
                await self._db.run(lambda session: scheduling.release_lease(
                    session, name=LEASE, holder=self.holder))
            except Exception:
                log.exception("could not release the scheduler lease")
            self._lease_until = None

    async def run_job(self, job: Job) -> bool:
        """Run one tick of a job if this replica leads and the tick is not taken; True if run."""
        if self._stopping or not self.is_leader:
            return False
        if job.name in self._runs:
            self._skip(job, self._runs[job.name])
            return False
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)  # from here on, `stop` waits for it
        run = self._runs[job.name] = _Run(time.monotonic())
        try:
            return await self._run_tick(job, run)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Cancelled by `stop`: not a failure (APScheduler would log it as one).
            log.info("scheduled job %s stopped with Roadie before it finished; it runs "
                     "again at its next tick", job.name)
            return False
        finally:
            self._running.discard(task)  # type: ignore[arg-type]
            del self._runs[job.name]
            if run.skipped:
                log.info("scheduled job %s: the run that held up %d tick(s) ended after %.1f s",
                         job.name, run.skipped, time.monotonic() - run.started)

    def _skip(self, job: Job, run: _Run) -> None:
        """A tick that fired while the job's last run goes on: skipped (what the run leaves
        undone is still due at the next tick), counted, and told once per run."""
        run.skipped += 1
        self._metrics.ticks_skipped.labels(job.name).inc()
        if run.skipped == 1:
            log.warning("scheduled job %s: the run that began %.1f s ago is still %s; the "
                        "ticks due meanwhile are skipped", job.name,
                        time.monotonic() - run.started, run.stage)

    async def _run_tick(self, job: Job, run: _Run) -> bool:
        now = self._clock.now()
        failures = self._job_failures.setdefault(
            job.name, RepeatedFailure(log, f"scheduled job {job.name}"))
        tick = tick_of(job, now)
        try:
            claimed = await self._db.run(lambda session: scheduling.claim_tick(
                session, job=job.name, tick=tick, holder=self.holder, now=now))
        except Exception as error:
            failures.failed(error, "could not be claimed; it runs again at its next tick")
            return False
        if not claimed:
            return False
        run.stage = "running"
        started = time.perf_counter()
        try:
            await job.run()
        except Exception as error:
            failures.failed(error, "failed; it runs again at its next tick")
        else:
            failures.succeeded()
        finally:
            self._metrics.sweeps.labels(job.name).observe(time.perf_counter() - started)
        return True
