"""Each admin item and its escalation are one thread: whichever side closes first closes the
other, and people read one message about it.

The escalation cog asks this `TicketOwner` about the tickets onboarding opened
(`onboarding:<project>:<item>`); onboarding resolves an item's ticket when the item is ticked
on GitHub, in chat, or by `/grant <login> lead <project>`.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.core.cog import CogContext
from cogs.escalation.api import resolve_with_owner
from cogs.onboarding import render
from cogs.onboarding.settings import OnboardingSettings
from governance.escalations.models import RESOLVED, Ticket, TicketEvent
from governance.escalations.service import Via
from governance.onboarding import service
from governance.onboarding.models import ADMIN, Checklist, ChecklistItem

SOURCE_PREFIX = "onboarding:"


def source_of(checklist: Checklist, item: ChecklistItem) -> str:
    return f"{SOURCE_PREFIX}{checklist.project}:{item.key}"


def _item_key(ticket: Ticket) -> str:
    return (ticket.source or "").rsplit(":", 1)[-1]


class ItemThreads:
    def __init__(self, ctx: CogContext, settings: OnboardingSettings) -> None:
        self.ctx = ctx
        self.settings = settings

    # --- the escalation side (a TicketOwner) ---------------------------------------------

    def owns(self, ticket: Ticket) -> bool:
        return (ticket.source or "").startswith(SOURCE_PREFIX)

    def origin(self, ticket: Ticket) -> str:
        return f"item `{_item_key(ticket)}` of the onboarding checklist of {ticket.project}"

    def closed(self, session: Session, ticket: Ticket, event: TicketEvent,
               now: datetime) -> str:
        key, project = _item_key(ticket), ticket.project
        if event.kind != RESOLVED:
            return (f"`{key}` stays open on the onboarding checklist of {project}; "
                    f"`/onboarding {project} done {key}` ticks it once it is done.")
        assert ticket.number is not None
        found = service.tick_from_escalation(session, escalation=ticket.number, by=event.actor,
                                             now=now, admin_wait=self.settings.admin_wait)
        if found is None:
            return ""
        ticked, item = found
        checklist = ticked.checklist
        assert checklist.id is not None
        items = service.items_of(session, checklist.id)
        if ticked.completed:
            self.announce_completed(session, checklist, items)
        return (f"`{item.key}` is ticked with it on the onboarding checklist of "
                f"{checklist.repo}: {render.progress(items)}.")

    # --- the checklist side --------------------------------------------------------------

    def close_escalations(self, session: Session, ticked: service.Ticked, *, by: str,
                          via: Via, where: str) -> list[int]:
        """Resolve the escalations of the admin items just ticked, telling each in one
        message in the project's feed; return their numbers."""
        checklist = ticked.checklist
        assert checklist.id is not None
        items = service.items_of(session, checklist.id)
        closed = []
        for item in items:
            if item.key not in ticked.ticked or item.who != ADMIN or item.escalation is None:
                continue
            ticket = resolve_with_owner(
                self.ctx, session, number=item.escalation, actor_login=by, via=via,
                note=f"`{item.key}` was ticked {where} on the onboarding checklist")
            if ticket is None:
                continue
            closed.append(item.escalation)
            self.ctx.outbox.post(
                session, self.ctx.destinations.for_project(checklist.repo),
                render.item_closed(checklist, item, items, by=by, where=where),
                key=f"escalation:{item.escalation}:closed-by-item")
        return closed

    def announce_completed(self, session: Session, checklist: Checklist,
                           items: list[ChecklistItem]) -> None:
        self.ctx.outbox.post(session, self.ctx.destinations.for_project(checklist.repo),
                             render.completed(checklist, items))


def lead_appointed(ctx: CogContext, session: Session, *, project: str, lead: str,
                   by: str) -> str:
    """`/grant <lead> lead <project>` by `by`: tick the checklist's lead item (and resolve
    its escalation) in the caller's transaction; return a sentence for the reply, or ""."""
    threads = next((getattr(c, "threads", None) for c in ctx.cogs
                    if isinstance(c.settings, OnboardingSettings)), None)
    if not isinstance(threads, ItemThreads) or not threads.settings.lead_item:
        return ""
    found = service.tick_done_elsewhere(session, project=project, key=threads.settings.lead_item,
                                        by=by, via="grant", now=ctx.clock.now(),
                                        admin_wait=threads.settings.admin_wait)
    if found is None:
        return ""
    ticked, item = found
    closed = threads.close_escalations(session, ticked, by=by, via="chat",
                                       where=f"with `/grant {lead} lead {project}`")
    checklist = ticked.checklist
    assert checklist.id is not None
    if ticked.completed:
        threads.announce_completed(session, checklist, service.items_of(session, checklist.id))
    return (f" `{item.key}` is ticked on the onboarding checklist of {checklist.repo}"
            + (f", and escalation #{closed[0]} is resolved with it." if closed else "."))
