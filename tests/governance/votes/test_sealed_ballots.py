"""Secret ballots are sealed until the close: a dump of the database taken before it gives
no choice away; the close opens the seals, checks them against their commitments, counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from governance.audit.keys import AuditKey
from governance.clock import FakeClock
from governance.db import Database
from governance.errors import Conflict, Refusal
from governance.projects.service import register_project
from governance.schema import tables
from governance.votes import service
from governance.votes.casting import cast
from governance.votes.closing import close as close_vote
from governance.votes.integrity import verify_votes
from governance.votes.models import Ballot
from tests.governance.audit_world import SECRET, open_dispute

BALLOTS = {"alice": ("revert", "alice-hidden-reason-7f3a"),
           "bob": ("keep", "bob-hidden-reason-91c2"),
           "carol": ("revert", "")}


def cast_secret_ballots(db: Database, clock: FakeClock, key: AuditKey) -> int:
    from governance.audit import Actor

    with db.transaction() as session:
        register_project(session, name="django-sample", now=clock.now(), actor=Actor.system())
        number = open_dispute(session, clock, SECRET, "1a2b3c4d5e6f")
    for voter, (choice, reason) in BALLOTS.items():
        clock.advance(timedelta(minutes=1))
        with db.transaction() as session:
            casting = cast(session, number=number, login=voter, choice=choice,
                           reason=reason, now=clock.now(), key=key)
        assert casting.ballot.choice == choice  # the voter's own reply shows it
    return number


def ballot_row(voter: str, choice: str) -> str:
    """A ballot's row in a dump: its id, vote, voter, display name and choice."""
    return rf"'{voter}',\s*'{voter}',\s*'{re.escape(choice)}'"


def dump(db: Database) -> str:
    """Everything the database holds, as a backup would: SQLite's own dump, or every row of
    every table on PostgreSQL."""
    if db.is_sqlite:
        raw = db.engine.raw_connection()
        try:
            return "\n".join(raw.driver_connection.iterdump())  # type: ignore[union-attr]
        finally:
            raw.close()
    lines = []
    with db.engine.connect() as conn:
        for table in tables():
            lines.extend(repr(tuple(row)) for row in conn.execute(text(
                f'SELECT * FROM "{table.name}"')))
    return "\n".join(lines)


def test_a_dump_before_the_close_gives_no_choice_away(db: Database, clock: FakeClock) -> None:
    key = AuditKey.generate()
    number = cast_secret_ballots(db, clock, key)
    before = dump(db)
    assert "vote_ballot" in before or "'alice'" in before  # the ballots are in the dump
    for voter, (choice, reason) in BALLOTS.items():
        if reason:
            assert reason not in before
        assert not re.search(ballot_row(voter, choice), before)
        assert f'"choice":"{choice}","reason":"{reason}"' not in before  # an audit entry
        assert f'"choice":"{choice}","reason":"{reason}","salt"' not in before  # no reveal
    with db.transaction() as session:
        ballots = service.ballots_of(session, number)
    assert {b.choice for b in ballots} == {""}
    assert all(b.sealed.startswith("v1:") for b in ballots)

    clock.advance(timedelta(hours=2))
    with db.transaction() as session:
        closing = close_vote(session, number=number, now=clock.now(), key=key)
    assert closing is not None
    assert closing.outcome is not None
    assert closing.outcome.result == "revert"
    after = dump(db)
    assert "alice-hidden-reason-7f3a" in after  # revealed at the close, as it should be
    assert re.search(ballot_row("bob", "keep"), after)
    with db.transaction() as session:
        assert verify_votes(session) == (1, [])
        assert {b.voter: b.choice for b in service.ballots_of(session, number)} == {
            v: c for v, (c, _) in BALLOTS.items()}


def test_a_secret_ballot_without_a_key_is_refused(db: Database, clock: FakeClock) -> None:
    from governance.audit import Actor

    with db.transaction() as session:
        register_project(session, name="django-sample", now=clock.now(), actor=Actor.system())
        number = open_dispute(session, clock, SECRET, "1a2b3c4d5e6f")
    with pytest.raises(Refusal, match="no audit key"), db.transaction() as session:
        cast(session, number=number, login="alice", choice="keep", reason="",
             now=clock.now())
    with db.transaction() as session:
        assert service.ballots_of(session, number) == []


def test_a_swapped_seal_stops_the_count(db: Database, clock: FakeClock) -> None:
    key = AuditKey.generate()
    number = cast_secret_ballots(db, clock, key)
    with db.transaction() as session:
        sealed = {b.voter: b.sealed for b in service.ballots_of(session, number)}
    with db.engine.begin() as conn:  # bob's row gets alice's seal: it opens for nobody
        conn.execute(update(Ballot).where(Ballot.voter == "bob").values(sealed=sealed["alice"]))
    clock.advance(timedelta(hours=2))
    with pytest.raises(Conflict, match="bob"), db.transaction() as session:
        close_vote(session, number=number, now=clock.now(), key=key)
    with db.transaction() as session:
        assert service.require_vote(session, number).state == "open"


def test_another_key_cannot_open_the_seals(db: Database, clock: FakeClock) -> None:
    number = cast_secret_ballots(db, clock, AuditKey.generate())
    clock.advance(timedelta(hours=2))
    with pytest.raises(Conflict, match="alice, bob, carol"), db.transaction() as session:
        close_vote(session, number=number, now=clock.now(), key=AuditKey.generate())
