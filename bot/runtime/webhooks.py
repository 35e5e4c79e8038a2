"""GitHub webhooks: verify, store, answer; then process each stored delivery once.

The receiver answers 202 as soon as the delivery is stored; a redelivery (same
`X-GitHub-Delivery`) is answered 200 and not processed again. The worker hands each stored
delivery to the cogs' handlers; messages they post are keyed by delivery and handler, so a
delivery processed twice (after a crash, or a retry) posts nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence

from aiohttp import web

from bot.core.cog import GitHubHandler
from bot.core.events import GitHubEvent
from bot.core.outbox import outbox_scope
from bot.core.ports import PlatformError
from bot.runtime.metrics import Metrics
from governance.clock import Clock
from governance.db import Database
from governance.inbox import service as inbox

log = logging.getLogger("roadie.webhooks")
MAX_ATTEMPTS = 8


def signature_for(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(signature_for(secret, body), header or "")


class WebhookReceiver:
    """The aiohttp handler for `POST <webhook_path>`."""

    def __init__(self, db: Database, clock: Clock, metrics: Metrics, *, secret: bytes | None,
                 max_body: int, on_stored: Callable[[], None]) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics
        self._secret = secret
        self._max_body = max_body
        self._on_stored = on_stored

    def _refuse(self, status: int, event: str, outcome: str, text: str) -> web.Response:
        self._metrics.webhooks.labels(event or "unknown", outcome).inc()
        return web.json_response({"error": text}, status=status)

    async def handle(self, request: web.Request) -> web.Response:
        event = request.headers.get("X-GitHub-Event", "")
        if request.content_length is not None and request.content_length > self._max_body:
            return self._refuse(413, event, "too_large",
                                f"body larger than {self._max_body} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, event, "too_large", f"body larger than {self._max_body} bytes")
        if self._secret is not None and not signature_ok(
            self._secret, body, request.headers.get("X-Hub-Signature-256")
        ):
            return self._refuse(401, event, "bad_signature",
                                "missing or wrong X-Hub-Signature-256 for this body")
        if not event:
            return self._refuse(400, event, "bad_request", "the X-GitHub-Event header is missing")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._refuse(400, event, "bad_request", "the body is not JSON")
        if not isinstance(payload, dict):
            return self._refuse(400, event, "bad_request", "the body is not a JSON object")
        delivery_id = request.headers.get("X-GitHub-Delivery", "").strip()
        if not delivery_id:
            return self._refuse(400, event, "bad_request",
                                "the X-GitHub-Delivery header is missing")
        action = payload.get("action") if isinstance(payload.get("action"), str) else ""
        with self._db.transaction() as session:
            stored = inbox.store_delivery(
                session, delivery_id=delivery_id[:100], event=event[:60], action=action[:60],
                hook_id=request.headers.get("X-GitHub-Hook-ID", "")[:40],
                payload=body.decode("utf-8"), now=self._clock.now())
        if not stored:
            self._metrics.webhooks.labels(event, "duplicate").inc()
            return web.json_response({"status": "duplicate", "delivery": delivery_id}, status=200)
        self._metrics.webhooks.labels(event, "accepted").inc()
        self._on_stored()
        return web.json_response({"status": "accepted", "delivery": delivery_id}, status=202)


class WebhookWorker:
    """Processes stored deliveries in order of arrival, one at a time per replica."""

    def __init__(self, db: Database, clock: Clock, metrics: Metrics,
                 handlers: Mapping[str, Sequence[tuple[str, GitHubHandler]]], worker: str,
                 poll_interval: float = 1.0) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics
        self._handlers = handlers
        self._worker = worker
        self._poll = poll_interval
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every stored delivery that is due has been processed."""
        self._idle.clear()
        self.wake()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _run(self) -> None:
        while True:
            try:
                worked = await self.process_batch()
            except Exception:
                log.exception("could not read stored deliveries; trying again")
                worked = 0
            if worked:
                continue
            self._idle.set()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def process_batch(self, limit: int = 20) -> int:
        with self._db.transaction() as session:
            batch = inbox.claim_pending(session, worker=self._worker, now=self._clock.now(),
                                        limit=limit)
        for row in batch:
            assert row.id is not None
            await self._process(row.id, row.delivery_id, row.event, row.action, row.payload,
                                row.received_at)
        return len(batch)

    async def _process(self, row_id: int, delivery_id: str, event: str, action: str,
                       payload_text: str, received_at) -> None:  # type: ignore[no-untyped-def]
        try:
            payload = json.loads(payload_text)
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            log.error("delivery %s (%s): stored payload is not a JSON object; skipped",
                      delivery_id, event)
            with self._db.transaction() as session:
                inbox.retry_later(session, row_id, error="not a JSON object", now=self._clock.now(),
                                  max_attempts=1)
            return
        github_event = GitHubEvent(event, action, delivery_id, payload, received_at)
        handled, transient, broken = False, [], []
        for name, handler in self._handlers.get(event, ()):
            try:
                with outbox_scope(f"gh:{delivery_id}:{name}"):
                    handled = bool(await handler(github_event)) or handled
            except PlatformError as error:
                if error.permanent:
                    broken.append(f"{name}: {error}")
                else:
                    transient.append(f"{name}: {error}")
            except Exception as error:
                log.exception("delivery %s (%s %s): handler %s failed; skipped", delivery_id,
                              event, action, name)
                broken.append(f"{name}: {error!r}")
        now = self._clock.now()
        with self._db.transaction() as session:
            if transient:
                again = inbox.retry_later(session, row_id, error="; ".join(transient), now=now,
                                          max_attempts=MAX_ATTEMPTS)
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
        self._metrics.webhook_processing.labels(event, outcome).inc()
