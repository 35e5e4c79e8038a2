"""The HTTP side: GitHub webhooks in, health and metrics out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import HttpVersion11, web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST

from bot.core.logflood import RepeatedFailure
from bot.runtime.health import DatabaseWatch
from bot.runtime.metrics import Metrics
from bot.runtime.webhooks import WebhookReceiver
from governance.db import Database

log = logging.getLogger("roadie.server")

ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build_app(db: Database, metrics: Metrics, *, receiver: WebhookReceiver | None,
              webhook_path: str, max_body: int, status: dict[str, object],
              readiness: ReadinessCheck | None = None) -> web.Application:
    # Headroom over max_body, so that the receiver itself answers 413 and counts it.
    app = web.Application(client_max_size=max_body + 1)
    watch = DatabaseWatch(db)

    async def start_watch(_app: web.Application) -> None:
        watch.start()

    async def stop_watch(_app: web.Application) -> None:
        await watch.stop()

    app.on_startup.append(start_watch)
    app.on_cleanup.append(stop_watch)

    async def healthz(_request: web.Request) -> web.Response:
        database, age = await watch.state()
        ok = database == "ok"
        body = {"status": "ok" if ok else "unavailable", "database": database,
                "database_age_ms": round(age * 1000), **status}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics_view(_request: web.Request) -> web.Response:
        data = await asyncio.to_thread(metrics.render)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def readyz(_request: web.Request) -> web.Response:
        if readiness is None:
            return await healthz(_request)
        ready, checks = await readiness()
        body = {"status": "ready" if ready else "not ready", **checks, **status}
        return web.json_response(body, status=200 if ready else 503)

    app.router.add_get("/healthz", healthz, expect_handler=expect_continue)
    app.router.add_get("/readyz", readyz, expect_handler=expect_continue)
    app.router.add_get("/metrics", metrics_view, expect_handler=expect_continue)
    if receiver is not None:
        app.router.add_post(webhook_path, receiver.handle, expect_handler=expect_continue)
    return app


async def expect_continue(request: web.Request) -> web.Response | None:
    """aiohttp's own handler of `Expect`, without its failure (a 500 with a traceback) on a
    header that is not UTF-8."""
    if request.version != HttpVersion11:
        return None
    if request.headers.get("Expect", "").strip().lower() != "100-continue":
        return web.json_response({"error": "the only Expect understood is 100-continue"},
                                 status=417)
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the answer's own head and body are yet to come
    return None


class Server:
    """The aiohttp server, hardened against slow or many connections.

    `idle_timeout` closes a connection idle between requests, and one that does not send a
    whole request head within it; `max_connections` bounds the connections open at once
    (beyond it, a new one is answered 503 and closed). Bodies are never decompressed: the
    webhook receiver refuses compressed ones (GitHub sends none).
    """

    def __init__(self, app: web.Application, host: str, port: int, *,
                 metrics: Metrics | None = None, idle_timeout: float = 15.0,
                 max_connections: int = 2048) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._metrics = metrics
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.max_connections = fit_open_files(self.max_connections)
        self._runner = web.AppRunner(self.app, access_log=None,
                                     keepalive_timeout=self.idle_timeout,
                                     # Not a byte more of a body refused unread: aiohttp
                                     # would read and drop what comes for this long.
                                     auto_decompress=False, lingering_time=0,
                                     logger=MalformedRequests(logging.getLogger("aiohttp.server")))
        await self._runner.setup()
        site = _LimitedSite(self._runner, self.host, self.port, self.max_connections,
                            self._refused)
        await site.start()
        self.port = site.port

    def _refused(self) -> None:
        if self._metrics is not None:
            self._metrics.connections_refused.inc()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class MalformedRequests(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, but a request that is not HTTP as it should be (answered 400:
    the sender's fault) is one line, then counted, rather than a traceback each."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})
        self._malformed = RepeatedFailure(log, "malformed HTTP request", traceback=False)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if level >= logging.ERROR and isinstance(error, HttpProcessingError):
            self._malformed.failed(error, "refused")
            return
        super().log(level, msg, *args, **kwargs)


class _LimitedSite(web.BaseSite):
    """A TCP site that admits at most `limit` connections at once."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, limit: int,
                 on_refused: Callable[[], None]) -> None:
        super().__init__(runner)
        self._host, self._port, self._limit = host, port, limit
        self._on_refused = on_refused

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        await super().start()
        handlers = self._runner.server
        assert handlers is not None

        def admit() -> asyncio.BaseProtocol:
            if len(handlers.connections) >= self._limit:
                self._on_refused()
                return _Refuse()
            return handlers()

        self._server = await asyncio.get_running_loop().create_server(
            admit, self._host, self._port, backlog=min(self._limit, 1024))
        if self._server.sockets:
            self._port = self._server.sockets[0].getsockname()[1]


class _Refuse(asyncio.Protocol):
    """Answers a connection beyond the limit at once, without reading it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket's transport; uvloop's are not subclasses of asyncio's.
        transport = cast(asyncio.Transport, transport)
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
                        b"Connection: close\r\nContent-Length: 0\r\n\r\n")
        transport.close()


OPEN_FILES_HEADROOM = 256
"""Files kept beside the connections: database connections, logs, the loop's own."""


def fit_open_files(connections: int) -> int:
    """Raise the open-files limit (up to the hard limit) so that `connections` fit; return
    how many do fit. Past the limit, accept() fails and nothing (not even /healthz) gets in."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + OPEN_FILES_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fitting = max(16, soft - OPEN_FILES_HEADROOM)
        log.warning("the open-files limit is %d: at most %d connections at once, not %d "
                    "(raise it with `ulimit -n`)", soft, fitting, connections)
        return fitting
    return connections
