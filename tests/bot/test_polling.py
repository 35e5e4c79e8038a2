"""The background workers' loop: work while there is work, sleep until woken or polled."""

from __future__ import annotations

import asyncio
import threading

from bot.core.polling import Poller


async def test_a_wake_during_a_batch_is_not_lost() -> None:
    runs: list[int] = []
    poller: Poller

    async def batch() -> int:
        runs.append(len(runs))
        if len(runs) == 1:
            await asyncio.sleep(0)  # the batch has read what there was...
            poller.wake()  # ...when more work is committed and the worker woken
        return 0

    poller = Poller("test", batch, poll=60)
    poller.start()
    try:
        assert await poller.drain(timeout=1)
        assert len(runs) >= 2  # the wake brought a second batch, long before the poll
    finally:
        await poller.stop()


async def test_it_works_while_there_is_work_then_waits_for_a_wake() -> None:
    work = [3]

    async def batch() -> int:
        done = min(work[0], 1)
        work[0] -= done
        return done

    poller = Poller("test", batch, poll=60)
    poller.start()
    try:
        assert await poller.drain(timeout=1)
        assert work == [0]
        work[0] = 2
        poller.wake()
        assert await poller.drain(timeout=1)
        assert work == [0]
    finally:
        await poller.stop()


async def test_it_polls_without_a_wake_and_survives_a_failing_batch() -> None:
    calls = 0

    async def batch() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database is away")
        return 0

    poller = Poller("test", batch, poll=0.01)
    poller.start()
    try:
        for _ in range(100):
            if calls >= 3:
                break
            await asyncio.sleep(0.01)
        assert calls >= 3
    finally:
        await poller.stop()


async def test_a_wake_from_another_thread_reaches_the_loop() -> None:
    runs = 0

    async def batch() -> int:
        nonlocal runs
        runs += 1
        return 0

    poller = Poller("test", batch, poll=60)
    poller.start()
    try:
        assert await poller.drain(timeout=1)
        before = runs
        thread = threading.Thread(target=poller.wake)
        thread.start()
        thread.join()
        for _ in range(100):
            if runs > before:
                break
            await asyncio.sleep(0.01)
        assert runs > before
    finally:
        await poller.stop()
