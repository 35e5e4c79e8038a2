"""The memory that request bodies may hold at once."""

from __future__ import annotations

SMALL_BODY = 1024 * 1024
"""Bodies up to this size draw on the whole body budget; larger ones leave it a reserve, so
that large bodies (rare from GitHub, cheap to send for anyone) cannot crowd out the usual
deliveries of a few kilobytes."""
SMALL_RESERVE = 16 * 1024 * 1024


class BodyBudget:
    """The bytes of request bodies held at once, within a limit.

    A body draws on it as its bytes arrive (a body declared larger than `SMALL_BODY` draws
    its whole declared length up front), so that a connection that sends slowly holds only
    what it sent. A draw that does not fit is refused at once: the request is answered 503
    rather than queued, so that memory stays bounded whatever is sent.
    """

    def __init__(self, limit: int, *, largest: int) -> None:
        """`largest`: the largest body that must always fit once nothing else is held."""
        self.limit = max(limit, largest)
        self.large_limit = max(largest, self.limit - SMALL_RESERVE)
        self.held = 0

    def holding(self) -> Holding:
        """What one body holds, given back when its `with` block ends."""
        return Holding(self)


class Holding:
    """What one body holds of the budget. (A class rather than a generator: it is entered
    on every request.)"""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.size = 0

    def __enter__(self) -> Holding:
        return self

    def __exit__(self, *_exception: object) -> None:
        self._budget.held -= self.size
        self.size = 0

    def shrink_to(self, size: int) -> None:
        """Hold no more than `size` bytes."""
        if size < self.size:
            self._budget.held -= self.size - size
            self.size = size

    def grow_to(self, size: int) -> bool:
        """Hold `size` bytes in all; False (holding what it held) when they do not fit."""
        if size <= self.size:
            return True
        ceiling = self._budget.limit if size <= SMALL_BODY else self._budget.large_limit
        if self._budget.held + size - self.size > ceiling:
            return False
        self._budget.held += size - self.size
        self.size = size
        return True


