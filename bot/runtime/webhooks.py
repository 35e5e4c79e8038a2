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
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlmodel import Session

from bot.core.cog import GitHubHandler
from bot.core.events import GitHubEvent, MalformedEvent, might_be_unsafe
from bot.core.logflood import RepeatedFailure
from bot.core.outbox import outbox_scope
from bot.core.polling import IN_BACKGROUND, Poller
from bot.core.ports import PlatformError
from bot.runtime.metrics import Metrics
from bot.runtime.pgasync import AsyncPostgres
from governance.clock import Clock, aware
from governance.db import Database
from governance.inbox import service as inbox
from governance.inbox.models import WebhookDelivery

log = logging.getLogger("roadie.webhooks")
MAX_ATTEMPTS = 8


OFFLOAD_ABOVE = 256 * 1024
"""Bodies larger than this are checked and parsed in a thread, so that the loop keeps
answering other requests meanwhile (a 25 MB body takes a while to hash and parse)."""
TURNS_TO_START_A_REQUEST = 6
TURNS_TO_GATHER_A_WRITE = 3
"""A write of deliveries waits this many turns of the event loop, for the requests read
meanwhile to join it."""
WRITES_AT_ONCE = 4
"""Writes of deliveries under way together: while one commits, the next gathers and starts
(on PostgreSQL, each on a connection of the receiver's own, never behind the background
work)."""
MAX_BATCH = 200
"""Deliveries in one write at most."""
IDLE_BEFORE_WORK = 0.001
"""Background work (processing a delivery, sending a message) waits until the receiver has
answered nothing for this long: in a burst, requests follow each other closer than this."""
LONGEST_BEFORE_WORK = 0.1
"""...but no longer than this: in a long burst, each background task still takes ten steps
a second."""
_EVENT_NAME = re.compile(r"[a-z_]{1,40}")
_HEADERS = ("x-hub-signature-256", "x-github-event", "x-github-delivery", "x-github-hook-id")
_SIGNATURE = re.compile(r"sha256=[0-9a-fA-F]{64}")
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,200}")
"""GitHub's delivery ids are GUIDs; anything printable up to 200 characters is kept whole."""
_HOOK_ID = re.compile(r"[0-9]{1,40}")
_EVENT_HEADER = re.compile(r"[a-z0-9_]{1,60}")
_ACTION = re.compile(r"[A-Za-z0-9_]{0,60}")
SMALL_BODY = 1024 * 1024
"""Bodies up to this size draw on the whole body budget; larger ones leave it a reserve, so
that large bodies (rare from GitHub, cheap to send for anyone) cannot crowd out the usual
deliveries of a few kilobytes."""
SMALL_RESERVE = 16 * 1024 * 1024
LARGE_BODY_RATE = 8 * 1024 * 1024
"""Bytes a second at which a body is read past its first `SMALL_BODY` (25 MB in 3 s; faster
when `read_timeout` asks for it). Until the last byte, nothing proves a body signed, and
anyone may send large ones: read at full speed, one after the other, they took a good part
of the event loop's time (reading, parsing, hashing) from every other request. GitHub's
deliveries are a few kilobytes, and a large one is still read well within its time."""
RETRY_AFTER = "5"


