"""Tickets that another capability opened and keeps in step with a record of its own.

An onboarding checklist escalates its admin items: the item and its ticket are one thread of
work, so closing either side closes the other, and people read one message about it. The
capability registers a `TicketOwner` when it starts; the escalation cog asks it about the
tickets it owns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bot.core.cog import CogContext
from governance.escalations.models import Ticket, TicketEvent


class TicketOwner(Protocol):
    def owns(self, ticket: Ticket) -> bool:
        """Whether this capability opened the ticket and keeps it in step."""
        ...

    def origin(self, ticket: Ticket) -> str:
        """Where the ticket comes from, in people's words ("item `pypi` of the onboarding
        checklist of django-sample")."""
        ...

    def closed(self, session: Session, ticket: Ticket, event: TicketEvent,
               now: datetime) -> str:
        """The ticket was resolved or declined (in chat or on its GitHub issue): bring the
        owner's record in step, in the same transaction, and return the sentence that the
        closing message adds."""
        ...


_owners: dict[int, list[TicketOwner]] = {}


def register(ctx: CogContext, owner: TicketOwner) -> None:
    _owners.setdefault(id(ctx), []).append(owner)


def unregister(ctx: CogContext, owner: TicketOwner) -> None:
    mine = _owners.get(id(ctx), [])
    if owner in mine:
        mine.remove(owner)
    if not mine:
        _owners.pop(id(ctx), None)


def owner_of(ctx: CogContext, ticket: Ticket) -> TicketOwner | None:
    return next((o for o in _owners.get(id(ctx), []) if o.owns(ticket)), None)
