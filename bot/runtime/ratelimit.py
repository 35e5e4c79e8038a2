"""Sliding-window limits: never more than `count` sends in any `per` seconds."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from bot.core.ports import Rate


class SlidingWindow:
    def __init__(self, rate: Rate, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._now = now
        self._sent: deque[float] = deque()
        self._paused_until = 0.0

    def wait_time(self) -> float:
        """Seconds until one more send fits; 0 when it fits now."""
        now = self._now()
        while self._sent and now - self._sent[0] >= self.rate.per:
            self._sent.popleft()
        wait = max(0.0, self._paused_until - now)
        if len(self._sent) >= self.rate.count:
            wait = max(wait, self._sent[0] + self.rate.per - now)
        return wait

    def record(self) -> None:
        self._sent.append(self._now())

    def pause(self, seconds: float) -> None:
        """The platform said to wait (a 429's retry_after)."""
        self._paused_until = max(self._paused_until, self._now() + seconds)


class Limiter:
    """All windows that a send must fit: e.g. one per channel and one per platform."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], SlidingWindow] = {}

    def window(self, scope: tuple[str, str], rate: Rate | None) -> SlidingWindow | None:
        if rate is None:
            return None
        window = self._windows.get(scope)
        if window is None:
            window = self._windows[scope] = SlidingWindow(rate)
        return window

    async def acquire(self, windows: list[SlidingWindow]) -> None:
        while True:
            wait = max((w.wait_time() for w in windows), default=0.0)
            if wait <= 0:
                for window in windows:
                    window.record()
                return
            await asyncio.sleep(wait)
