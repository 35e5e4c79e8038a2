"""The aiohttp handler for GitHub's deliveries: verify, store, answer."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import Counter

from bot.core.logflood import RepeatedFailure
from bot.core.polling import IN_BACKGROUND
from bot.runtime.metrics import Metrics
from bot.runtime.webhooks.budget import SMALL_BODY, BodyBudget, Holding
from bot.runtime.webhooks.payloads import (
    OFFLOAD_ABOVE,
    NotAnObject,
    action_of,
    event_label,
    signature_for,
    signature_ok,
)
from bot.runtime.webhooks.store import DeliveryStore
from governance.clock import Clock
from governance.db import Database
from governance.inbox import service as inbox

log = logging.getLogger("roadie.webhooks")
TURNS_TO_START_A_REQUEST = 6
IDLE_BEFORE_WORK = 0.001
"""Background work (processing a delivery, sending a message) waits until the receiver has
answered nothing for this long: in a burst, requests follow each other closer than this."""
BUSY_STEP_EVERY = 0.02
"""...while it answers, background work as a whole takes a step this often at most: fifty a
second, however many channels and repositories have work waiting, so that a long burst
keeps most of the CPU for the answers, and the work still moves on."""
_EVENT_NAME = re.compile(r"[a-z_]{1,40}")
_HEADERS = ("x-hub-signature-256", "x-github-event", "x-github-delivery", "x-github-hook-id")
_SIGNATURE = re.compile(r"sha256=[0-9a-fA-F]{64}")
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,200}")
"""GitHub's delivery ids are GUIDs; anything printable up to 200 characters is kept whole."""
_HOOK_ID = re.compile(r"[0-9]{1,40}")
_EVENT_HEADER = re.compile(r"[a-z0-9_]{1,60}")
_ACTION = re.compile(r"[A-Za-z0-9_]{0,60}")
LARGE_BODY_RATE = 8 * 1024 * 1024
"""Bytes a second at which a body is read past its first `SMALL_BODY` (25 MB in 3 s; faster
when `read_timeout` asks for it). Until the last byte, nothing proves a body signed, and
anyone may send large ones: read at full speed, one after the other, they took a good part
of the event loop's time (reading, parsing, hashing) from every other request. GitHub's
deliveries are a few kilobytes, and a large one is still read well within its time."""
RETRY_AFTER = "5"
COUNTED_LABELS = 512
"""(event, outcome) pairs whose counters the receiver keeps at hand; beyond, it asks the
metric each time (event names come only from signed requests, and GitHub has about 70)."""


@dataclass(frozen=True)
class Refused:
    status: int
    outcome: str
    text: str
    event: str = "unknown"


