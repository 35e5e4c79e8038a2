"""The outbox sender: due rows out to the platforms, within their rate limits.

Rows are queued per (platform, destination) so that one slow channel holds up no other.
Each row is claimed just before it is sent, so two replicas never send the same row, and it
is marked sent only once the platform has answered with the message's id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlmodel import Session

from bot.config import OutboxSection
from bot.core.logflood import RepeatedFailure
from bot.core.messages import Message
from bot.core.polling import Poller
from bot.core.ports import ChatPort, PlatformError
from bot.runtime.metrics import Metrics
from bot.runtime.ratelimit import Limiter, SlidingWindow
from governance.clock import Clock
from governance.db import Database
from governance.outbox import service as rows
from governance.outbox.models import FAILED, SENT, OutboxMessage
from governance.people.service import chat_ids_for_logins

log = logging.getLogger("roadie.sender")
FAILURE_REPORT_DESTINATION = "admins"
CLAIM_HOLD = timedelta(seconds=30)
"""How long a claim holds a row: a replica that dies while sending leaves its rows (and
their lanes) to the others for at most this long; restarted under its name, it takes them
back at once. A row waiting longer than a third of it for the rate limits is claimed again
before it is sent, so no other replica takes a row being sent."""
COLLECT_PAUSE = 0.01
"""Once woken, the sender waits this long before it looks: one read for the many wakes of a
burst."""


class Claimed(NamedTuple):
    """A row claimed for sending, with what sending it needs from the database."""
    row: OutboxMessage
    message: Message
    mentions: dict[str, str]
    original: tuple[str, str] | None
    """(status, remote id) of the message a row edits."""


class OutboxSender:
    def __init__(self, db: Database, clock: Clock, ports: Mapping[str, ChatPort],
                 settings: OutboxSection, metrics: Metrics, worker: str) -> None:
        self._db = db
        self._clock = clock
        self._ports = ports
        self._settings = settings
        self._metrics = metrics
        self._worker = worker
        self._limiter = Limiter()
        self._queues: dict[tuple[str, str], asyncio.Queue[int]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._queued: set[int] = set()
        self._idle = asyncio.Event()  # set when nothing is queued for sending
        self._lane_failures = RepeatedFailure(log, "sending outbox rows")
        self._poller = Poller("outbox-sender", self._look,
                              poll=settings.poll_interval.total_seconds(), pause=COLLECT_PAUSE)
        self.between: Callable[[], Awaitable[None]] | None = None  # awaited between sends

    def wake(self) -> None:
        self._poller.wake()

    def start(self) -> None:
        self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()
        lanes = list(self._workers.values())
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)

    async def drain(self, timeout: float = 5.0) -> bool:
        """Wait until nothing due is left to send (used by the console between commands)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            self._idle.clear()
            self.wake()
            try:
                await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return False
            if not self._queued and not await self._has_due():
                return True
        return False

    async def _has_due(self) -> bool:
        platforms, now = list(self._ports), self._clock.now()
        return bool(await self._db.run(
            lambda session: rows.due(session, platforms=platforms, now=now, limit=1)))

    async def _look(self) -> int:
        """One look for due rows, which go to their lanes' queues. Always 0: the lanes send
        them, and the next look comes with a wake (a commit, a lane done) or the poll."""
        await self._collect()
        if not self._queued:
            self._idle.set()
        return 0

    async def _collect(self) -> None:
        if not self._ports:
            return
        platforms, now = list(self._ports), self._clock.now()
        found = await self._db.run(lambda session: rows.due_lanes(
            session, platforms=platforms, now=now, worker=self._worker))
        for row_id, platform, destination in found:
            if row_id in self._queued:
                continue
            self._queued.add(row_id)
            lane = (platform, destination)
            queue = self._queues.setdefault(lane, asyncio.Queue())
            queue.put_nowait(row_id)
            worker = self._workers.get(lane)
            if worker is None or worker.done():
                self._workers[lane] = asyncio.create_task(self._lane(lane, queue))

    async def _lane(self, lane: tuple[str, str], queue: asyncio.Queue[int]) -> None:
        platform, destination = lane
        port = self._ports[platform]
        place = port.place_for(destination)
        per_place, per_platform = port.rates()
        windows = [w for w in (self._limiter.window((platform, destination), per_place),
                               self._limiter.window((platform, ""), per_platform)) if w]
        while not queue.empty():
            row_id = queue.get_nowait()
            settled = False
            try:
                if self.between is not None:
                    await self.between()
                settled = await self._deliver(row_id, port, place, windows)
            except Exception as error:
                self._lane_failures.failed(error, f"failed (row {row_id})")
            else:
                self._lane_failures.succeeded()
            finally:
                self._queued.discard(row_id)
            if not settled:
                # The row waits for a retry: what was queued after it waits too, and comes
                # back behind it, so that the place gets its messages in order.
                while not queue.empty():
                    self._queued.discard(queue.get_nowait())
        if not self._queued:
            self._idle.set()
            self.wake()

    async def _deliver(self, row_id: int, port: ChatPort, place: str | None,
                       windows: list[SlidingWindow]) -> bool:
        """Send one row; True when it is settled (sent, failed for good, or not ours to send),
        False when it stays pending for a later attempt."""
        now = self._clock.now()

        def claim(session: Session) -> Claimed | None:
            row = rows.claim(session, row_id, worker=self._worker, now=now, hold=CLAIM_HOLD)
            if row is None:
                return None
            message = Message.from_json(row.payload)
            mentions = chat_ids_for_logins(session, row.platform, message.mentions)
            original = (rows.sent_remote_id(session, row.platform, row.edit_of)
                        if row.edit_of else None)
            return Claimed(row, message, mentions, original)

        # No transaction: the claim is one statement, what follows reads. One round trip
        # for most messages, not four.
        claimed = await self._db.autocommit(claim)
        if claimed is None:
            return False  # another replica has it, or an earlier row of its lane
        row, message, mentions, original = claimed
        if place is None:
            await self._give_up(row,
                                f"destination {row.destination!r} is not mapped on {row.platform}")
            return True
        try:
            if row.edit_of and original is not None and original[0] == FAILED:
                await self._give_up(row, "the message it edits could not be sent")
                return True
            if row.edit_of and original is not None and original[0] != SENT:
                await self._db.run(lambda session: rows.mark_retry(
                    session, row_id, error="waiting for the original message",
                    not_before=now + timedelta(seconds=1), count_attempt=False))
                return False
            # Wait for the rate limits only now, so the windows hold the times of the requests.
            await self._limiter.acquire(windows)
            if not await self._still_mine(row_id, since=now):
                return False
            replacement = None
            if row.edit_of and original is not None:
                replacement = await port.edit(place, original[1], message, mentions=mentions)
                remote_id = replacement or original[1]
            else:
                remote_id = await port.send(place, message, key=row.key, mentions=mentions)
        except PlatformError as error:
            return await self._failed(row, error, windows)
        except Exception as error:  # a transport bug must not lose the message
            log.exception("outbox row %s: %s failed", row_id, row.platform)
            return await self._failed(row, PlatformError(row.platform, repr(error)), windows)
        sent_at, edit_of = self._clock.now(), row.edit_of

        def mark_sent(session: Session) -> None:
            rows.mark_sent(session, row_id, remote_id=remote_id, now=sent_at)
            if replacement is not None and edit_of:
                rows.repoint(session, row.platform, edit_of, remote_id=replacement)

        if replacement is None:
            await self._db.autocommit(mark_sent)  # one statement: one round trip
        else:
            await self._db.run(mark_sent)
        self._metrics.sent.labels(row.platform, "sent").inc()
        if row.attempts or row.last_error:
            self.wake()  # the rows its lane held back behind it are due now
        return True

    async def _still_mine(self, row_id: int, *, since: datetime) -> bool:
        """After a long wait, hold the claimed row for another CLAIM_HOLD; False if another
        replica took it meanwhile (it sends it)."""
        now = self._clock.now()
        if now - since < CLAIM_HOLD / 3:
            return True
        claimed = await self._db.autocommit(lambda session: rows.claim(
            session, row_id, worker=self._worker, now=now, hold=CLAIM_HOLD))
        return claimed is not None

    async def _failed(self, row: OutboxMessage, error: PlatformError,
                      windows: list[SlidingWindow]) -> bool:
        """Record a failed attempt; True when the row failed for good."""
        assert row.id is not None
        now = self._clock.now()
        if error.retry_after is not None:
            for window in windows:
                window.pause(error.retry_after)
            row_id, not_before = row.id, now + timedelta(seconds=error.retry_after)
            await self._db.run(lambda session: rows.mark_retry(
                session, row_id, error=str(error), count_attempt=False, not_before=not_before))
            self._metrics.sent.labels(row.platform, "rate_limited").inc()
            return False
        if error.permanent or row.attempts + 1 >= self._settings.give_up_after:
            await self._give_up(row, str(error))
            return True
        backoff = min(timedelta(seconds=2 ** row.attempts), self._settings.max_backoff)
        row_id = row.id
        await self._db.run(lambda session: rows.mark_retry(
            session, row_id, error=str(error), not_before=now + backoff))
        self._metrics.sent.labels(row.platform, "retry").inc()
        log.warning("outbox row %s to %s on %s failed (%s); retrying in %s", row.id,
                    row.destination, row.platform, error, backoff)
        return False

    async def _give_up(self, row: OutboxMessage, error: str) -> None:
        assert row.id is not None
        log.error("outbox row %s to %s on %s failed for good: %s", row.id, row.destination,
                  row.platform, error)
        self._metrics.sent.labels(row.platform, "failed").inc()
        row_id = row.id
        others = [p for p, port in self._ports.items()
                  if p != row.platform and port.place_for(FAILURE_REPORT_DESTINATION)]

        def mark_failed(session: Session) -> None:
            rows.mark_failed(session, row_id, error=error)
            if others and not row.key.startswith("outbox-failed:"):
                report = Message(
                    title=f"A message to {row.destination} on {row.platform} could not be sent",
                    body=f"{error}\n`roadie doctor` checks what Roadie may do on each platform.",
                    tone="danger")
                rows.enqueue(session, platforms=others, destination=FAILURE_REPORT_DESTINATION,
                             payload=report.to_json(), key=f"outbox-failed:{row_id}",
                             now=self._clock.now())

        await self._db.run(mark_failed)
        self.wake()

