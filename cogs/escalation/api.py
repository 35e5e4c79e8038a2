"""Opening escalations from other capabilities.

A vote that resolves to revert a direct push, or an onboarding item only an admin can do,
opens a ticket with `open_escalation`, in its own transaction:

    from cogs.escalation.api import open_escalation

    with ctx.db.transaction() as session:
        ...  # the caller's own change
        ticket = open_escalation(ctx, session, project="django-sample", kind="permissions",
                                 summary="Revert the direct push to main (vote 12 passed)",
                                 reporter_login="carol", source="vote:12")

The ticket is assigned, and its announcements (admins, the project's feed, the reporter)
and GitHub mirroring are queued in that same transaction: they happen if and only if the
caller commits. The call is idempotent per `source`: calling again with the same source
(a retried webhook handler, a job that ran twice) returns the ticket opened the first time
and announces nothing again.

(Two callers racing with the same source on PostgreSQL: one of them fails on the unique
source and its transaction rolls back; run again, it gets the ticket the other opened.)

The escalation cog must be loaded (it is in the default cogs); its settings (kinds,
deadlines, assignment) apply. Bad input raises `governance.errors.Refusal` (an unknown
project or kind, an empty summary), with nothing changed.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.core.cog import CogContext
from cogs.escalation.announce import Announcer
from cogs.escalation.mirror import Mirror
from cogs.escalation.settings import EscalationSettings
from governance.audit import Actor
from governance.escalations import service
from governance.escalations.models import Ticket
from governance.escalations.policy import Policy
from governance.escalations.service import Via


class Opener:
    """What opening a ticket needs: the rules, and who to tell. One per running cog."""

    def __init__(self, ctx: CogContext, settings: EscalationSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.policy: Policy = settings.policy()
        self.announce = Announcer(ctx, settings.breach_repeat)
        self.mirror = Mirror(ctx, settings.github_repo, settings.sweep_interval)

    def open(self, session: Session, *, project: str, kind: str, summary: str, reporter: str,
             urgent: bool, actor: Actor | None, source: str | None) -> service.Opened:
        now = self.ctx.clock.now()
        opened = service.open_ticket(session, self.policy, project=project, kind=kind,
                                     summary=summary, reporter=reporter, urgent=urgent, now=now,
                                     actor=actor, source=source)
        if opened.created:
            self.announce.opened(session, opened.ticket, now, source=source)
            self.mirror.opened(session, opened.ticket, now)
        return opened


_openers: dict[int, Opener] = {}


def register(opener: Opener) -> None:
    """Called by the escalation cog when it starts: its settings serve this context."""
    _openers[id(opener.ctx)] = opener


def unregister(opener: Opener) -> None:
    if _openers.get(id(opener.ctx)) is opener:
        del _openers[id(opener.ctx)]


def known_kinds(ctx: CogContext) -> tuple[str, ...] | None:
    """The escalation kinds of this Roadie, or None when the escalation cog is not loaded
    (for a cog that checks at start that the kinds it will open exist)."""
    for cog in ctx.cogs:
        if isinstance(cog.settings, EscalationSettings):
            return tuple(cog.settings.kinds)
    return None


class EscalationsNotLoaded(RuntimeError):
    """`open_escalation` was called in a Roadie without the escalation cog running."""


def open_escalation(ctx: CogContext, session: Session, *, project: str, kind: str,
                    summary: str, reporter_login: str, urgent: bool = False,
                    source: str, actor: Actor | None = None) -> Ticket:
    """Open an escalation for `reporter_login` in the caller's transaction; see the module.

    `source` names what opened it ("vote:12", "onboarding:django-sample:pypi") and makes
    the call idempotent. `actor` goes into the audit log (default: Roadie itself).
    """
    opener = _openers.get(id(ctx))
    if opener is None:
        raise EscalationsNotLoaded("the escalation cog is not running in this Roadie; add "
                                   "cogs.escalation to [bot] cogs")
    if not source.strip():
        raise ValueError("source must name what opens the ticket, such as 'vote:12'")
    return opener.open(session, project=project, kind=kind, summary=summary,
                       reporter=reporter_login, urgent=urgent,
                       actor=actor or Actor.system(), source=source.strip()).ticket


def resolve_with_owner(ctx: CogContext, session: Session, *, number: int, note: str,
                       actor_login: str, via: Via) -> Ticket | None:
    """Resolve a ticket because the record that owns it is done (an onboarding item ticked),
    in the caller's transaction; its GitHub issue follows. The caller tells people (one
    message for both). None when the ticket is closed already or the cog is not running."""
    opener = _openers.get(id(ctx))
    if opener is None:
        return None
    ticket = service.find_ticket(session, number, lock=True)
    if ticket is None or not ticket.active:
        return None
    now = ctx.clock.now()
    ticket, event = service.resolve(session, number=number, note=note, actor_login=actor_login,
                                    now=now, via=via)
    opener.mirror.event(session, ticket, event, now)
    return ticket
