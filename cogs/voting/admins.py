"""What a vote decided that only an admin can do (revert a disputed push, add an elected
lead to a team Roadie cannot reach) goes to the admins as an escalation."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.messages import Message
from cogs.escalation.api import EscalationsNotLoaded, open_escalation
from cogs.voting.settings import VotingSettings
from governance.errors import Refusal
from governance.votes.models import Vote


def ask_the_admins(ctx: CogContext, settings: VotingSettings, session: Session, vote: Vote,
                   summary: str) -> str:
    """Open an escalation for the admins, or tell them directly when none can open; what
    was done, for the vote's follow-up note."""
    try:
        ticket = open_escalation(ctx, session, project=vote.project,
                                 kind=settings.escalation_kind, summary=summary,
                                 reporter_login=vote.proposer, source=f"vote:{vote.number}")
        return f"escalation #{ticket.number}"
    except (Refusal, EscalationsNotLoaded) as error:
        why = error.reason if isinstance(error, Refusal) else str(error)
        ctx.outbox.post(session, "admins",
                        Message(title=f"Vote #{vote.number} needs an admin",
                                body=f"{summary}\nRoadie could not open an escalation: {why}",
                                tone="warning"),
                        key=f"vote:{vote.number}:admins")
        return "the admins were told"
