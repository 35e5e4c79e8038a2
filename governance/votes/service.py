"""Votes: reading them, opening, acceptance, concerns, the electorate, cancelling and
reminders. Ballots are cast in `governance.votes.casting`, and votes closed in
`governance.votes.closing`.

Each function is one state change in the caller's transaction, with an audit entry. A
refusal changes nothing. The vote's row is locked before anything of the vote changes, so
that ballots arriving at once on several replicas are counted one after the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from governance.audit import Actor, record
from governance.errors import Conflict, Forbidden, NotFound, Refusal
from governance.people.roles import Role
from governance.people.service import ensure_person, profile_for_login
from governance.projects.service import require_project
from governance.votes.models import (
    CANCELLED,
    CLOSED,
    DECLINED,
    DISPUTE,
    LAPSED,
    LIVE_STATES,
    NOMINATION,
    OPEN,
    PENDING,
    Ballot,
    Concern,
    Vote,
)
from governance.votes.rules import ABSTAIN, Cast, Rules

MAX_REASON = 2000
MAX_BALLOT_REASON = 500
MAX_CONCERN = 60


def target(number: int) -> str:
    return f"vote:{number}"


# --- reading ------------------------------------------------------------------------------


def find_vote(session: Session, number: int, *, lock: bool = False) -> Vote | None:
    query = select(Vote).where(Vote.number == number)
    return session.exec(query.with_for_update() if lock else query).first()


def require_vote(session: Session, number: int, *, lock: bool = False) -> Vote:
    vote = find_vote(session, number, lock=lock)
    if vote is None:
        raise NotFound(f"There is no vote #{number}.", "`/votes` lists the open votes.")
    return vote


def live_votes(session: Session) -> list[Vote]:
    """Votes waiting for a nominee or open for ballots, oldest first."""
    return list(session.exec(select(Vote).where(col(Vote.state).in_(LIVE_STATES))
                             .order_by(col(Vote.number))).all())


def ballots_of(session: Session, number: int) -> list[Ballot]:
    return list(session.exec(select(Ballot).where(Ballot.vote == number)
                             .order_by(col(Ballot.cast_at), col(Ballot.id))).all())


def open_concerns(session: Session, number: int) -> list[Concern]:
    return list(session.exec(select(Concern).where(Concern.vote == number,
                                                   col(Concern.resolved_at).is_(None))
                             .order_by(col(Concern.id))).all())


def casts(ballots: list[Ballot]) -> list[Cast]:
    return [Cast(b.voter, b.choice, b.reason, b.binding) for b in ballots]


@dataclass(frozen=True)
class Standing:
    """Where a vote stands: binding and advisory ballots per choice, how many ballots there
    are, and the latest few (oldest first), for the status message."""

    binding: dict[str, int]
    advisory: dict[str, int]
    total: int
    latest: list[Ballot]


def standing(session: Session, vote: Vote, *, latest: int = 15) -> Standing:
    """Counted in the database, so that the status costs the same at the 3,000th ballot."""
    assert vote.number is not None
    rules = Rules.from_data(vote.rules_data())
    binding = dict.fromkeys((*rules.sides, ABSTAIN), 0)
    advisory = dict(binding)
    rows = session.exec(select(Ballot.choice, Ballot.binding, func.count())
                        .where(Ballot.vote == vote.number)
                        .group_by(Ballot.choice, Ballot.binding)).all()  # type: ignore[call-overload]
    for choice, is_binding, number in rows:
        (binding if is_binding else advisory)[choice] = number
    recent = session.exec(select(Ballot).where(Ballot.vote == vote.number)
                          .order_by(col(Ballot.changed_at).desc(), col(Ballot.id).desc())
                          .limit(latest)).all() if latest else []
    return Standing(binding, advisory, sum(binding.values()) + sum(advisory.values()),
                    list(reversed(recent)))


def closed_since(session: Session, since: datetime) -> list[Vote]:
    return list(session.exec(select(Vote).where(Vote.state == CLOSED,
                                                col(Vote.closed_at) >= since)
                             .order_by(col(Vote.number))).all())


# --- small helpers ------------------------------------------------------------------------


def _is_admin(session: Session, login: str) -> bool:
    return profile_for_login(session, login).at_least(Role.ADMIN)


def checked_text(text: str, what: str, limit: int, *, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise Refusal(f"The {what} is empty.", f"Say in a sentence what the {what} is.")
    if len(text) > limit:
        raise Refusal(f"The {what} is {len(text)} characters long; at most {limit} fit.",
                      "Shorten it.")
    return text


def _start_ballot(vote: Vote, rules: Rules, now: datetime, remind_before: timedelta) -> None:
    vote.state, vote.ballot_opened_at = OPEN, now
    vote.closes_at = now + rules.min_duration
    remind_at = vote.closes_at - remind_before
    vote.remind_at = remind_at if remind_at > now else None


def _electorate(kind: str, subject: str, logins: Iterable[str]) -> list[str]:
    voters = {login.lower() for login in logins}
    if kind == NOMINATION:
        voters.discard(subject.lower())  # nobody votes on their own nomination
    return sorted(voters)


def _require_live(vote: Vote, doing: str) -> None:
    if not vote.live:
        raise Conflict(f"Vote #{vote.number} is {vote.state}; you cannot {doing} any more.",
                       f"`/vote {vote.number}` shows how it ended.")


# --- opening ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A vote to open. `subject` is the nominee's login or the disputed commit's sha."""

    kind: str
    project: str
    subject: str
    reason: str
    proposer: str
    rules: Rules
    electorate: tuple[str, ...]
    nominee_accepts: bool = True


