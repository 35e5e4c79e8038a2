"""The benchmark's latency proxy: a slow network between Roadie and its database, which the
benchmark's figures are only as good as."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from latency_proxy import WINDOW, LatencyProxy

DELAY = 0.05


@asynccontextmanager
async def echo_server() -> AsyncIterator[tuple[int, list[int]]]:
    """A server that sends back what it reads and ends its side once the client has; its
    port, and the number of connections it accepted."""
    accepted: list[int] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        server.close()


@asynccontextmanager
async def proxy_to(port: int, **options: int) -> AsyncIterator[LatencyProxy]:
    proxy = LatencyProxy("127.0.0.1", port, DELAY, **options)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


async def test_each_way_is_delayed_and_the_bytes_keep_their_order() -> None:
    async with echo_server() as (port, _), proxy_to(port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        started = time.perf_counter()
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        round_trip = time.perf_counter() - started
        assert 2 * DELAY <= round_trip < 2 * DELAY + 0.5
        # Megabytes in many chunks, each delayed alike: none overtakes another.
        payload = bytes(range(256)) * 16384
        writer.write(payload)
        writer.write_eof()
        assert await reader.read() == payload  # then the server's end, passed on
        writer.close()
        await writer.wait_closed()
        for _ in range(100):
            if proxy.open == 0:
                break
            await asyncio.sleep(0.01)
        assert proxy.open == 0


async def test_connections_beyond_the_bound_are_refused_without_reaching_the_target() -> None:
    async with echo_server() as (port, accepted), proxy_to(port, max_connections=2) as proxy:
        kept = [await asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(2)]
        for reader, writer in kept:  # both reach the server
            writer.write(b"x")
            assert await reader.readexactly(1) == b"x"
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed at once
        assert len(accepted) == 2
        for _, kept_writer in [*kept, (reader, writer)]:
            kept_writer.close()


def kernel_buffer_max(name: str, fallback: int = 8 * 1024 * 1024) -> int:
    """The most a TCP socket's receive (`tcp_rmem`) or send (`tcp_wmem`) buffer may grow to
    by the kernel's autotuning."""
    try:
        return int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return fallback


SMALL_BUFFER = 65536
"""The test's own ends keep small, fixed buffers, so that only the proxy's may grow."""


async def test_a_side_that_does_not_read_holds_back_the_other_sides_reading() -> None:
    """Bounded: when the client stops reading, the proxy stops reading from the server,
    rather than keeping what the server sends in memory. What the server gets to send is
    then bounded by the proxy's window and write buffer, the proxy's two sockets' buffers
    (which the kernel may grow up to its maxima) and the test's own small ones."""
    # 4 * 65536: the write buffers of the four transports, at asyncio's default high-water.
    held_at_most = (WINDOW + 4 * 65536 + kernel_buffer_max("tcp_rmem")
                    + kernel_buffer_max("tcp_wmem") + 8 * SMALL_BUFFER)
    flood_size = held_at_most + 64 * 1024 * 1024  # a proxy that holds all of it fails
    flooded = asyncio.Event()
    sent = 0

    async def flood(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                                   SMALL_BUFFER)
        chunk = b"x" * 65536
        try:
            while sent < flood_size:
                writer.write(chunk)
                sent += len(chunk)
                await asyncio.wait_for(writer.drain(), 1)
        except TimeoutError:
            flooded.set()  # the proxy no longer takes what is sent
        writer.close()

    server = await asyncio.start_server(flood, "127.0.0.1", 0)
    try:
        async with proxy_to(server.sockets[0].getsockname()[1]) as proxy:
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
            client.setblocking(False)
            await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", proxy.port))
            _reader, writer = await asyncio.open_connection(sock=client, limit=65536)
            await asyncio.wait_for(flooded.wait(), 30)
            assert sent < held_at_most
            writer.close()
    finally:
        server.close()
