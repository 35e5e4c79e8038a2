"""A background worker's loop: work while there is work, then sleep until woken or polled.

`Poller(name, batch, poll=...)` runs `await batch()` again and again while it returns a
positive count of things done, then waits until `wake()` is called or `poll` seconds have
passed (for work that comes due with time, such as retries). The wake is cleared *before*
each batch, so a wake that comes while a batch runs (for work the batch may have missed) is
never lost: the next batch starts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable

from bot.core.logflood import RepeatedFailure

log = logging.getLogger("roadie.polling")
IN_BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("in_background",
                                                                    default=False)
"""True in a poller's task and the tasks it starts: work no request waits for."""


class Poller:
    def __init__(self, name: str, batch: Callable[[], Awaitable[int]], *, poll: float,
                 pause: float = 0.0) -> None:
        """`pause`: how long to wait once woken before the next batch, so that the many
        wakes of a burst are served by one batch."""
        self.name = name
        self._batch = batch
        self._poll = poll
        self._pause = pause
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failures = RepeatedFailure(log, name)

    def wake(self) -> None:
        """Ask for a batch soon. Safe from any thread (a transaction may commit in one)."""
        loop = self._loop
        if loop is None or loop.is_closed() or _running_in(loop):
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._loop = None

    async def drain(self, timeout: float = 5.0) -> bool:
        """Wait until a batch that started after this call found nothing to do."""
        if self._task is None:
            return True
        self._idle.clear()
        self._wake.set()  # directly, so that the batch running now cannot count as that one
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False

    async def _run(self) -> None:
        IN_BACKGROUND.set(True)
        while True:
            self._wake.clear()
            try:
                done = await self._batch()
            except Exception as error:
                self._failures.failed(error, "failed; trying again")
                done = 0
            else:
                self._failures.succeeded()
            if done:
                continue
            if not self._wake.is_set():  # else: woken meanwhile, go again at once
                self._idle.set()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll):
                        await self._wake.wait()
            if self._pause:
                await asyncio.sleep(self._pause)


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # no loop runs in this thread
        return False
