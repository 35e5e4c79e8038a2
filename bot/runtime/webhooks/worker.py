"""Stored deliveries handed to the cogs' handlers, each once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.cog import GitHubHandler
from bot.core.events import GitHubEvent, MalformedEvent, might_be_unsafe
from bot.core.outbox import outbox_scope
from bot.core.polling import Poller
from bot.core.ports import PlatformError
from bot.runtime.metrics import Metrics
from bot.runtime.webhooks.payloads import (
    delivery_owner,
    event_label,
    parsed_payload,
    repository_of,
)
from governance.clock import Clock, aware
from governance.db import Database
from governance.inbox import service as inbox
from governance.inbox.models import WebhookDelivery

log = logging.getLogger("roadie.webhooks")
MAX_ATTEMPTS = 8
REPOSITORIES_AT_ONCE = 4
"""Repositories whose deliveries a replica processes side by side."""



class _Claims:
    """A batch's claims: held longer, every third of `inbox.CLAIM_HOLD`, while the batch is
    processed, so that a replica that dies leaves them to the others within CLAIM_HOLD and
    one that lives keeps them."""

    def __init__(self, db: Database, clock: Clock, worker: str,
                 batch: Sequence[WebhookDelivery], claimed_at: datetime) -> None:
        self._db, self._clock, self._worker = db, clock, worker
        self._unfinished = [row.id for row in batch if row.id is not None]
        self._mine = set(self._unfinished)
        self._claimed_at = claimed_at
        self._renewing = asyncio.Lock()

    async def still_mine(self, row_id: int) -> bool:
        async with self._renewing:
            now = self._clock.now()
            if now - self._claimed_at >= inbox.CLAIM_HOLD / 3:
                rest = [i for i in self._unfinished if i in self._mine]
                self._mine = await self._db.run(lambda session: inbox.hold_longer(
                    session, rest, worker=self._worker, now=now))
                self._claimed_at = now
        return row_id in self._mine

    def done(self, row_id: int) -> None:
        self._unfinished.remove(row_id)


class WebhookWorker:
    """Processes stored deliveries: those about one repository in order of arrival, one at
    a time per replica; several repositories at once."""

    def __init__(self, db: Database, clock: Clock, metrics: Metrics,
                 handlers: Mapping[str, Sequence[tuple[str, GitHubHandler]]], worker: str,
                 poll_interval: float = 1.0,
                 between: Callable[[], Awaitable[None]] | None = None,
                 only_org: str = "", also_accept: Sequence[str] = ()) -> None:
        self._db = db
        self._only_org = only_org.lower()
        self._accepted = {only_org.lower(), *(owner.lower() for owner in also_accept)}
        self._clock = clock
        self._metrics = metrics
        self._handlers = handlers
        self._worker = worker
        self.between = between  # awaited between two deliveries: the receiver's `quiet`
        self._poller = Poller("webhook-worker", self.process_batch, poll=poll_interval)

    def wake(self) -> None:
        self._poller.wake()

    def start(self) -> None:
        self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()

    async def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every stored delivery that is due has been processed."""
        return await self._poller.drain(timeout)

    async def process_batch(self, limit: int = 20) -> int:
        """Claim up to `limit` due deliveries and process them: those about one repository
        one after the other, in the order they arrived, and up to `REPOSITORIES_AT_ONCE`
        repositories side by side (with the database far away, each delivery waits for a
        dozen round trips, most of them its own)."""
        claimed_at = self._clock.now()
        batch = await self._db.run(lambda session: inbox.claim_pending(
            session, worker=self._worker, now=claimed_at, limit=limit))
        claims = _Claims(self._db, self._clock, self._worker, batch, claimed_at)
        lanes: dict[str, list[tuple[WebhookDelivery, Any]]] = {}
        for row in batch:
            payload = await parsed_payload(row.payload)
            lanes.setdefault(repository_of(payload), []).append((row, payload))
        at_once = asyncio.Semaphore(REPOSITORIES_AT_ONCE)

        async def lane(rows: list[tuple[WebhookDelivery, Any]]) -> None:
            async with at_once:
                for row, payload in rows:
                    assert row.id is not None
                    if not await claims.still_mine(row.id):
                        continue  # its claim ran out and another replica took it
                    await self._process(row, payload)
                    claims.done(row.id)
                    await (self.between() if self.between else asyncio.sleep(0))

        outcomes = await asyncio.gather(*(lane(rows) for rows in lanes.values()),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(batch)

    async def _process(self, row: WebhookDelivery, payload: Any) -> None:
        """Hand a claimed delivery (`payload`: its payload read back) to the handlers."""
        assert row.id is not None
        row_id, delivery_id, event, action = row.id, row.delivery_id, row.event, row.action
        payload_text, received_at = row.payload, aware(row.received_at)
        if not isinstance(payload, dict):
            log.error("delivery %s (%s): stored payload is not a JSON object; skipped",
                      delivery_id, event)
            now = self._clock.now()
            await self._db.run(lambda session: inbox.retry_later(
                session, row_id, error="not a JSON object", now=now, max_attempts=1))
            return
        owner = delivery_owner(payload)
        if self._only_org and owner and owner.lower() not in self._accepted:
            log.info("delivery %s (%s): about %s, not %s; ignored", delivery_id, event, owner,
                     self._only_org)
            now = self._clock.now()
            await self._db.run(lambda session: inbox.settle(session, row_id, handled=False,
                                                            now=now))
            self._metrics.webhook_processing.labels(event, "other_org").inc()
            return
        try:
            github_event, note = GitHubEvent.parse(event, action, delivery_id, payload,
                                                   received_at,
                                                   check_text=might_be_unsafe(payload_text))
        except MalformedEvent as error:
            log.warning("delivery %s (%s): refused: %s", delivery_id, event, error)
            now, note = self._clock.now(), f"refused: {error}"
            await self._db.run(lambda session: inbox.settle(session, row_id, handled=False,
                                                            now=now, note=note))
            self._metrics.webhook_processing.labels(event_label(event), "malformed").inc()
            return
        if note:
            log.warning("delivery %s (%s): %s", delivery_id, event, note)
        handled, transient, broken = False, [], []
        wait = 0.0  # the longest wait a platform asked for
        for name, handler in self._handlers.get(event, ()):
            try:
                with outbox_scope(f"gh:{github_event.delivery_id}:{name}"):
                    handled = bool(await handler(github_event)) or handled
            except PlatformError as error:
                if error.permanent:
                    broken.append(f"{name}: {error}")
                else:
                    transient.append(f"{name}: {error}")
                    wait = max(wait, error.retry_after or 0.0)
            except Exception as error:
                log.exception("delivery %s (%s %s): handler %s failed; skipped", delivery_id,
                              event, action, name)
                broken.append(f"{name}: {error!r}")
        now = self._clock.now()

        def settle(session: Session) -> str:
            if transient:
                again = inbox.retry_later(session, row_id, error="; ".join(transient), now=now,
                                          max_attempts=MAX_ATTEMPTS, at_least=wait)
                outcome = "retry" if again else "failed"
                log.warning("delivery %s (%s): %s; %s", delivery_id, event, "; ".join(transient),
                            "will retry" if again else "giving up")
            elif broken:
                inbox.retry_later(session, row_id, error="; ".join(broken), now=now,
                                  max_attempts=1)
                outcome = "failed"
            else:
                inbox.settle(session, row_id, handled=handled, now=now)
                outcome = "handled" if handled else "ignored"
            return outcome

        if transient or broken:
            outcome = await self._db.run(settle)
        else:
            outcome = await self._db.autocommit(settle)  # one statement: one round trip
        self._metrics.webhook_processing.labels(event, outcome).inc()
