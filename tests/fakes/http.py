"""A small base for fake HTTP services on 127.0.0.1: start, stop, record, fail on demand.

Every exchange under a fake's `api_prefix` is checked against its service's official
description (`tests/fakes/contract.py`); `tests/conftest.py` fails the test that made an
invalid one.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.contract import EXCHANGES, Exchange, contract


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    # Exactly "application/json": some clients treat "; charset=utf-8" as text.
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def answer(make: Callable[[], web.StreamResponse]
           ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A route handler that answers `make()`, a response built when the request comes."""
    async def handler(_request: web.Request) -> web.StreamResponse:
        return make()
    return handler


@dataclass
class Failure:
    method: str
    path_prefix: str
    status: int
    times: int
    headers: dict[str, str]
    body: Any


BODY = web.RequestKey("json", object)
"""The request's body, parsed once by the recording middleware: JSON, or a form as a dict."""


def parse_body(content_type: str, raw: bytes) -> Any:
    if not raw:
        return None
    if content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
        return dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any


class FakeService:
    """Subclasses add routes in `routes(app)`; every request is recorded in `calls`."""

    contract_name: str | None = None
    """The description in tests/contracts/ that this fake's exchanges are checked against."""
    api_prefix = ""
    """Where the described API lives on the fake (paths outside it, such as a websocket,
    are not checked)."""
    strict_responses = True
    """Whether an answer that does not match the description fails the test (else it is only
    counted in the traffic report). Requests that do not match always fail the test."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.connections: set[object] = set()
        """The client ends (address, port) that requests came from: one per connection."""
        self.failures: list[Failure] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record_and_fail])
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, path_prefix: str, *, status: int = 502, times: int = 1,
             headers: dict[str, str] | None = None, body: Any = None) -> None:
        """The next `times` requests matching method and path prefix get `status`."""
        self.failures.append(Failure(method.upper(), path_prefix, status, times, headers or {},
                                     body if body is not None else {"message": "fake failure"}))

    def called(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and c.path == path]

    @web.middleware
    async def _record_and_fail(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            body = parse_body(request.headers.get("Content-Type", ""), await request.read())
        self.calls.append(Call(request.method, request.path, body))
        if request.transport is not None:
            self.connections.add(request.transport.get_extra_info("peername"))
        exchange = self._check_request(request, body)
        try:
            response = await self._answer(request, handler, body)
        except web.HTTPException as refusal:
            self.decorate(refusal)
            self._check_response(exchange, refusal)
            raise
        self.decorate(response)
        self._check_response(exchange, response)
        return response

    def decorate(self, response: web.StreamResponse) -> None:
        """Add what the service puts on every answer (rate-limit headers, ...)."""

    async def _answer(self, request: web.Request, handler: Any, body: Any
                      ) -> web.StreamResponse:
        for failure in self.failures:
            if failure.times > 0 and request.method == failure.method and request.path.startswith(
                failure.path_prefix
            ):
                failure.times -= 1
                return json_response(failure.body, failure.status, failure.headers)
        request[BODY] = body
        return await handler(request)

    def _check_request(self, request: web.Request, body: Any) -> Exchange | None:
        if self.contract_name is None or not request.path.startswith(self.api_prefix + "/"):
            return None
        path = request.path[len(self.api_prefix):]
        exchange = Exchange(self.contract_name, request.method, path,
                            strict_responses=self.strict_responses)
        EXCHANGES.append(exchange)
        rules = contract(self.contract_name)
        found = rules.find(request.method, path)
        if found is None:
            exchange.request_problems.append("no operation of the description matches")
            return exchange
        operation, values = found
        exchange.operation = operation.name
        query = {key: request.query.getall(key) for key in request.query}
        exchange.request_problems += rules.check_request(
            operation, values, query, request.headers.get("Content-Type", ""), body)
        return exchange

    def _check_response(self, exchange: Exchange | None, response: web.StreamResponse) -> None:
        if exchange is None:
            return
        exchange.status = response.status
        found = contract(exchange.service).find(exchange.method, exchange.path)
        if found is None:
            return
        raw = response.body if isinstance(response, web.Response) else b""
        raw = raw if isinstance(raw, bytes) else b""
        exchange.response_problems += contract(exchange.service).check_response(
            found[0], response.status, response.content_type or "", raw)