def parse_json(text: str) -> Any:
    """JSON as Python's json module reads it, in a third of the time for what GitHub sends.

    orjson is the fast path (parsing is a good part of what an acknowledgement costs); what
    it refuses and json accepts (a lone surrogate escape, an integer beyond 64 bits) goes to
    json, so that both accept exactly the same bodies.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def signature_for(secret: bytes, *parts: bytes | bytearray) -> str:
    """The X-Hub-Signature-256 of the body made of `parts`."""
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return "sha256=" + mac.hexdigest()


def signature_ok(secret: bytes, body: bytes | bytearray, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(signature_for(secret, body), header or "")


def _label(event: str) -> str:
    return event if _EVENT_NAME.fullmatch(event) else "unknown"


@dataclass(frozen=True)
class Refused:
    status: int
    outcome: str
    text: str
    event: str = "unknown"


WRONG_SIGNATURE = Refused(401, "bad_signature", "missing or wrong X-Hub-Signature-256 for this "
                          "body; sign it with the webhook secret (HMAC-SHA256)")


class BodyBudget:
    """The bytes of request bodies held at once, within a limit.

    A body draws on it as its bytes arrive (a body declared larger than `SMALL_BODY` draws
    its whole declared length up front), so that a connection that sends slowly holds only
    what it sent. A draw that does not fit is refused at once: the request is answered 503
    rather than queued, so that memory stays bounded whatever is sent.
    """

    def __init__(self, limit: int, *, largest: int) -> None:
        """`largest`: the largest body that must always fit once nothing else is held."""
        self.limit = max(limit, largest)
        self.large_limit = max(largest, self.limit - SMALL_RESERVE)
        self.held = 0

    @contextlib.contextmanager
    def holding(self) -> Iterator[Holding]:
        holding = Holding(self)
        try:
            yield holding
        finally:
            self.held -= holding.size


class Holding:
    """What one body holds of the budget."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.size = 0

    def shrink_to(self, size: int) -> None:
        """Hold no more than `size` bytes."""
        if size < self.size:
            self._budget.held -= self.size - size
            self.size = size

    def grow_to(self, size: int) -> bool:
        """Hold `size` bytes in all; False (holding what it held) when they do not fit."""
        if size <= self.size:
            return True
        ceiling = self._budget.limit if size <= SMALL_BODY else self._budget.large_limit
        if self._budget.held + size - self.size > ceiling:
            return False
        self._budget.held += size - self.size
        self.size = size
        return True


