"""Counting votes again from the audit log alone, to show that a result was not altered.

The `vote.open` entry holds the rules and the electorate, each `vote.ballot` entry a
ballot (for a secret vote, a commitment to it), and the `vote.close` entry every ballot in
the clear and the result. A vote checks out when the last ballot of each voter in the log
is the one the close reveals, and counting them under the rules gives the recorded result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from governance.audit.log import AuditEntry
from governance.votes.models import CLOSED, Vote
from governance.votes.rules import Cast, Rules, count
from governance.votes.sealing import commitment
from governance.votes.service import target


def check_vote(number: int, entries: Iterable[AuditEntry]) -> list[str]:
    """What does not add up for one closed vote, from its audit entries (in order)."""
    rules: Rules | None = None
    last: dict[str, dict[str, Any]] = {}
    closing: dict[str, Any] | None = None
    for entry in entries:
        data = entry.payload()
        if entry.action == "vote.open":
            rules = Rules.from_data(data["rules"])
        elif entry.action == "vote.ballot":
            last[entry.actor.removeprefix("github:").lower()] = data
        elif entry.action == "vote.close":
            closing = data
    if rules is None or closing is None:
        return [f"vote #{number}: the log lacks its opening or its close"]
    problems = []
    revealed = {b["voter"]: b for b in closing["ballots"]}
    if set(revealed) != set(last):
        problems.append(f"vote #{number}: the close reveals ballots of "
                        f"{sorted(revealed)}, the log holds ballots of {sorted(last)}")
    for voter, cast in last.items():
        shown = revealed.get(voter)
        if shown is None:
            continue
        if "commitment" in cast:
            expected = commitment(number, voter, shown["choice"], shown["reason"], shown["salt"])
            if expected != cast["commitment"]:
                problems.append(f"vote #{number}: {voter}'s revealed ballot does not match "
                                "the ballot cast")
        elif (cast["choice"], cast["reason"]) != (shown["choice"], shown["reason"]):
            problems.append(f"vote #{number}: {voter}'s ballot at the close differs from the "
                            "ballot cast")
        if bool(cast["binding"]) != bool(shown["binding"]):
            problems.append(f"vote #{number}: {voter}'s ballot changed from binding to "
                            "advisory or back")
    recounted = count(rules, [Cast(v, b["choice"], b["reason"], b["binding"])
                              for v, b in revealed.items()])
    if recounted.result != closing["outcome"]["result"]:
        problems.append(f"vote #{number}: counting the ballots gives {recounted.result}, the "
                        f"log says {closing['outcome']['result']}")
    return problems


def verify_votes(session: Session) -> tuple[int, list[str]]:
    """Count every closed vote again from the log; (votes checked, problems)."""
    numbers = session.exec(select(Vote.number).where(Vote.state == CLOSED)
                           .order_by(col(Vote.number))).all()
    problems: list[str] = []
    for number in numbers:
        assert number is not None
        entries = session.exec(select(AuditEntry).where(AuditEntry.target == target(number))
                               .order_by(col(AuditEntry.seq))).all()
        found = check_vote(number, entries)
        vote = session.get(Vote, number)
        recorded = [e for e in entries if e.action == "vote.close"]
        if vote is not None and recorded and not found:
            logged = recorded[-1].payload()["outcome"]["result"]
            if vote.outcome != logged:
                found.append(f"vote #{number}: the vote says {vote.outcome}, the log says "
                             f"{logged}")
        problems.extend(found)
    return len(numbers), problems
