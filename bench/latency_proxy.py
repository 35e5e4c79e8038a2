#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that delays every byte by a fixed time each way, as a database in
another zone would: `--delay-ms 2.5` makes a 5 ms round trip.

    .venv/bin/python bench/latency_proxy.py --target 127.0.0.1:5432 --delay-ms 2.5 \
        --port-file /tmp/port [--lifetime 600] [--max-connections 200]

It listens on an ephemeral port (written to `--port-file`, or printed), keeps the order of the
bytes on each connection, and is bounded: it stops by itself after `--lifetime` seconds,
refuses connections beyond `--max-connections`, and stops reading from a side whose bytes the
other side does not take. `run_proxy` runs it inside a process.

A network adds its delay without taking the machine's CPU; this proxy shares the cores with
what it measures, so it is written to cost little: asyncio protocols rather than streams,
and for each direction one timer at a time over a queue of what is due, rather than a
coroutine step for every chunk.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from pathlib import Path
from typing import cast

WINDOW = 4 * 1024 * 1024
"""Bytes under way in one direction at most, as a TCP window bounds them on a network: past
it, the proxy reads no more from that side until some are delivered."""
_EOF, _CLOSE = b"", None
"""Markers in a side's queue: the other end sent its last byte; the other end is gone."""


class _Side(asyncio.Protocol):
    """One end of a proxied connection: what it reads goes to `peer`, `delay` seconds
    later, in the order it was read; so do its end of file and its closing."""

    def __init__(self, delay: float, closed: asyncio.Future[None] | None = None) -> None:
        self.delay = delay
        self.peer: _Side | None = None
        self.transport: asyncio.Transport | None = None
        self.ended = False  # it sent its end of file
        self.finished = False  # it was sent the other end's
        self._due: deque[tuple[float, bytes | None]] = deque()
        self._under_way = 0  # bytes in `_due`
        self._window_full = False
        self._peer_full = False  # the peer's transport holds too much unsent
        self._timer: asyncio.TimerHandle | None = None
        self._closed = closed
        self._loop = asyncio.get_running_loop()
        self.made: asyncio.Future[None] = self._loop.create_future()  # connection_made came

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's
        self.made.set_result(None)
        if self.peer is None:
            self.transport.pause_reading()  # until its peer is connected: `LatencyProxy._connect`

    def data_received(self, data: bytes) -> None:
        self._later(data)
        self._under_way += len(data)
        if self._under_way > WINDOW and not self._window_full:
            self._window_full = True
            self._hold_reading()

    def eof_received(self) -> bool:
        self.ended = True
        self._later(_EOF)
        self._close_when_done()
        return True  # the other direction may still be under way

    def connection_lost(self, exc: Exception | None) -> None:
        self._later(_CLOSE)
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    # This side's writes are backed up: its peer stops reading what would add to them.
    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer._peer_full = True
            self.peer._hold_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer._peer_full = False
            self.peer._hold_reading()

    def _hold_reading(self) -> None:
        """Read while neither the window nor the peer is full."""
        if self.transport is None or self.transport.is_closing():
            return
        if self._window_full or self._peer_full:
            self.transport.pause_reading()
        elif self.peer is not None:  # before, `connection_made` holds it for the peer
            self.transport.resume_reading()

    def _later(self, data: bytes | None) -> None:
        self._due.append((self._loop.time() + self.delay, data))
        if self._timer is None:
            self._timer = self._loop.call_at(self._due[0][0], self._deliver)

    def _deliver(self) -> None:
        """Pass on to the peer all that is due (one timer serves a run of chunks), then wait
        for the next."""
        self._timer = None
        now = self._loop.time()
        while self._due and self._due[0][0] <= now:
            _, data = self._due.popleft()
            self._under_way -= len(data or b"")
            peer = self.peer
            if peer is None or peer.transport is None or peer.transport.is_closing():
                continue
            if data is _CLOSE:
                peer.transport.close()
            elif data is _EOF:
                peer.finished = True
                if peer.transport.can_write_eof():
                    peer.transport.write_eof()
                peer._close_when_done()
            else:
                peer.transport.write(data)
        if self._window_full and self._under_way <= WINDOW // 2:
            self._window_full = False
            self._hold_reading()
        if self._due:
            self._timer = self._loop.call_at(self._due[0][0], self._deliver)

    def _close_when_done(self) -> None:
        if self.ended and self.finished and self.transport is not None:
            self.transport.close()  # both ways have ended


class LatencyProxy:
    def __init__(self, target_host: str, target_port: int, delay: float, *,
                 max_connections: int = 200) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.max_connections = max_connections
        self.open = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()  # the loop keeps weak references

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _accepted(self) -> asyncio.Protocol:
        client = _Side(self.delay)
        connection = asyncio.get_running_loop().create_task(self._connect(client))
        self._connections.add(connection)
        connection.add_done_callback(self._connections.discard)
        return client

    async def _connect(self, client: _Side) -> None:
        """Open the target for a client that was accepted (it reads nothing meanwhile)."""
        await client.made
        assert client.transport is not None
        if self.open >= self.max_connections:
            client.transport.close()
            return
        self.open += 1
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            _, server = await asyncio.get_running_loop().create_connection(
                lambda: _Side(self.delay, closed), *self.target)
        except OSError:
            self.open -= 1
            client.transport.close()
            return
        assert server.transport is not None
        server.peer, client.peer = client, server
        if client.transport.is_closing():
            server.transport.close()
        else:
            client.transport.resume_reading()
            server.transport.resume_reading()
        try:
            await closed
        finally:
            self.open -= 1

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Open connections end with their clients; do not wait for them.
            self._server = None


async def run_proxy(target: str, delay_ms: float, lifetime: float, max_connections: int,
                    port_file: Path | None) -> None:
    host, _, port = target.rpartition(":")
    proxy = LatencyProxy(host or "127.0.0.1", int(port), delay_ms / 1000,
                         max_connections=max_connections)
    listening = await proxy.start()
    if port_file is not None:
        await asyncio.to_thread(port_file.write_text, str(listening))
    else:
        print(listening, flush=True)
    await asyncio.sleep(lifetime)
    await proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:5432")
    parser.add_argument("--delay-ms", type=float, default=2.5, help="added each way")
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds, then it stops")
    parser.add_argument("--max-connections", type=int, default=200)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()
    asyncio.run(run_proxy(args.target, args.delay_ms, args.lifetime, args.max_connections,
                          args.port_file))


if __name__ == "__main__":
    main()
