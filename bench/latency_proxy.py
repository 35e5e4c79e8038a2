#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that delays every byte by a fixed time each way, as a database in
another zone would: `--delay-ms 2.5` makes a 5 ms round trip.

    .venv/bin/python bench/latency_proxy.py --target 127.0.0.1:5432 --delay-ms 2.5 \
        --port-file /tmp/port [--lifetime 600] [--max-connections 200]

It listens on an ephemeral port (written to `--port-file`, or printed), keeps the order of the
bytes on each connection, and is bounded: it stops by itself after `--lifetime` seconds and
refuses connections beyond `--max-connections`. `run_proxy` runs it inside a process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from pathlib import Path

CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    """Copy bytes from reader to writer, each chunk `delay` seconds after it was read; the
    delay is the same for every chunk, so later chunks never overtake earlier ones."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((time.perf_counter() + delay, data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


class LatencyProxy:
    def __init__(self, target_host: str, target_port: int, delay: float, *,
                 max_connections: int = 200) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.max_connections = max_connections
        self.open = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        if self.open >= self.max_connections:
            client_writer.close()
            return
        self.open += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.open -= 1
            client_writer.close()
            return
        try:
            await asyncio.gather(_pump(client_reader, server_writer, self.delay),
                                 _pump(server_reader, client_writer, self.delay))
        finally:
            self.open -= 1
            for writer in (client_writer, server_writer):
                with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                    writer.close()

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
