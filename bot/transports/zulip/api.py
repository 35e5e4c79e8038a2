"""The zulip client (synchronous, on requests) kept off Roadie's event loop.

REST calls run in a small thread pool, each thread with its own `zulip.Client` (a requests
session is not meant to be shared between threads). Events come from one long-polling
thread that hands them to the event loop; it re-registers a queue that Zulip dropped
(BAD_EVENT_QUEUE_ID) and says so with a `roadie:registered` event, so that the transport can
catch up on what it missed. Every failure becomes a PlatformError.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
import zulip

from bot.core.ports import PlatformError
from bot.transports.common import error_for_status

log = logging.getLogger("roadie.zulip")

PLATFORM = "zulip"
REGISTERED = "roadie:registered"
BAD_QUEUE = "BAD_EVENT_QUEUE_ID"
RATE_LIMITED = "RATE_LIMIT_HIT"
MAX_BACKOFF = 60.0


class ZulipApi:
    def __init__(self, *, site: str, email: str, api_key: str, workers: int = 4) -> None:
        self._site = site
        self._email = email
        self._api_key = api_key
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zulip-api")
        self._local = threading.local()
        self._stopping = threading.Event()
        self.poll_failures = 0
        """Event polls failed in a row; 0 once one succeeds (readiness reads it)."""
        self._poller: threading.Thread | None = None
        self.queue_id: str | None = None

    # --- REST -------------------------------------------------------------------------

    async def call(self, method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call a `zulip.Client` method in a worker thread; raise PlatformError on failure."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, functools.partial(self._call, method, args, kwargs))
        except RuntimeError as error:  # the pool is shut down: Roadie is stopping
            raise PlatformError(PLATFORM, f"not connected ({error})") from error

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._client()
        self._local.status, self._local.retry_after = None, None
        try:
            result = getattr(client, method)(*args, **kwargs)
        except (requests.RequestException, zulip.ZulipError, OSError) as error:
            raise PlatformError(PLATFORM, f"unreachable: {type(error).__name__}: {error}") \
                from error
        return self.checked(result)

    def _client(self) -> zulip.Client:
        """A client of this thread (its constructor asks the server for its settings)."""
        try:
            client = zulip.Client(email=self._email, api_key=self._api_key, site=self._site,
                                  retry_on_errors=False, client="Roadie")
        except (requests.RequestException, zulip.ZulipError, OSError) as error:
            raise PlatformError(PLATFORM, f"unreachable: {type(error).__name__}: {error}") \
                from error
        client.ensure_session()
        assert client.session is not None
        client.session.hooks["response"].append(self._remember_status)
        return client

    def _remember_status(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self._local.status = response.status_code
        self._local.retry_after = response.headers.get("Retry-After")

    def checked(self, result: dict[str, Any]) -> dict[str, Any]:
        """The result of a call made in this thread, or the PlatformError it stands for."""
        if result.get("result") == "success":
            return result
        status = getattr(self._local, "status", None) or result.get("status_code") or 400
        code, message = result.get("code", ""), result.get("msg", "")
        if code == RATE_LIMITED or status == 429:
            retry_after = result.get("retry-after") or getattr(self._local, "retry_after", None)
            wait = float(retry_after) if retry_after is not None else 1.0
            raise error_for_status(PLATFORM, 429, message, retry_after=wait)
        raise error_for_status(PLATFORM, int(status), f"{code or 'error'}: {message}".strip())

    # --- events -----------------------------------------------------------------------

    def start_events(self, deliver: Callable[[dict[str, Any]], None],
                     register: dict[str, Any]) -> None:
        """Long-poll in a thread; `deliver` is called (in that thread) for each event."""
        self._stopping.clear()
        self._poller = threading.Thread(target=self._poll, args=(deliver, register),
                                        name="zulip-events", daemon=True)
        self._poller.start()

    def _poll(self, deliver: Callable[[dict[str, Any]], None], register: dict[str, Any]) -> None:
        last_event_id = -1
        failures = 0
        client: zulip.Client | None = None
        while not self._stopping.is_set():
            try:
                if client is None:
                    client = self._local.client = self._client()
                if self.queue_id is None:
                    registered = self.checked(client.register(**register))
                    self.queue_id, last_event_id = registered["queue_id"], registered[
                        "last_event_id"]
                    deliver({**registered, "type": REGISTERED})
                result = client.get_events(queue_id=self.queue_id, last_event_id=last_event_id)
                if result.get("code") == BAD_QUEUE:
                    if not self._stopping.is_set():
                        log.warning("Zulip: event queue %s expired; registering a new one",
                                    self.queue_id)
                    self.queue_id = None
                    continue
                for event in self.checked(result).get("events", []):
                    last_event_id = max(last_event_id, int(event["id"]))
                    if event.get("type") != "heartbeat":
                        deliver(event)
                failures = self.poll_failures = 0
            except (PlatformError, requests.RequestException, zulip.ZulipError, OSError,
                    KeyError, ValueError) as error:
                if self._stopping.is_set():
                    break
                failures += 1
                self.poll_failures = failures
                wait = getattr(error, "retry_after", None) or min(MAX_BACKOFF,
                                                                  0.1 * 2 ** failures)
                log.warning("Zulip: event polling failed (%s); again in %.1fs", error, wait)
                self._stopping.wait(wait)

    async def stop(self) -> None:
        self._stopping.set()
        queue_id = self.queue_id
        if queue_id is not None:
            try:  # ends the pending long poll at once
                await self.call("deregister", queue_id, timeout=5.0)
            except PlatformError as error:
                log.info("Zulip: could not delete event queue %s: %s", queue_id, error)
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join, 10.0)
        self._pool.shutdown(wait=False, cancel_futures=True)