def open_vote(session: Session, proposal: Proposal, *, now: datetime,
              accept_within: timedelta, remind_before: timedelta) -> Vote:
    """Open a nomination or a dispute. A nomination of someone else waits for the nominee
    to accept (when the rules ask it); otherwise the ballot opens at once."""
    project = require_project(session, proposal.project)
    reason = checked_text(proposal.reason, "reason", MAX_REASON)
    electorate = _electorate(proposal.kind, proposal.subject, proposal.electorate)
    rules = proposal.rules
    if proposal.kind == NOMINATION:
        _check_nomination(session, project.name, proposal.subject)
    else:
        _check_dispute(session, project.name, proposal.subject)
    if len(electorate) < rules.quorum:
        raise Refusal(f"The electorate of this vote has {len(electorate)} voter(s) "
                      f"({', '.join(electorate) or 'nobody'}), fewer than the quorum of "
                      f"{rules.quorum}: it could never pass.",
                      "Ask an admin to fix the team on GitHub, or the quorum in the config.")
    proposer = ensure_person(session, proposal.proposer, now).display_login
    vote = Vote(kind=proposal.kind, project=project.name, subject=proposal.subject,
                reason=reason, proposer=proposer, state=PENDING,
                rules=json.dumps(rules.to_data(), sort_keys=True),
                electorate=json.dumps(electorate), opened_at=now)
    waits = (proposal.kind == NOMINATION and proposal.nominee_accepts
             and proposal.subject.lower() != proposer.lower())
    if waits:
        vote.accept_by = now + accept_within
    else:
        _start_ballot(vote, rules, now, remind_before)
    session.add(vote)
    session.flush()
    assert vote.number is not None
    record(session, actor=Actor.github(proposer), action="vote.open", target=target(vote.number),
           at=now, reason=reason,
           data={"kind": vote.kind, "project": vote.project, "subject": vote.subject,
                 "rules": rules.to_data(), "electorate": electorate, "state": vote.state,
                 "closes_at": vote.closes_at})
    return vote


