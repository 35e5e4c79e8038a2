"""A failure that repeats is logged once in full, then counted.

A background worker that fails on every attempt (the database is down, a platform answers
502) would otherwise write a traceback per attempt: a second's poll for every worker makes
megabytes of logs in a short outage, and hides what else happened. `RepeatedFailure` logs
the first failure of a run with its traceback, then one line a minute with how many more
there were (and the latest error), and one line when the work succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

REPORT_EVERY = 60.0


class RepeatedFailure:
    def __init__(self, logger: logging.Logger, what: str, *, every: float = REPORT_EVERY,
                 traceback: bool = True, clock: Callable[[], float] | None = None) -> None:
        """`what` names the work in every line ("outbox-sender", "scheduled job digest").
        `traceback=False` for failures whose cause lies outside (a client that hung up): the
        first is then one line too."""
        self._log = logger
        self._traceback = traceback
        self._what = what
        self._every = every
        self._clock = clock
        self.failures = 0  # in the current run of failures
        self._unreported = 0
        self._last_report = 0.0
        self._lock = threading.Lock()  # some work runs in threads (the scheduler's lease)

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, error: BaseException, message: str = "failed") -> None:
        """Call in the `except` block: the first of a run logs `message` with the traceback."""
        with self._lock:
            self._failed(error, message)

    def _failed(self, error: BaseException, message: str) -> None:
        now = self._clock() if self._clock is not None else _monotonic()
        self.failures += 1
        if self.failures == 1:
            if self._traceback:
                self._log.error("%s %s", self._what, message, exc_info=error)
            else:
                self._log.warning("%s %s (%s)", self._what, message, _one_line(error))
            self._last_report = now
            return
        self._unreported += 1
        if now - self._last_report >= self._every:
            self._log.log(logging.ERROR if self._traceback else logging.WARNING,
                          "%s: %d more failure(s) in the last %.0f s (latest: %s)", self._what,
                          self._unreported, now - self._last_report, _one_line(error))
            self._unreported, self._last_report = 0, now

    def succeeded(self) -> None:
        """Call after work that went well: ends a run of failures, saying so."""
        if not self.failures:
            return
        with self._lock:
            if self.failures:
                self._log.warning("%s works again after %d failure(s)", self._what,
                                  self.failures)
            self.failures = self._unreported = 0


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _monotonic() -> float:
    """The default clock; a module function, so that a test can move it along."""
    return time.monotonic()
