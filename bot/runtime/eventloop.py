"""The event loop Roadie serves on: uvloop's where it is installed, else asyncio's own.

A webhook acknowledgement is bound by the event loop's thread, and a good part of what that
thread does for one is the loop's own work (reading the sockets, scheduling the callbacks,
the timers), which uvloop does in C. At a 5 ms database round trip it spends about a fifth
less CPU per acknowledgement (`bench/bench_webhooks.py` and `bench/bench_db_latency.py`
measure Roadie and bare aiohttp on the same loop). uvloop is not built for Windows; there
Roadie runs on asyncio's loop, which behaves the same, only slower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `new_event_loop` makes."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