def _check_nomination(session: Session, project: str, nominee: str) -> None:
    if profile_for_login(session, nominee).is_lead_of(project):
        raise Conflict(f"{nominee} is already a lead of {project}.",
                       "`/roles lead` lists the leads.")
    for vote in live_votes(session):
        if (vote.kind == NOMINATION and vote.project == project
                and vote.subject.lower() == nominee.lower()):
            raise Conflict(f"{nominee} is already nominated for {project}: vote #{vote.number}.",
                           f"`/vote {vote.number}` shows it.")


def _check_dispute(session: Session, project: str, sha: str) -> None:
    for vote in live_votes(session):
        if vote.kind == DISPUTE and vote.project == project and (
                vote.subject.startswith(sha) or sha.startswith(vote.subject)):
            raise Conflict(f"Commit {sha[:12]} of {project} is already disputed: vote "
                           f"#{vote.number}.", f"`/vote {vote.number}` shows it.")


def accept(session: Session, *, number: int, login: str, now: datetime,
           remind_before: timedelta) -> Vote:
    """The nominee accepts: the ballot opens."""
    vote = _pending_nomination(session, number, login, "accept")
    _start_ballot(vote, Rules.from_data(vote.rules_data()), now, remind_before)
    record(session, actor=Actor.github(login), action="vote.accept", target=target(number),
           at=now, data={"closes_at": vote.closes_at})
    return vote


def decline(session: Session, *, number: int, login: str, reason: str, now: datetime) -> Vote:
    """The nominee declines: the nomination ends without a ballot."""
    vote = _pending_nomination(session, number, login, "decline")
    reason = checked_text(reason, "reason", MAX_BALLOT_REASON, required=False)
    vote.state, vote.closed_at, vote.outcome = DECLINED, now, DECLINED
    vote.explanation = f"{vote.subject} declined" + (f": {reason}" if reason else "")
    record(session, actor=Actor.github(login), action="vote.decline", target=target(number),
           at=now, reason=reason)
    return vote


def _pending_nomination(session: Session, number: int, login: str, doing: str) -> Vote:
    vote = require_vote(session, number, lock=True)
    if vote.kind != NOMINATION:
        raise Conflict(f"Vote #{number} is a dispute; only nominations are accepted or "
                       "declined.", f"`/vote {number} <option>` casts a ballot on it.")
    if vote.subject.lower() != login.lower():
        raise Forbidden(f"Only {vote.subject}, the nominee, can {doing} nomination #{number}.")
    if vote.state != PENDING:
        state = "open for ballots" if vote.state == OPEN else vote.state
        raise Conflict(f"Nomination #{number} is {state}; there is nothing to {doing}.",
                       f"`/vote {number}` shows it.")
    return vote


def lapse_unaccepted(session: Session, *, now: datetime) -> list[Vote]:
    """Nominations whose nominee did not answer in time end, unopened."""
    lapsed = list(session.exec(select(Vote).where(Vote.state == PENDING,
                                                  col(Vote.accept_by) <= now)
                               .with_for_update()).all())
    for vote in lapsed:
        assert vote.number is not None
        vote.state, vote.closed_at, vote.outcome = LAPSED, now, LAPSED
        vote.explanation = f"{vote.subject} did not accept in time"
        record(session, actor=Actor.system(), action="vote.lapse", target=target(vote.number),
               at=now)
    return lapsed


# --- concerns -----------------------------------------------------------------------------


def raise_concern(session: Session, *, number: int, login: str, name: str,
                  now: datetime) -> Concern:
    """A concern holds the close until it is resolved. Voters, the proposer and admins
    may raise one."""
    vote = require_vote(session, number, lock=True)
    _require_live(vote, "raise a concern on it")
    name = checked_text(" ".join(name.split()), "concern's name", MAX_CONCERN)
    voter = login.lower()
    allowed = (voter in vote.voters() or voter == vote.proposer.lower()
               or _is_admin(session, login))
    if not allowed:
        raise Forbidden(f"Only the electorate of vote #{number}, its proposer and the admins "
                        "can raise a concern on it.",
                        "Say what worries you in the vote's thread instead.")
    if any(c.name.lower() == name.lower() for c in open_concerns(session, number)):
        raise Conflict(f"Vote #{number} already has an open concern named {name!r}.",
                       "Give yours another name.")
    concern = Concern(vote=number, name=name, author=login, raised_at=now)
    session.add(concern)
    session.flush()
    record(session, actor=Actor.github(login), action="vote.concern", target=target(number),
           at=now, data={"name": name})
    return concern


