"""Loopback figures for the chat transports: how long a command takes to be answered on
Discord and on Zulip (through the real clients and the fakes), alone and many at once, and
how long a notice takes to reach both platforms. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_transports.py [--commands 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest

from bot.core.messages import Message
from bot.runtime import eventloop
from governance.db import Database
from governance.migrate import upgrade
from tests.e2e.harness import World, running_world


def figures(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    print(f"{name:<46} n={len(ms):<4} p50={statistics.median(ms):6.1f} ms  "
          f"p95={p95:6.1f} ms  max={ms[-1]:6.1f} ms")


async def timed(work: object) -> float:
    start = time.perf_counter()
    await work  # type: ignore[misc]
    return time.perf_counter() - start


async def bench(world: World, commands: int) -> None:
    alice = world.discord_user("alice")
    ann = world.zulip_user("Ann Lee")
    figures("Discord /whoami, one at a time",
            [await timed(world.discord.slash(alice, "whoami")) for _ in range(commands)])
    figures("Zulip /whoami in a stream, one at a time",
            [await timed(world.zulip.command(ann, "/whoami", stream="general"))
             for _ in range(commands)])
    start = time.perf_counter()
    await asyncio.gather(*(world.discord.slash(alice, "whoami", timeout=30)
                           for _ in range(commands)))
    print(f"{'Discord /whoami, all at once':<46} n={commands:<4} "
          f"total={(time.perf_counter() - start) * 1000:6.1f} ms")
    people = [world.zulip_user(f"Person {i}") for i in range(commands)]
    start = time.perf_counter()
    await asyncio.gather(*(world.zulip.command(person, "help whoami", timeout=30)
                           for person in people))
    print(f"{'Zulip /help in direct messages, all at once':<46} n={commands:<4} "
          f"total={(time.perf_counter() - start) * 1000:6.1f} ms")
    notices = []
    for i in range(5):  # Discord allows 5 messages per 5 s in a channel
        start = time.perf_counter()
        await world.post("admins", Message(title=f"Notice {i}", body="x" * 500))
        notices.append(time.perf_counter() - start)
    figures("notice to Discord and Zulip, queued to sent", notices)


async def main(commands: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        db = Database(f"sqlite:///{directory}/roadie.db")
        upgrade(db)
        monkeypatch = pytest.MonkeyPatch()
        try:
            async with running_world(Path(directory), monkeypatch, db) as world:
                await bench(world, commands)
        finally:
            monkeypatch.undo()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=100)
    eventloop.run(main(parser.parse_args().commands))
