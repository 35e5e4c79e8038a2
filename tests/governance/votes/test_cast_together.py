"""Ballots cast together in one transaction: each gets its own answer, a refused one changes
nothing and costs the others nothing, and the log reads as if they were cast one by one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from governance.audit import Actor, verify
from governance.audit.keys import AuditKey
from governance.audit.log import AuditEntry
from governance.audit.projection import ROWS_KEY, replay, table_rows
from governance.audit.rows import database_rows
from governance.clock import FakeClock
from governance.db import Database
from governance.errors import Forbidden, Refusal
from governance.projects.service import register_project
from governance.votes import service
from governance.votes.casting import BallotRequest, Casting, cast_many
from governance.votes.closing import close as close_vote
from governance.votes.models import Ballot
from governance.votes.rules import Rules
from tests.governance.votes.test_concurrency import RULES, VOTERS, open_dispute


def request(login: str, choice: str, clock: FakeClock, reason: str = "") -> BallotRequest:
    return BallotRequest(login, choice, reason, clock.now())


def test_each_ballot_gets_its_own_answer(db: Database, clock: FakeClock) -> None:
    number = open_dispute(db, clock)
    requests = [request("voter00", "revert", clock),
                request("voter01", "maybe", clock),                 # no such option
                request("voter02", "keep", clock, reason="x" * 501),  # too long a reason
                request("Voter03", "review", clock),
                request("outsider", "keep", clock),                 # advisory, not a member
                request("voter00", "keep", clock, reason="on second thought")]
    with db.transaction() as session:
        outcomes = cast_many(session, number=number, requests=requests)

    first, maybe, long_reason, review, outsider, changed = outcomes
    assert isinstance(first, Casting)
    assert (first.ballot.choice, first.previous) == ("revert", None)
    assert isinstance(maybe, Refusal)
    assert "maybe" in maybe.reason
    assert isinstance(long_reason, Refusal)
    assert "501 characters" in long_reason.reason
    assert isinstance(review, Casting)
    assert review.ballot.voter == "voter03"
    assert isinstance(outsider, Forbidden)
    assert "not in the electorate" in outsider.reason
    assert isinstance(changed, Casting)
    assert (changed.ballot.choice, changed.previous) == ("keep", "revert")
    with db.transaction() as session:
        rows = session.exec(select(Ballot).where(Ballot.vote == number)).all()
        assert {b.voter: (b.choice, b.reason) for b in rows} == {
            "voter00": ("keep", "on second thought"), "voter03": ("review", "")}
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "vote.ballot")
                               .order_by(AuditEntry.seq)).all()  # type: ignore[arg-type]
        said = [(e.actor, e.payload()["choice"]) for e in entries]
        assert said == [("github:voter00", "revert"), ("github:Voter03", "review"),
                        ("github:voter00", "keep")]
        # Each ballot's row goes with its own entry (the last one that changed it).
        logged = [[(r["key"], r["state"]["choice"]) for r in e.payload().get(ROWS_KEY, [])]
                  for e in entries]
        ids = {b.voter: str(b.id) for b in rows}
        assert logged == [[], [(ids["voter03"], "review")], [(ids["voter00"], "keep")]]
        assert verify(session).ok
        report = replay(((seq, action, json.loads(data)) for seq, _, _, action, _, _, data, _, _
                         in database_rows(session)), table_rows(session))
        assert report.ok, report.differences


def test_a_refusal_of_the_vote_itself_is_raised(db: Database, clock: FakeClock) -> None:
    with pytest.raises(Refusal, match="There is no vote #99"), db.transaction() as session:
        cast_many(session, number=99, requests=[request("voter00", "keep", clock)])


def test_a_closed_vote_refuses_each_ballot(db: Database, clock: FakeClock) -> None:
    number = open_dispute(db, clock)
    clock.advance(timedelta(hours=2))  # past the close, and no concern holds it
    with db.transaction() as session:
        outcomes = cast_many(session, number=number, requests=[
            request("voter00", "keep", clock), request("voter01", "revert", clock)])
    assert all(isinstance(o, Refusal) and "no ballots after the close" in o.reason
               for o in outcomes)
    with db.transaction() as session:
        assert not session.exec(select(Ballot)).all()


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the database meanwhile (an executemany counts once)."""
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(args[2])

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def test_many_ballots_cost_the_statements_of_one(db: Database, clock: FakeClock) -> None:
    """The vote's lock and the log's head are held for the same few statements whatever
    the number of ballots: the writes are made once for all of them."""
    number = open_dispute(db, clock)
    costs = []
    for voters in (VOTERS[:1], VOTERS[1:31]):
        with statements(db) as sent, db.transaction() as session:
            outcomes = cast_many(session, number=number, requests=[
                request(voter, "keep", clock) for voter in voters])
        assert all(isinstance(o, Casting) for o in outcomes)
        if db.is_sqlite:  # no round trips there: the ORM inserts new rows one by one
            sent = [s for s in sent if not s.startswith("INSERT INTO vote_ballot")]
        costs.append(len(sent))
    assert costs[0] == costs[1]
    with db.transaction() as session:
        assert len(session.exec(select(Ballot)).all()) == 31
        assert verify(session).ok


def test_a_secret_vote_seals_each_ballot(db: Database, clock: FakeClock) -> None:
    key = AuditKey.generate()
    secret = Rules(**{**RULES.__dict__, "secret": True})
    with db.transaction() as session:
        register_project(session, name="django-sample", now=clock.now(), actor=Actor.system())
        vote = service.open_vote(session, service.Proposal(
            kind="dispute", project="django-sample", subject="9f8e7d6c5b4a", reason="why",
            proposer="carol", rules=secret, electorate=tuple(VOTERS)), now=clock.now(),
            accept_within=timedelta(days=7), remind_before=timedelta(hours=24))
        assert vote.number is not None
        number = vote.number
    with db.transaction() as session:
        outcomes = cast_many(session, number=number, key=key, requests=[
            request("voter00", "keep", clock), request("voter01", "revert", clock),
            request("voter00", "review", clock)])
    assert [(o.ballot.choice, o.previous) for o in outcomes
            if isinstance(o, Casting)] == [("keep", None), ("revert", None),
                                                   ("review", "keep")]
    with db.transaction() as session:
        assert all(b.sealed and not b.choice for b in session.exec(select(Ballot)).all())
        closing = close_vote(session, number=number, now=clock.now() + timedelta(hours=2),
                             key=key)
        assert closing is not None
        assert closing.outcome is not None
        assert closing.outcome.binding["review"] == 1
        assert closing.outcome.binding["revert"] == 1
