"""Votes: opening, acceptance, ballots, concerns, the close and what follows it.

Each function is one state change in the caller's transaction, with an audit entry. A
refusal changes nothing. The vote's row is locked before anything of the vote changes, so
that ballots arriving at once on several replicas are counted one after the other.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from governance.audit import Actor, record
from governance.audit.keys import AuditKey, SealError
from governance.audit.log import AuditEntry, Entry, record_many
from governance.audit.projection import ROWS_KEY, take_rows
from governance.errors import Conflict, Forbidden, NotFound, Refusal
from governance.people.roles import Role
from governance.people.service import ensure_person, grant_role, profile_for_login
from governance.projects.service import require_project
from governance.votes.models import (
    CANCELLED,
    CLOSED,
    DECLINED,
    DISPUTE,
    FOLLOW_UP_DONE,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_INVITED,
    FOLLOW_UP_PENDING,
    LAPSED,
    LIVE_STATES,
    NOMINATION,
    OPEN,
    PENDING,
    Ballot,
    Concern,
    Vote,
)
from governance.votes.rules import ABSTAIN, PASSED, Cast, Outcome, Rules, count, settled

MAX_REASON = 2000
MAX_BALLOT_REASON = 500
MAX_CONCERN = 60


def target(number: int) -> str:
    return f"vote:{number}"


def commitment(number: int, voter: str, choice: str, reason: str, salt: str) -> str:
    """What the audit log holds of a secret ballot until the close reveals it."""
    material = json.dumps([number, voter, choice, reason, salt], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def seal_context(number: int, voter: str) -> str:
    return f"vote:{number}:{voter}"


@dataclass(frozen=True)
class Opened:
    """A secret ballot as its seal holds it."""

    choice: str
    reason: str
    salt: str


def open_sealed(key: AuditKey | None, ballot: Ballot) -> Opened:
    """A secret ballot in the clear; only the close (and the voter's own change) does this."""
    if not ballot.sealed:
        return Opened(ballot.choice, ballot.reason, ballot.salt)
    if key is None:
        raise Conflict(f"The ballots of vote #{ballot.vote} are sealed, and Roadie has no audit "
                       "key to open them.", NO_KEY_HINT)
    choice, reason, salt = json.loads(key.open(seal_context(ballot.vote, ballot.voter),
                                               ballot.sealed))
    return Opened(choice, reason, salt)


NO_KEY_HINT = ("An admin sets the audit key (`[audit] key_file`, or the variable named by "
               "`key_env`); `roadie audit keygen` makes one.")


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


def _checked(text: str, what: str, limit: int, *, required: bool = True) -> str:
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
    reason = _checked(proposal.reason, "reason", MAX_REASON)
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
    reason = _checked(reason, "reason", MAX_BALLOT_REASON, required=False)
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


# --- ballots ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Casting:
    """A ballot as cast: the vote, the ballot, and the choice it replaced (if any)."""

    vote: Vote
    ballot: Ballot
    previous: str | None
    rules: Rules


@dataclass(frozen=True)
class BallotRequest:
    """A ballot to cast: who, their choice as written (+1, 0, -1, an option), why, when."""

    login: str
    choice: str
    reason: str
    now: datetime


def cast(session: Session, *, number: int, login: str, choice: str, reason: str,
         now: datetime, key: AuditKey | None = None) -> Casting:
    """Cast or change `login`'s ballot. The choice is as written (+1, 0, -1, an option).

    On a secret vote the ballot is sealed with `key` before it reaches the database; the
    returned `Casting` shows the ballot in the clear, for the voter's eyes only."""
    outcome = cast_many(session, number=number,
                        requests=[BallotRequest(login, choice, reason, now)], key=key)[0]
    if isinstance(outcome, Refusal):
        raise outcome
    return outcome


def cast_many(session: Session, *, number: int, requests: Sequence[BallotRequest],
              key: AuditKey | None = None) -> list[Casting | Refusal]:
    """Cast ballots on one vote in one transaction, as `cast` would one after the other:
    for each request, its `Casting` or the `Refusal` it alone gets (which changes nothing).

    When there is no such vote, or it is secret and there is no key to seal with, the
    refusal is raised: every request would get it. All checks come before any write, and
    the writes are done once for all the ballots (one insert, one append to the log), so
    that the vote's lock and the log's head are held for a few round trips however many
    ballots there are. Each ballot's entry carries its own row, for `replay`.
    """
    vote = require_vote(session, number, lock=True)
    rules = Rules.from_data(vote.rules_data())
    if rules.secret and key is None:
        raise Refusal(f"Vote #{number} is secret, and Roadie has no audit key to seal its "
                      "ballots with: no ballot was cast.", NO_KEY_HINT)
    outcomes: list[Casting | Refusal | None] = [None] * len(requests)
    valid: list[tuple[int, BallotRequest, str, str]] = []
    concerns: bool | None = None
    for index, request in enumerate(requests):
        try:
            if vote.closes_at is not None and vote.closes_at <= request.now and concerns is None:
                concerns = bool(open_concerns(session, number))
            _check_open_for_ballots(vote, request.now, held=bool(concerns))
            if vote.kind == NOMINATION and vote.subject.lower() == request.login.lower():
                raise Forbidden("The nominee does not vote on their own nomination.")
            choice = rules.parse_choice(request.choice)
            reason = _checked(request.reason, "reason", MAX_BALLOT_REASON, required=False)
        except Refusal as refusal:
            outcomes[index] = refusal
            continue
        valid.append((index, request, choice, reason))
    voters = vote.voters()
    logins = {request.login.lower() for _, request, _, _ in valid}
    existing = {b.voter: b for b in session.exec(select(Ballot).where(
        Ballot.vote == number, col(Ballot.voter).in_(logins))).all()} if logins else {}
    cast_now: list[_Cast] = []
    for index, request, choice, reason in valid:
        voter = request.login.lower()
        ballot = existing.get(voter)
        binding = ballot.binding if ballot is not None else voter in voters
        if ballot is None and not binding:
            try:
                _check_advisory(session, vote, rules, request.login)
            except Refusal as refusal:
                outcomes[index] = refusal
                continue
        previous = open_sealed(key, ballot).choice if ballot is not None else None
        if ballot is None:
            ballot = existing[voter] = Ballot(vote=number, voter=voter, display=request.login,
                                              choice=choice, binding=binding,
                                              cast_at=request.now, changed_at=request.now)
            session.add(ballot)
        ballot.choice, ballot.reason, ballot.changed_at = choice, reason, request.now
        data: dict[str, object] = {"binding": binding}
        if rules.secret:
            assert key is not None
            salt = secrets.token_hex(16)
            ballot.choice, ballot.reason, ballot.salt = "", "", ""
            ballot.sealed = key.seal(seal_context(number, voter),
                                     json.dumps([choice, reason, salt]).encode())
            data["commitment"] = commitment(number, voter, choice, reason, salt)
        else:
            data.update(choice=choice, reason=reason)
        cast_now.append((index, request, ballot, choice, reason, previous, data))
    if cast_now:
        _write_ballots(session, number, cast_now, existing.values(), rules, vote, outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


_Cast = tuple[int, BallotRequest, Ballot, str, str, "str | None", dict[str, object]]
"""A ballot about to be written: request index, request, row, choice and reason in the
clear, the choice it replaces, the data of its log entry."""


def _write_ballots(session: Session, number: int, cast_now: list[_Cast],
                   ballots: Iterable[Ballot], rules: Rules, vote: Vote,
                   outcomes: list[Casting | Refusal | None]) -> None:
    session.flush()  # the new ballots get their ids, for the log
    rows = take_rows(session, ballots)
    last_of = {id(ballot): index for index, _, ballot, *_ in cast_now}
    entries = []
    for index, request, ballot, _choice, _reason, _previous, data in cast_now:
        row = rows.get(id(ballot)) if last_of[id(ballot)] == index else None
        entries.append(Entry(Actor.github(request.login), "vote.ballot", target(number),
                             request.now, data={**data, ROWS_KEY: [row]} if row else data))
    record_many(session, entries)
    for index, _request, ballot, choice, reason, previous, _data in cast_now:
        shown = Ballot(**{**ballot.model_dump(), "choice": choice, "reason": reason,
                          "sealed": ""})
        outcomes[index] = Casting(vote, shown, previous, rules)


def _check_open_for_ballots(vote: Vote, now: datetime, *, held: bool) -> None:
    """`held`: concerns are open, which keep the ballot open past the close."""
    assert vote.number is not None
    if vote.state == PENDING:
        raise Conflict(f"Nomination #{vote.number} waits for {vote.subject} to accept; the "
                       "ballot opens then.", f"{vote.subject} accepts with "
                       f"`/vote accept {vote.number}`.")
    if vote.state != OPEN:
        when = f" at {vote.closed_at:%Y-%m-%d %H:%M} UTC" if vote.closed_at else ""
        raise Conflict(f"Vote #{vote.number} was {vote.state}{when}: no ballots after that.",
                       f"`/vote {vote.number}` shows the result.")
    assert vote.closes_at is not None
    if vote.closes_at <= now and not held:
        raise Conflict(f"Vote #{vote.number} closed at {vote.closes_at:%Y-%m-%d %H:%M} UTC: "
                       "no ballots after the close.",
                       "The result is announced in a moment.")


def _check_advisory(session: Session, vote: Vote, rules: Rules, login: str) -> None:
    where = ("every member of the org" if rules.electorate == "org"
             else f"the {vote.project} team and the admins")
    if not rules.advisory:
        raise Forbidden(f"You are not in the electorate of vote #{vote.number} ({where}, as "
                        "of its opening), and this vote takes no advisory ballots.",
                        "An admin can read the electorate again with "
                        f"`/vote refresh {vote.number}` if you joined since.")
    if not profile_for_login(session, login).at_least(Role.MEMBER):
        raise Forbidden(f"You are not in the electorate of vote #{vote.number} ({where}), and "
                        "only members of the org may cast advisory ballots.",
                        "`/whoami` shows your roles.")


# --- concerns -----------------------------------------------------------------------------


def raise_concern(session: Session, *, number: int, login: str, name: str,
                  now: datetime) -> Concern:
    """A concern holds the close until it is resolved. Voters, the proposer and admins
    may raise one."""
    vote = require_vote(session, number, lock=True)
    _require_live(vote, "raise a concern on it")
    name = _checked(" ".join(name.split()), "concern's name", MAX_CONCERN)
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
    reason = _checked(reason, "reason for cancelling", MAX_BALLOT_REASON)
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


# --- the close ----------------------------------------------------------------------------


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


def due_follow_ups(session: Session, *, now: datetime) -> list[Vote]:
    return list(session.exec(select(Vote).where(Vote.follow_up == FOLLOW_UP_PENDING,
                                                col(Vote.follow_up_not_before) <= now)
                             .order_by(col(Vote.number))).all())


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
    return list(session.exec(select(Vote).where(Vote.follow_up == FOLLOW_UP_INVITED,
                                                col(Vote.follow_up_not_before) <= now)
                             .order_by(col(Vote.number))).all())


def follow_up_failed(session: Session, *, number: int, error: str, now: datetime,
                     retry_in: timedelta) -> Vote:
    vote = require_vote(session, number, lock=True)
    vote.follow_up_attempts += 1
    vote.follow_up_note = error
    vote.follow_up_not_before = now + retry_in
    return vote