class DeliveryStore:
    """Stores deliveries many to a statement (a group commit), several statements at once.

    The first delivery to wait starts a write a few turns of the event loop later; requests
    read meanwhile join it, so a burst costs a commit per dozen deliveries or so rather than
    one each, and a lone delivery waits for a few turns only. Each write is one statement
    that commits by itself: on PostgreSQL sent by the event loop over connections of the
    receiver's own (`AsyncPostgres`), on SQLite through `Database.autocommit`. Up to
    `writes_at_once` of them are under way together: deliveries that arrive while one
    commits start the next at once instead of waiting for it, so that an answer waits for
    about one round trip whatever the database's distance, and a burst spreads over
    several connections. Each request is answered only once the statement that holds its
    delivery has committed. (Two writes holding the same delivery id cannot both store it:
    the database keeps one, and the other's request is answered as a redelivery.)
    """

    def __init__(self, db: Database, clock: Clock, max_batch: int = MAX_BATCH,
                 writes_at_once: int = WRITES_AT_ONCE) -> None:
        self._db = db
        self._clock = clock
        self._max_batch = max_batch
        self._writes_at_once = writes_at_once
        self._waiting: list[tuple[inbox.NewDelivery, asyncio.Future[bool]]] = []
        self._gathering = False  # a write is gathering deliveries and will start soon
        self._writing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # On PostgreSQL the loop drives the writes itself (bot/runtime/pgasync.py says why).
        self._postgres = AsyncPostgres(db, writes_at_once) if db.dialect == "postgresql" else None

    async def close(self) -> None:
        if self._postgres is not None:
            await self._postgres.close()

    async def store(self, delivery: inbox.NewDelivery) -> bool:
        """True when the delivery is new, False when its id was stored before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        self._start_a_write()
        return await future

    def _start_a_write(self) -> None:
        if self._waiting and not self._gathering and self._writing < self._writes_at_once:
            self._gathering = True
            task = asyncio.create_task(self._write_soon())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write_soon(self) -> None:
        for _ in range(TURNS_TO_GATHER_A_WRITE):
            await asyncio.sleep(0)
        self._gathering = False
        batch = self._waiting[:self._max_batch]
        del self._waiting[:self._max_batch]
        self._writing += 1
        self._start_a_write()  # more than a batch waited: the next write gathers at once
        try:
            await self._write(batch)
        finally:
            self._writing -= 1
            self._start_a_write()

    async def _write(self, batch: list[tuple[inbox.NewDelivery, asyncio.Future[bool]]]) -> None:
        deliveries, now = [d for d, _ in batch], self._clock.now()
        try:
            # One statement, so no transaction around it: one round trip on PostgreSQL.
            if self._postgres is not None:
                statement, values = inbox.postgres_store_statement(deliveries, now=now)
                new = {row[0] for row in await self._postgres.fetch_all(statement, values)}
            else:
                new = await self._db.autocommit(
                    lambda session: inbox.store_deliveries(session, deliveries, now=now))
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for delivery, future in batch:
            first = delivery.delivery_id in new
            new.discard(delivery.delivery_id)  # a repeat within the batch is a duplicate
            if not future.done():
                future.set_result(first)


class WebhookReceiver:
    """The aiohttp handler for `POST <webhook_path>`.

    Refusals store nothing and are counted in `roadie_webhook_deliveries` by outcome; the
    event label of a request whose signature was not checked is `unknown`, so that
    unauthenticated requests cannot invent label values.
    """

    def __init__(self, db: Database, clock: Clock, metrics: Metrics, *, secret: bytes | None,
                 max_body: int, on_stored: Callable[[], None], body_memory: int | None = None,
                 read_timeout: float = 10.0) -> None:
        """`body_memory`: bytes of bodies held at once (default: four of the largest);
        `read_timeout`: seconds a body may take to arrive, GitHub's own 10 s by default."""
        self._metrics = metrics
        self._secret = secret
        self._max_body = max_body
        self._budget = BodyBudget(max(body_memory or 4 * max_body, max_body), largest=max_body)
        self._read_timeout = read_timeout
        # The largest body arrives within half the time it is given, however slow the pace.
        self._large_rate = max(LARGE_BODY_RATE, 2 * max_body / max(read_timeout, 0.001))
        self._on_stored = on_stored
        self._store = DeliveryStore(db, clock)
        self._store_failures = RepeatedFailure(log, "storing deliveries")
        self._aborted = RepeatedFailure(log, "webhook upload", traceback=False)
        self._in_flight = 0
        self._idle = asyncio.Event()  # set once nothing was answered for IDLE_BEFORE_WORK
        self._idle.set()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._turn_free = asyncio.Event()
        self._turn_free.set()
        self._one_in_background = asyncio.Semaphore(1)

    def database_gate(self) -> contextlib.AbstractAsyncContextManager[object]:
        """`Database.gate`: while requests are being answered, background work's calls take
        a worker thread one at a time.

        Each thread of the database spends part of its call running Python (building the
        statement, reading the rows), and for that takes the interpreter's lock from the
        loop: several at once keep the loop, and the requests waiting on it, from the
        lock for many turns. A request never waits for this: its own calls never queue here.
        """
        if IN_BACKGROUND.get() and not self._idle.is_set():
            return self._one_in_background
        return contextlib.nullcontext()

    async def close(self) -> None:
        """Close what the receiver holds of the database; once the server has stopped."""
        await self._store.close()

    async def quiet(self, longest: float = LONGEST_BEFORE_WORK) -> None:
        """Wait for a turn to do some background work (processing a delivery, sending a
        message): the worker and the sender call this before each step.

        A turn comes once the receiver has answered nothing for `IDLE_BEFORE_WORK` (or after
        `longest` seconds), and at most one step runs per turn of the event loop, so that a
        request waits for one step at most, not for every background task's.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + longest
        # A few turns of the loop, for requests that arrived to reach the handler.
        for _ in range(TURNS_TO_START_A_REQUEST):
            await asyncio.sleep(0)
        while True:
            if not self._idle.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(give_up):
                        await self._idle.wait()
            while not self._turn_free.is_set():
                await self._turn_free.wait()
            # Several steps may have waited for the same pause: each looks again once its
            # turn comes, as a request may have started meanwhile.
            if self._idle.is_set() or loop.time() >= give_up:
                break
        self._turn_free.clear()
        loop.call_soon(self._turn_free.set)

    def _refuse(self, refused: Refused, request: web.Request | None = None) -> web.Response:
        self._metrics.webhooks.labels(refused.event, refused.outcome).inc()
        response = web.json_response({"error": refused.text}, status=refused.status)
        if refused.status == 503:
            response.headers["Retry-After"] = RETRY_AFTER
        if request is not None and not request.content.is_eof():
            # What is left of the body is not read: close, rather than read it to keep the
            # connection.
            response.force_close()
        return response

    async def handle(self, request: web.Request) -> web.Response:
        self._in_flight += 1
        self._idle.clear()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        try:
            return await self._answer(request)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle_timer = asyncio.get_running_loop().call_later(IDLE_BEFORE_WORK,
                                                                         self._idle.set)

    def _before_reading(self, request: web.Request) -> Refused | None:
        """What the headers alone show to be refused: nothing of the body is read for it."""
        if self._secret is not None and not _SIGNATURE.fullmatch(
                request.headers.get("X-Hub-Signature-256", "").strip()):
            return Refused(401, "bad_signature", "missing or malformed X-Hub-Signature-256 "
                           "(sha256=<64 hex digits>); sign it with the webhook secret "
                           "(HMAC-SHA256)")
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return Refused(415, "bad_encoding", f"Content-Encoding {encoding[:40]!r} is not "
                           "accepted: GitHub sends deliveries uncompressed; send the body as is")
        if request.content_length is not None and request.content_length > self._max_body:
            return self._too_large()
        return None

    def _too_large(self) -> Refused:
        return Refused(413, "too_large", f"the body is larger than {self._max_body} bytes; "
                                         "GitHub never sends more than 25 MB")

    async def _answer(self, request: web.Request) -> web.Response:
        refused = self._before_reading(request)
        if refused is not None:
            return self._refuse(refused, request)
        with self._budget.holding() as holding:
            declared = request.content_length
            if declared is not None and declared > SMALL_BODY and not holding.grow_to(declared):
                return self._refuse(self._busy(), request)
            chunks: list[bytes] = []
            refused = await self._read(request, chunks, holding)
            if refused is None:
                refused = await self._signed(request, chunks, holding.size)
            if refused is not None:
                return self._refuse(refused, request)
            return await self._accept(request, chunks, holding.size)

    def _busy(self) -> Refused:
        return Refused(503, "busy", "Roadie holds as many bodies as it may at once; "
                       f"redeliver in {RETRY_AFTER} s")

    async def _read(self, request: web.Request, chunks: list[bytes],
                    holding: Holding) -> Refused | None:
        """Read the body into `chunks` as they come (no copy, no buffer to grow), holding
        their bytes in the budget; past `SMALL_BODY`, at `LARGE_BODY_RATE` at most (while it
        waits, the sender is held back by TCP's own flow control)."""
        filled = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self._read_timeout):
                while chunk := await request.content.readany():
                    size = filled + len(chunk)
                    if size > self._max_body:
                        return self._too_large()
                    if not holding.grow_to(size):
                        return self._busy()
                    chunks.append(chunk)
                    filled = size
                    if filled > SMALL_BODY:  # not read on until its pace allows
                        wait = started + (filled - SMALL_BODY) / self._large_rate - loop.time()
                        if wait > 0:
                            await asyncio.sleep(wait)
        except TimeoutError:
            return Refused(408, "timeout", f"the body took longer than {self._read_timeout:g} s "
                           "to arrive; send it at once")
        except (ConnectionError, web.RequestPayloadError, HttpProcessingError) as error:
            self._aborted.failed(error, f"from {request.remote or '?'} aborted after "
                                        f"{filled} of {request.content_length or '?'} bytes")
            return Refused(400, "aborted", "the body did not arrive whole")
        holding.shrink_to(filled)  # the sender said more than it sent
        return None

    async def _signed(self, request: web.Request, chunks: list[bytes],
                      size: int) -> Refused | None:
        """WRONG_SIGNATURE unless the body is signed with the secret. A large body is hashed
        on a thread (hashing lets go of the interpreter): on the event loop, the unsigned
        bodies anyone may send would take its time from every other request."""
        if self._secret is None:
            return None
        signature = (signature_for(self._secret, *chunks) if size <= OFFLOAD_ABOVE
                     else await asyncio.to_thread(signature_for, self._secret, *chunks))
        header = request.headers.get("X-Hub-Signature-256", "").strip()
        return None if hmac.compare_digest(signature, header) else WRONG_SIGNATURE

    async def _accept(self, request: web.Request, chunks: list[bytes],
                      size: int) -> web.Response:
        headers = {name: request.headers.get(name, "") for name in _HEADERS}

        def joined_and_checked() -> inbox.NewDelivery | Refused:
            body = b"".join(chunks)  # a body of one chunk is that chunk, not a copy
            chunks.clear()
            return self.check(body, headers, signature_checked=True)

        checked = (joined_and_checked() if size <= OFFLOAD_ABOVE
                   else await asyncio.to_thread(joined_and_checked))
        if isinstance(checked, Refused):
            return self._refuse(checked)
        try:
            stored = await self._store.store(checked)
        except Exception as error:
            self._store_failures.failed(error, f"failed (delivery {checked.delivery_id}, "
                                               f"{_label(checked.event)})")
            return self._refuse(Refused(503, "store_failed", "Roadie could not store the "
                                        "delivery; redeliver it later", _label(checked.event)))
        self._store_failures.succeeded()
        if not stored:
            self._metrics.webhooks.labels(_label(checked.event), "duplicate").inc()
            return web.json_response({"status": "duplicate", "delivery": checked.delivery_id},
                                     status=200)
        self._metrics.webhooks.labels(_label(checked.event), "accepted").inc()
        self._on_stored()
        return web.json_response({"status": "accepted", "delivery": checked.delivery_id},
                                 status=202)

    def check(self, body: bytes | bytearray, headers: Mapping[str, str], *,
              signature_checked: bool = False) -> inbox.NewDelivery | Refused:
        """The delivery in a request, or why it is refused. `headers` are GitHub's, named in
        lower case."""
        if self._secret is not None and not signature_checked and not signature_ok(
            self._secret, body, headers.get("x-hub-signature-256")
        ):
            return WRONG_SIGNATURE
        event = headers.get("x-github-event", "").strip()
        if not event:
            return Refused(400, "bad_request", "the X-GitHub-Event header is missing")
        if not _EVENT_HEADER.fullmatch(event):
            return Refused(400, "bad_request", "the X-GitHub-Event header is not an event name "
                           "(lower-case letters, digits and _, up to 60)")
        label = _label(event)
        delivery_id = headers.get("x-github-delivery", "").strip()
        if not delivery_id:
            return Refused(400, "bad_request", "the X-GitHub-Delivery header is missing", label)
        if not _DELIVERY_ID.fullmatch(delivery_id):
            return Refused(400, "bad_request", "the X-GitHub-Delivery header is not a delivery "
                           "id (up to 200 printable characters without spaces, as GitHub's "
                           "GUIDs)", label)
        try:
            text = body.decode("utf-8")
            payload = parse_json(text)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return Refused(400, "bad_request", "the body is not JSON in UTF-8", label)
        if not isinstance(payload, dict):
            return Refused(400, "bad_request", "the body is not a JSON object", label)
        action = payload.get("action")
        if not isinstance(action, str) or not _ACTION.fullmatch(action):
            action = ""  # no action name: no handler acts on an action it does not know
        hook_id = headers.get("x-github-hook-id", "").strip()
        return inbox.NewDelivery(delivery_id=delivery_id, event=event, action=action,
                                 hook_id=hook_id if _HOOK_ID.fullmatch(hook_id) else "",
                                 payload=text)


def delivery_owner(payload: dict[str, Any]) -> str:
    """The org (or account) a delivery is about: its organization, else the owner of its
    repository; "" when it names neither."""
    for outer, inner in (("organization", ()), ("repository", ("owner",))):
        value: Any = payload.get(outer)
        for key in inner:
            value = value.get(key) if isinstance(value, dict) else None
        login = value.get("login") if isinstance(value, dict) else None
        if isinstance(login, str) and login:
            return login
    return ""


REPOSITORIES_AT_ONCE = 4
"""Repositories whose deliveries a replica processes side by side."""


async def parsed_payload(payload_text: str) -> Any:
    """A stored payload read back (large ones on a thread); None when it is not JSON."""
    try:
        return (parse_json(payload_text) if len(payload_text) <= OFFLOAD_ABOVE
                else await asyncio.to_thread(parse_json, payload_text))
    except (json.JSONDecodeError, RecursionError):
        return None


def repository_of(payload: Any) -> str:
    """The repository a delivery is about (lower case), "" when it names none."""
    repository = payload.get("repository") if isinstance(payload, dict) else None
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name.lower() if isinstance(name, str) else ""


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
            self._metrics.webhook_processing.labels(_label(event), "malformed").inc()
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
