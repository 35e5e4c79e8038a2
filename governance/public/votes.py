"""The votes page: open votes with their rules, electorate size, concerns and tally; closed
ones with the result and a recount from the ballots.

A secret vote shows who voted and nothing more until it closes: no choice, no reason, no
count (a count could be matched against the list of voters as it grows)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from governance.public.scope import Scope, iso, seconds_between
from governance.votes.models import CLOSED, LIVE_STATES, PENDING, Ballot, Concern, Vote
from governance.votes.rules import ABSTAIN, Cast, Rules, count

OPEN_LIMIT = 50
CLOSED_LIMIT = 30


def _rules(rules: Rules, electorate_size: int) -> dict[str, Any]:
    return {"description": rules.describe(), "electorate": rules.electorate,
            "electorate_size": electorate_size, "quorum": rules.quorum,
            "threshold": rules.threshold, "fraction": str(rules.fraction),
            "secret": rules.secret, "advisory_ballots": rules.advisory,
            "min_hours": round(rules.min_duration.total_seconds() / 3600, 1),
            "choices": [*rules.sides, ABSTAIN]}


def _head(vote: Vote, rules: Rules, scope: Scope) -> dict[str, Any]:
    return {"number": vote.number, "kind": vote.kind, "project": vote.project,
            "subject": vote.subject, "reason": vote.reason, "proposer": vote.proposer,
            "state": vote.state, "opened_at": iso(vote.opened_at),
            "rules": _rules(rules, len(vote.voters()))}


def open_votes(session: Session, scope: Scope, limit: int = OPEN_LIMIT) -> list[dict[str, Any]]:
    """Live votes, the one closing first first (nominations waiting for the nominee last)."""
    votes = session.scalars(
        select(Vote).where(col(Vote.state).in_(LIVE_STATES), scope.shown(col(Vote.project)))
        .order_by(col(Vote.closes_at).is_(None), col(Vote.closes_at), col(Vote.number))
        .limit(limit)).all()
    numbers = [v.number for v in votes]
    voters: dict[int, list[str]] = defaultdict(list)
    tallies: dict[int, dict[str, dict[str, int]]] = defaultdict(
        lambda: {"binding": {}, "advisory": {}})
    concerns: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if numbers:
        for number, display in session.execute(
                select(Ballot.vote, Ballot.display).where(col(Ballot.vote).in_(numbers))
                .order_by(col(Ballot.cast_at), col(Ballot.id))):
            voters[number].append(display)
        for number, choice, binding, many in session.execute(
                select(Ballot.vote, Ballot.choice, Ballot.binding, func.count())
                .where(col(Ballot.vote).in_(numbers))
                .group_by(Ballot.vote, Ballot.choice, Ballot.binding)):
            tallies[number]["binding" if binding else "advisory"][choice] = many
        for concern in session.scalars(
                select(Concern).where(col(Concern.vote).in_(numbers),
                                      col(Concern.resolved_at).is_(None))
                .order_by(col(Concern.id))):
            concerns[concern.vote].append({"name": concern.name, "author": concern.author,
                                           "raised_at": iso(concern.raised_at)})
    shown = []
    for vote in votes:
        assert vote.number is not None
        rules = Rules.from_data(vote.rules_data())
        item = _head(vote, rules, scope)
        item["closes_at"] = iso(vote.closes_at)
        item["seconds_left"] = (seconds_between(scope.now, vote.closes_at)
                                if vote.closes_at else None)
        item["concerns"] = concerns[vote.number]
        item["voted"] = voters[vote.number]
        item["ballots"] = len(voters[vote.number])
        # Counts of a secret vote stay sealed until the close.
        item["tally"] = None if rules.secret else _full_tally(rules, tallies[vote.number])
        shown.append(item)
    return shown


def _full_tally(rules: Rules, tally: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    choices = [*rules.sides, ABSTAIN]
    return {kind: {c: tally[kind].get(c, 0) for c in choices} for kind in ("binding", "advisory")}


def closed_votes(session: Session, scope: Scope, limit: int = CLOSED_LIMIT, *,
                 since: datetime | None = None) -> list[dict[str, Any]]:
    """The latest closed votes (the last opened first): result, tally, and whether counting
    the stored ballots again gives the recorded result; `since`: only those closed since."""
    query = select(Vote).where(Vote.state == CLOSED, scope.shown(col(Vote.project)))
    if since is not None:
        query = query.where(col(Vote.closed_at) >= since)
    votes = session.scalars(
        query.order_by(col(Vote.number).desc()).limit(limit)).all()  # a walk back along the key
    ballots: dict[int, list[Cast]] = defaultdict(list)
    numbers = [v.number for v in votes]
    if numbers:
        for row in session.execute(
                select(Ballot.vote, Ballot.voter, Ballot.choice, Ballot.reason, Ballot.binding)
                .where(col(Ballot.vote).in_(numbers))
                .order_by(col(Ballot.cast_at), col(Ballot.id))):
            ballots[row.vote].append(Cast(row.voter, row.choice, row.reason, row.binding))
    shown = []
    for vote in votes:
        assert vote.number is not None
        rules = Rules.from_data(vote.rules_data())
        recorded = json.loads(vote.tally or "{}")
        recount = count(rules, ballots[vote.number]).tally_data()
        item = _head(vote, rules, scope)
        item.update({"closed_at": iso(vote.closed_at), "result": vote.outcome,
                     "explanation": vote.explanation,
                     "tally": {"binding": recorded.get("binding", {}),
                               "advisory": recorded.get("advisory", {})},
                     "ballots": len(ballots[vote.number]),
                     "recount_matches": recount == recorded})
        shown.append(item)
    return shown


def waiting_nominations(session: Session, scope: Scope,
                        limit: int = OPEN_LIMIT) -> list[dict[str, Any]]:
    """Nominations waiting for the nominee to accept, the one whose time runs out first first."""
    rows = session.execute(
        select(Vote.number, Vote.project, Vote.subject, Vote.accept_by)
        .where(Vote.state == PENDING, scope.shown(col(Vote.project)))
        .order_by(col(Vote.accept_by), col(Vote.number)).limit(limit)).all()
    return [{"number": r.number, "project": r.project, "nominee": r.subject,
             "accept_by": iso(r.accept_by),
             "seconds_left": seconds_between(scope.now, r.accept_by) if r.accept_by else None}
            for r in rows]


def ballot_counts(session: Session, numbers: list[int]) -> dict[int, int]:
    """How many ballots each vote has (who voted is public, even on a secret vote)."""
    if not numbers:
        return {}
    return {number: int(many) for number, many in session.execute(
        select(Ballot.vote, func.count()).where(col(Ballot.vote).in_(numbers))
        .group_by(Ballot.vote))}


def votes_page(session: Session, scope: Scope) -> dict[str, Any]:
    return {"open": open_votes(session, scope), "closed": closed_votes(session, scope)}
