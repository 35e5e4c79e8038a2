"""Posting messages: each becomes an outbox row per platform, sent after the commit.

Keys make posting idempotent. Without an explicit key, a message gets one from the current
scope: inside a webhook handler the scope is the delivery and the handler, so that handling
the same delivery again posts nothing twice.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import event
from sqlmodel import Session

from bot.core.messages import Message
from governance.clock import Clock
from governance.outbox import service as outbox_rows
from governance.people.service import accounts_of, find_person

log = logging.getLogger("roadie.outbox")

_scope: contextvars.ContextVar[tuple[str, Iterator[int]] | None] = contextvars.ContextVar(
    "roadie_outbox_scope", default=None
)
AFTER_COMMIT = "roadie_after_commit"
DIRECT_PREFIX = "dm:"
"""A destination `dm:<user id>` is a direct message to that user on the row's platform."""


@contextmanager
def outbox_scope(prefix: str) -> Iterator[None]:
    """Derive keys of unkeyed messages from `prefix` and their order within the scope."""
    token = _scope.set((prefix, itertools.count(1)))
    try:
        yield
    finally:
        _scope.reset(token)


def _default_key() -> str:
    scope = _scope.get()
    if scope is None:
        return uuid.uuid4().hex
    prefix, counter = scope
    return f"{prefix}:{next(counter)}"


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for callback in session.info.pop(AFTER_COMMIT, []):
        callback()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(AFTER_COMMIT, None)


class Outbox:
    """The cogs' way to say something in a destination on every platform that maps it."""

    def __init__(self, clock: Clock, platforms_for: Callable[[str], list[str]],
                 wake: Callable[[], None] = lambda: None) -> None:
        self._clock = clock
        self._platforms_for = platforms_for
        self._wake = wake

    def post(self, session: Session, destination: str, message: Message, *,
             key: str | None = None, not_before: datetime | None = None) -> str:
        """Queue a message; return its key (needed to edit it later)."""
        key = key or _default_key()
        self._enqueue(session, destination, message, key, None, not_before)
        return key

    def edit(self, session: Session, destination: str, original_key: str, message: Message, *,
             key: str | None = None) -> str:
        """Queue an edit of the message posted with `original_key`; only the newest is sent."""
        key = key or f"{original_key}:edit:{uuid.uuid4().hex[:12]}"
        self._enqueue(session, destination, message, key, original_key, None)
        return key

    def revise(self, session: Session, key: str, message: Message) -> bool:
        """Rewrite a posted message that no platform has sent or is sending yet.

        Messages posted with a later `not_before` can so gather what happens meanwhile.
        False when it is too late (or the key is unknown): post a new message instead.
        """
        return outbox_rows.revise_pending(session, key=key, payload=message.to_json(),
                                          now=self._clock.now())

    def post_to_person(self, session: Session, login: str, message: Message, *,
                       key: str | None = None) -> list[str]:
        """Send a direct message to a person on every platform they linked; return those.

        An empty list means the person has no linked chat account: tell them elsewhere.
        """
        person = find_person(session, login)
        if person is None or person.id is None:
            return []
        key = key or _default_key()
        reached = []
        for account in accounts_of(session, person.id):
            if account.platform in self._platforms_for(DIRECT_PREFIX + account.user_id):
                outbox_rows.enqueue(session, platforms=[account.platform],
                                    destination=DIRECT_PREFIX + account.user_id,
                                    payload=message.to_json(), key=key, now=self._clock.now())
                reached.append(account.platform)
        if reached:
            session.info.setdefault(AFTER_COMMIT, []).append(self._wake)
        return reached

    def _enqueue(self, session: Session, destination: str, message: Message, key: str,
                 edit_of: str | None, not_before: datetime | None) -> None:
        platforms = self._platforms_for(destination)
        if not platforms:
            log.warning("no platform maps destination %r; message %r not queued", destination,
                        message.title or message.body[:60])
            return
        outbox_rows.enqueue(session, platforms=platforms, destination=destination,
                            payload=message.to_json(), key=key, now=self._clock.now(),
                            edit_of=edit_of, not_before=not_before)
        session.info.setdefault(AFTER_COMMIT, []).append(self._wake)
