"""Ballots: cast one at a time or many on one vote in one transaction.

Like the rest of the vote's changes (`governance.votes.service`), each is a state change in
the caller's transaction, with an audit entry, taken under the vote's row lock; a refused
ballot changes nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from governance.audit import Actor
from governance.audit.keys import AuditKey
from governance.audit.log import Entry, record_many
from governance.audit.projection import ROWS_KEY, take_rows
from governance.errors import Conflict, Forbidden, Refusal
from governance.people.roles import Role
from governance.people.service import profile_for_login
from governance.votes.models import NOMINATION, OPEN, PENDING, Ballot, Vote
from governance.votes.rules import Rules
from governance.votes.sealing import NO_KEY_HINT, commitment, open_sealed, seal_context
from governance.votes.service import (
    MAX_BALLOT_REASON,
    checked_text,
    open_concerns,
    require_vote,
    target,
)


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
            reason = checked_text(request.reason, "reason", MAX_BALLOT_REASON, required=False)
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
