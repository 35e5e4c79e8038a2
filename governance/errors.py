"""Refusals: a request that cannot be done, saying why and how to do it right."""

from __future__ import annotations


class Refusal(Exception):
    """Raised by a service when a request is refused. Nothing has changed when it is raised."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.reason} {self.hint}".strip()


class NotFound(Refusal):
    """The thing asked about does not exist."""


class Forbidden(Refusal):
    """The caller may not do this."""


class Conflict(Refusal):
    """The thing is not in a state that allows this."""