WRONG_SIGNATURE = Refused(401, "bad_signature", "missing or wrong X-Hub-Signature-256 for this "
                          "body; sign it with the webhook secret (HMAC-SHA256)")


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
        self._one_in_background = asyncio.Semaphore(1)
        self._turns_asked: deque[asyncio.Future[None]] = deque()  # background steps waiting
        self._next_turn: asyncio.Handle | None = None
        self._next_busy_step = 0.0
        self._counters: dict[tuple[str, str], Counter] = {}

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
        if self._next_turn is not None:
            self._next_turn.cancel()
            self._next_turn = None
        await self._store.close()

    async def quiet(self) -> None:
        """Wait for a turn to take one step of background work (processing a delivery,
        sending a message): the worker and the sender call this before each step.

        Turns go in the order they were asked for, one per turn of the event loop, so that
        a request waits for one step at most, not for every background task's. While the
        receiver answers requests (until it has answered nothing for `IDLE_BEFORE_WORK`),
        they come every `BUSY_STEP_EVERY` at most, for all background work together.
        """
        loop = asyncio.get_running_loop()
        # A few turns of the loop, for requests that arrived to reach the handler.
        for _ in range(TURNS_TO_START_A_REQUEST):
            await asyncio.sleep(0)
        turn: asyncio.Future[None] = loop.create_future()
        self._turns_asked.append(turn)
        self._give_a_turn_soon()
        await turn

    def _give_a_turn_soon(self, at: float | None = None) -> None:
        if self._next_turn is None:
            loop = asyncio.get_running_loop()
            self._next_turn = (loop.call_soon(self._give_a_turn) if at is None
                               else loop.call_at(at, self._give_a_turn))

    def _give_a_turn(self) -> None:
        self._next_turn = None
        while self._turns_asked and self._turns_asked[0].done():  # its task was cancelled
            self._turns_asked.popleft()
        if not self._turns_asked:
            return
        if not self._idle.is_set():
            now = asyncio.get_running_loop().time()
            if now < self._next_busy_step:
                self._give_a_turn_soon(at=self._next_busy_step)
                return
            self._next_busy_step = now + BUSY_STEP_EVERY
        self._turns_asked.popleft().set_result(None)
        if self._turns_asked:
            self._give_a_turn_soon()

    def _became_idle(self) -> None:
        self._idle.set()
        if self._next_turn is not None:  # a turn set for later, as the receiver was busy
            self._next_turn.cancel()
            self._next_turn = None
        self._give_a_turn_soon()

    def _count(self, event: str, outcome: str) -> None:
        """One request more in `roadie_webhook_deliveries`; `labels()` looks up and checks
        the labels each time, which cost a request more than the count itself."""
        counter = self._counters.get((event, outcome))
        if counter is None:
            counter = self._metrics.webhooks.labels(event, outcome)
            if len(self._counters) < COUNTED_LABELS:
                self._counters[event, outcome] = counter
        counter.inc()

    def _refuse(self, refused: Refused, request: web.Request | None = None) -> web.Response:
        self._count(refused.event, refused.outcome)
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
                                                                         self._became_idle)

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
        content = request.content
        if content.is_eof() and content.exception() is None and content.total_bytes <= SMALL_BODY:
            # It has all arrived (most bodies have): taken at once, without a timer or a wait.
            body = content.read_nowait()
            holding.shrink_to(len(body))  # as below: no more held than what arrived
            refused = self._hold(len(body), holding)
            if refused is None and body:
                chunks.append(body)
            return refused
        filled = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self._read_timeout):
                while chunk := await content.readany():
                    size = filled + len(chunk)
                    if (refused := self._hold(size, holding)) is not None:
                        return refused
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

    def _hold(self, size: int, holding: Holding) -> Refused | None:
        """Hold `size` bytes of body in all, or why not."""
        if size > self._max_body:
            return self._too_large()
        if not holding.grow_to(size):
            return self._busy()
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
                                               f"{event_label(checked.event)})")
            return self._refuse(Refused(503, "store_failed", "Roadie could not store the "
                                        "delivery; redeliver it later", event_label(checked.event)))
        self._store_failures.succeeded()
        if not stored:
            self._count(event_label(checked.event), "duplicate")
            return _json({"status": "duplicate", "delivery": checked.delivery_id},
                                     status=200)
        self._count(event_label(checked.event), "accepted")
        self._on_stored()
        return _json({"status": "accepted", "delivery": checked.delivery_id},
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
        label = event_label(event)
        delivery_id = headers.get("x-github-delivery", "").strip()
        if not delivery_id:
            return Refused(400, "bad_request", "the X-GitHub-Delivery header is missing", label)
        if not _DELIVERY_ID.fullmatch(delivery_id):
            return Refused(400, "bad_request", "the X-GitHub-Delivery header is not a delivery "
                           "id (up to 200 printable characters without spaces, as GitHub's "
                           "GUIDs)", label)
        try:
            action = action_of(body)
        except NotAnObject as error:
            return Refused(400, "bad_request", f"the body is {error}", label)
        if action is None or not _ACTION.fullmatch(action):
            action = ""  # no action name: no handler acts on an action it does not know
        hook_id = headers.get("x-github-hook-id", "").strip()
        return inbox.NewDelivery(delivery_id=delivery_id, event=event, action=action,
                                 hook_id=hook_id if _HOOK_ID.fullmatch(hook_id) else "",
                                 payload=body.decode("utf-8"))


_JSON_HEADERS = {"Content-Type": "application/json"}


def _json(answer: dict[str, str], *, status: int) -> web.Response:
    """`web.json_response` without its encoder's cost (an answer is a few short strings)."""
    return web.Response(body=orjson.dumps(answer), status=status, headers=_JSON_HEADERS)
