"""Ballots cast at the same moment on one vote share a transaction.

A vote's ballots are counted one after the other (each locks the vote's row and the log's
head): one transaction each would hold those locks for several round trips per ballot, and
a burst of clicks would queue for seconds on a distant database. Instead the first ballot
starts a transaction at once, and the ballots that arrive while it runs go together into
the next one (`casting.cast_many`), each with its own answer.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from governance.errors import Refusal
from governance.votes.casting import BallotRequest, Casting

MAX_BATCH = 100
"""Ballots in one transaction at most: enough for a burst, short enough to keep each
transaction's locks brief."""


@dataclass(frozen=True)
class Counted:
    """A ballot's outcome: the casting, and whether the vote is settled after it (for the
    last ballot of its transaction only, so that the vote is closed once)."""

    casting: Casting
    settled: bool


@dataclass
class Waiting:
    """A ballot waiting for its transaction. `private`: nobody but the voter sees it."""

    request: BallotRequest
    private: bool
    answer: asyncio.Future[Counted] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


Outcome = Counted | BaseException
CastTogether = Callable[[int, list[Waiting]], Awaitable[list[Outcome]]]
"""Cast a batch of ballots on a vote; an outcome per ballot, in order."""


class BallotBox:
    """Gathers the ballots on each vote into batches, one transaction at a time per vote."""

    def __init__(self, cast_together: CastTogether, max_batch: int = MAX_BATCH) -> None:
        self._cast_together = cast_together
        self._max_batch = max_batch
        self._waiting: dict[int, list[Waiting]] = {}
        self._writers: dict[int, asyncio.Task[None]] = {}

    async def cast(self, number: int, request: BallotRequest, *,
                   private: bool) -> Counted:
        """The ballot's casting once its transaction committed; its refusal is raised."""
        waiting = Waiting(request, private)
        self._waiting.setdefault(number, []).append(waiting)
        if number not in self._writers:
            # A context of its own: the batch belongs to none of the commands it serves.
            self._writers[number] = asyncio.create_task(self._write(number),
                                                        context=contextvars.Context())
        return await waiting.answer

    async def _write(self, number: int) -> None:
        try:
            while queue := self._waiting.get(number):
                batch, queue[:] = queue[:self._max_batch], queue[self._max_batch:]
                try:
                    outcomes = await self._cast_together(number, batch)
                except Refusal as refusal:  # about the vote: every ballot gets it
                    outcomes = [refusal] * len(batch)
                except Exception as error:
                    outcomes = [error] * len(batch)
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    if waiting.answer.done():
                        continue
                    if isinstance(outcome, BaseException):
                        waiting.answer.set_exception(outcome)
                    else:
                        waiting.answer.set_result(outcome)
        finally:
            self._writers.pop(number, None)
            for waiting in self._waiting.pop(number, []):  # left when cancelled
                waiting.answer.cancel()
