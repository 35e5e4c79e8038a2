"""The close of a vote (counting, unsealing, appointing an elected lead) and what follows
it: the GitHub team's follow-up, retried until it is done or escalated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from governance.audit import Actor, record
from governance.audit.keys import AuditKey, SealError
from governance.audit.log import AuditEntry
from governance.errors import Conflict
from governance.people.roles import Role
from governance.people.service import grant_role, profile_for_login
from governance.votes.models import (
    CLOSED,
    FOLLOW_UP_DONE,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_INVITED,
    FOLLOW_UP_PENDING,
    NOMINATION,
    OPEN,
    Ballot,
    Vote,
)
from governance.votes.rules import PASSED, Outcome, Rules, count, settled
from governance.votes.sealing import commitment, open_sealed
from governance.votes.service import (
    ballots_of,
    casts,
    open_concerns,
    require_vote,
    standing,
    target,
)


def due_to_close(session: Session, *, now: datetime) -> list[int]:
    return list(session.exec(select(Vote.number).where(Vote.state == OPEN,
                                                       col(Vote.closes_at) <= now)
                             .order_by(col(Vote.closes_at))).all())  # type: ignore[arg-type]


def early_close_due(session: Session, number: int) -> bool:
    """Every voter has voted and nobody could change the outcome now, with no concern open.

    Never for a secret vote: closing early would tell everyone that the ballots agree."""
    vote = session.get(Vote, number)  # no round trip when the transaction has it already
    if vote is None or vote.state != OPEN or open_concerns(session, number):
        return False
    rules = Rules.from_data(vote.rules_data())
    if rules.secret:
        return False
    if sum(standing(session, vote, latest=0).binding.values()) < len(vote.voters()):
        return False
    return settled(rules, casts(ballots_of(session, number)), vote.voters())


@dataclass(frozen=True)
class Closing:
    """What `close` did: closed (with its outcome), or held by open concerns."""

    vote: Vote
    outcome: Outcome | None
    held_by: tuple[str, ...] = ()
    newly_held: bool = False


def close(session: Session, *, number: int, now: datetime,
          key: AuditKey | None = None) -> Closing | None:
    """Close an open vote at or after its deadline (or when settled): count, record, and
    arm what follows. None when the vote is no longer open (another replica closed it).

    A secret vote's ballots are unsealed here, each checked against the commitment its
    voter's last `vote.ballot` entry holds, and written in the clear; a ballot that does
    not open or does not match is refused (`Conflict`), and the vote stays open."""
    vote = require_vote(session, number, lock=True)
    if vote.state != OPEN:
        return None
    concerns = open_concerns(session, number)
    if concerns:
        newly_held = vote.held_since is None
        vote.held_since = vote.held_since or now
        return Closing(vote, None, tuple(c.name for c in concerns), newly_held)
    ballots = ballots_of(session, number)
    rules = Rules.from_data(vote.rules_data())
    _unseal(session, number, ballots, key)
    outcome = count(rules, casts(ballots))
    vote.state, vote.closed_at, vote.remind_at = CLOSED, now, None
    vote.outcome, vote.explanation = outcome.result, outcome.explanation
    vote.tally = json.dumps(outcome.tally_data(), sort_keys=True)
    if vote.kind == NOMINATION and outcome.result == PASSED:
        _appoint(session, vote, now)
    record(session, actor=Actor.system(), action="vote.close", target=target(number), at=now,
           data={"outcome": outcome.tally_data(),
                 "ballots": [{"voter": b.voter, "choice": b.choice, "reason": b.reason,
                              "binding": b.binding, "salt": b.salt} for b in ballots]})
    return Closing(vote, outcome)


def _unseal(session: Session, number: int, ballots: list[Ballot],
            key: AuditKey | None) -> None:
    sealed = [b for b in ballots if b.sealed]
    if not sealed:
        return
    committed: dict[str, str] = {}
    entries = session.exec(select(AuditEntry).where(AuditEntry.target == target(number),
                                                    AuditEntry.action == "vote.ballot")
                           .order_by(col(AuditEntry.seq))).all()
    for entry in entries:
        committed[entry.actor.removeprefix("github:").lower()] = (
            entry.payload().get("commitment", ""))
    bad = []
    for ballot in sealed:
        try:
            opened = open_sealed(key, ballot)
        except SealError:
            bad.append(ballot.voter)
            continue
        if commitment(number, ballot.voter, opened.choice, opened.reason,
                      opened.salt) != committed.get(ballot.voter):
            bad.append(ballot.voter)
            continue
        ballot.choice, ballot.reason, ballot.salt = opened.choice, opened.reason, opened.salt
        ballot.sealed = ""
    if bad:
        raise Conflict(f"Vote #{number} cannot be counted: the sealed ballot(s) of "
                       f"{', '.join(sorted(bad))} do not match what the audit log committed "
                       "to when they were cast.",
                       "Someone changed the ballot table; `roadie audit verify` shows what.")


def _appoint(session: Session, vote: Vote, now: datetime) -> None:
    """The nominee becomes a lead in Roadie now; the GitHub team follows (`follow_up`)."""
    if not profile_for_login(session, vote.subject).is_lead_of(vote.project):
        grant_role(session, actor=Actor.system(), login=vote.subject, role=Role.LEAD,
                   project=vote.project, now=now, reason=f"elected by vote #{vote.number}",
                   source="vote")
    vote.follow_up, vote.follow_up_not_before = FOLLOW_UP_PENDING, now


# --- after the close ----------------------------------------------------------------------


def _follow_ups_due(session: Session, state: str, now: datetime) -> list[Vote]:
    return list(session.exec(select(Vote).where(Vote.follow_up == state,
                                                col(Vote.follow_up_not_before) <= now)
                             .order_by(col(Vote.number))).all())


def due_follow_ups(session: Session, *, now: datetime) -> list[Vote]:
    return _follow_ups_due(session, FOLLOW_UP_PENDING, now)


def follow_up_finished(session: Session, *, number: int, escalated: bool, note: str,
                       now: datetime) -> Vote:
    vote = require_vote(session, number, lock=True)
    vote.follow_up = FOLLOW_UP_ESCALATED if escalated else FOLLOW_UP_DONE
    vote.follow_up_note, vote.follow_up_not_before = note, None
    record(session, actor=Actor.system(), action="vote.follow_up", target=target(number),
           at=now, data={"escalated": escalated, "note": note})
    return vote


def follow_up_invited(session: Session, *, number: int, team: str, now: datetime,
                      check_at: datetime) -> Vote:
    """GitHub invited the elected lead to the org (they were not a member): the team
    membership waits for them to accept, until `check_at` at the latest."""
    vote = require_vote(session, number, lock=True)
    vote.follow_up = FOLLOW_UP_INVITED
    vote.follow_up_note = f"invited to the org and the team {team}"
    vote.follow_up_not_before = check_at
    record(session, actor=Actor.system(), action="vote.follow_up", target=target(number),
           at=now, data={"invited": True, "team": team, "until": check_at.isoformat()})
    return vote


def invitations_of(session: Session, login: str) -> list[Vote]:
    """Votes whose elected lead (`login`) was invited and has not joined yet."""
    return list(session.exec(select(Vote).where(
        Vote.follow_up == FOLLOW_UP_INVITED, func.lower(Vote.subject) == login.lower())
        .order_by(col(Vote.number))).all())


def due_invitations(session: Session, *, now: datetime) -> list[Vote]:
    """Invitations whose time is up: checked once more, then told as accepted or expired."""
    return _follow_ups_due(session, FOLLOW_UP_INVITED, now)


def follow_up_failed(session: Session, *, number: int, error: str, now: datetime,
                     retry_in: timedelta) -> Vote:
    vote = require_vote(session, number, lock=True)
    vote.follow_up_attempts += 1
    vote.follow_up_note = error
    vote.follow_up_not_before = now + retry_in
    return vote
