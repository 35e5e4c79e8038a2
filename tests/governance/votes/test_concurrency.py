"""Two replicas on one database counting ballots that arrive at the same moment."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import select

from governance.audit import Actor, verify
from governance.audit.log import AuditEntry
from governance.clock import FakeClock
from governance.db import Database
from governance.projects.service import register_project
from governance.votes import service
from governance.votes.casting import cast
from governance.votes.closing import close as close_vote
from governance.votes.integrity import verify_votes
from governance.votes.models import DISPUTE, Ballot
from governance.votes.rules import Rules

VOTERS = [f"voter{i:02d}" for i in range(40)]
RULES = Rules(kind=DISPUTE, quorum=3, threshold="majority", min_duration=timedelta(hours=1),
              options=("revert", "keep", "review"))


def open_dispute(db: Database, clock: FakeClock) -> int:
    with db.transaction() as session:
        register_project(session, name="django-sample", now=clock.now(), actor=Actor.system())
        vote = service.open_vote(session, service.Proposal(
            kind=DISPUTE, project="django-sample", subject="9f8e7d6c5b4a",
            reason="pushed without review", proposer="carol", rules=RULES,
            electorate=tuple(VOTERS)), now=clock.now(), accept_within=timedelta(days=7),
            remind_before=timedelta(hours=24))
        assert vote.number is not None
        return vote.number


def test_two_replicas_reach_the_exact_tally(db: Database, clock: FakeClock) -> None:
    number = open_dispute(db, clock)
    # Replica A votes revert for voters 0-29, replica B keep for voters 10-39, at once:
    # voters 10-29 are cast twice, and their last ballot is whichever came second.
    plans = {"A": ("revert", VOTERS[:30]), "B": ("keep", VOTERS[10:])}

    def replica(name: str) -> None:
        engine = Database(db.url)
        choice, voters = plans[name]
        for voter in voters:
            with engine.transaction() as session:
                cast(session, number=number, login=voter, choice=choice, reason="",
                     now=clock.now())
        engine.dispose()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(replica, plans))

    with db.transaction() as session:
        rows = session.exec(select(Ballot).where(Ballot.vote == number)).all()
        assert sorted(b.voter for b in rows) == VOTERS  # one ballot per person, never two
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "vote.ballot")
                               .order_by(AuditEntry.seq)).all()  # type: ignore[arg-type]
        assert len(entries) == 60
        last = {e.actor.removeprefix("github:"): json.loads(e.data)["choice"] for e in entries}
        assert {b.voter: b.choice for b in rows} == last  # the rows are the last in the log
        closing = close_vote(session, number=number, now=clock.now() + timedelta(hours=2))
        assert closing is not None
        assert closing.outcome is not None
        revert = sum(1 for c in last.values() if c == "revert")
        assert closing.outcome.binding == {"revert": revert, "keep": 40 - revert, "review": 0,
                                           "0": 0}
    with db.transaction() as session:
        assert verify(session).ok
        assert verify_votes(session) == (1, [])
