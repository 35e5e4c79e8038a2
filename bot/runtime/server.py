"""The HTTP side: GitHub webhooks in, health and metrics out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.runtime.metrics import Metrics
from bot.runtime.webhooks import WebhookReceiver
from governance.db import Database

PING_TIMEOUT = 0.05
"""Seconds /healthz waits for the database: it answers in time whatever the database does
(another process holding SQLite's write lock, an unreachable server), saying "busy" or
"unavailable"."""

ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build_app(db: Database, metrics: Metrics, *, receiver: WebhookReceiver | None,
              webhook_path: str, max_body: int, status: dict[str, object],
              readiness: ReadinessCheck | None = None) -> web.Application:
    # Headroom over max_body, so that the receiver itself answers 413 and counts it.
    app = web.Application(client_max_size=max_body + 1)

    async def healthz(_request: web.Request) -> web.Response:
        problem = await db.ping_async(timeout=PING_TIMEOUT)
        body = {"status": "unavailable" if problem else "ok", "database": problem or "ok",
                **status}
        return web.json_response(body, status=503 if problem else 200)

    async def metrics_view(_request: web.Request) -> web.Response:
        data = await asyncio.to_thread(metrics.render)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def readyz(_request: web.Request) -> web.Response:
        if readiness is None:
            return await healthz(_request)
        ready, checks = await readiness()
        body = {"status": "ready" if ready else "not ready", **checks, **status}
        return web.json_response(body, status=200 if ready else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    if receiver is not None:
        app.router.add_post(webhook_path, receiver.handle)
    return app


class Server:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