def resolve_concern(session: Session, *, number: int, login: str, name: str,
                    now: datetime) -> Concern:
    vote = require_vote(session, number, lock=True)
    _require_live(vote, "resolve its concerns")
    wanted = " ".join(name.split()).lower()
    concern = next((c for c in open_concerns(session, number) if c.name.lower() == wanted), None)
    if concern is None:
        names = ", ".join(repr(c.name) for c in open_concerns(session, number)) or "none"
        raise NotFound(f"Vote #{number} has no open concern named {name.strip()!r}.",
                       f"Its open concerns: {names}.")
    if concern.author.lower() != login.lower() and not _is_admin(session, login):
        raise Forbidden(f"Only {concern.author}, who raised it, or an admin can resolve the "
                        f"concern {concern.name!r}.")
    concern.resolved_at, concern.resolved_by = now, login
    record(session, actor=Actor.github(login), action="vote.resolve", target=target(number),
           at=now, data={"name": concern.name})
    return concern


# --- the electorate, cancelling -----------------------------------------------------------


def refresh_electorate(session: Session, *, number: int, login: str,
                       electorate: list[str], now: datetime) -> tuple[Vote, set[str], set[str]]:
    """Take the electorate again (an admin); ballots already cast stay as they are.
    Returns the vote, who joined and who left."""
    vote = require_vote(session, number, lock=True)
    _require_live(vote, "refresh its electorate")
    if not _is_admin(session, login):
        raise Forbidden("Only an admin can read a vote's electorate again.")
    before = set(vote.voters())
    after = set(_electorate(vote.kind, vote.subject, electorate))
    vote.electorate = json.dumps(sorted(after))
    record(session, actor=Actor.github(login), action="vote.refresh", target=target(number),
           at=now, data={"electorate": sorted(after), "joined": sorted(after - before),
                         "left": sorted(before - after)})
    return vote, after - before, before - after


def cancel(session: Session, *, number: int, login: str, reason: str, now: datetime) -> Vote:
    vote = require_vote(session, number, lock=True)
    _require_live(vote, "cancel it")
    if vote.proposer.lower() != login.lower() and not _is_admin(session, login):
        raise Forbidden(f"Only {vote.proposer}, who opened vote #{number}, or an admin can "
                        "cancel it.")
    reason = checked_text(reason, "reason for cancelling", MAX_BALLOT_REASON)
    vote.state, vote.closed_at, vote.outcome = CANCELLED, now, CANCELLED
    vote.explanation = f"cancelled by {login}: {reason}"
    vote.remind_at = None
    record(session, actor=Actor.github(login), action="vote.cancel", target=target(number),
           at=now, reason=reason)
    return vote


# --- reminders ----------------------------------------------------------------------------


def due_reminders(session: Session, *, now: datetime) -> list[tuple[Vote, list[str]]]:
    """Open votes whose reminder falls due, with the voters who have not voted; each vote
    is reminded once (its `remind_at` is cleared here)."""
    due = list(session.exec(select(Vote).where(Vote.state == OPEN, col(Vote.remind_at) <= now)
                            .with_for_update()).all())
    reminders = []
    for vote in due:
        assert vote.number is not None
        vote.remind_at = None
        if vote.closes_at is not None and vote.closes_at <= now:
            continue  # too late to remind: the vote closes now
        voted = {b.voter for b in ballots_of(session, vote.number)}
        missing = [v for v in vote.voters() if v not in voted]
        record(session, actor=Actor.system(), action="vote.remind", target=target(vote.number),
               at=now, data={"reminded": missing})
        reminders.append((vote, missing))
    return reminders
