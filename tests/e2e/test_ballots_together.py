"""Fifty people click a vote's buttons at once: the ballots share transactions, every one is
counted exactly, each voter is answered with their own choice, and a refused click is
answered with its own refusal while the others count."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func
from sqlmodel import Session, select

from governance.audit import verify
from governance.votes.closing import close as close_vote
from governance.votes.integrity import verify_votes
from governance.votes.models import DISPUTE, Ballot
from governance.votes.rules import Rules
from tests.e2e.harness import World

VOTERS = 40
OUTSIDERS = 10
RULES = Rules(kind=DISPUTE, quorum=3, threshold="majority", min_duration=timedelta(hours=72),
              options=("revert", "keep", "review"), advisory=False)


async def test_fifty_clicks_at_once_are_counted_and_answered_each(world: World) -> None:
    people = await world.discord_members(VOTERS + OUTSIDERS)
    now = world.clock.now()
    number, status = await world.open_dispute(
        proposer=people[0][1], electorate=[login for _, login in people[:VOTERS]], rules=RULES)
    locks: list[str] = []

    def note(*args: Any) -> None:
        if args[2].lstrip().startswith("SELECT vote.number") and "FOR UPDATE" in args[2]:
            locks.append(args[2])

    event.listen(world.roadie.db.engine, "before_cursor_execute", note)
    try:
        choices = [("Revert", "Keep")[i % 2] for i in range(len(people))]
        clicks = await asyncio.gather(*(world.discord.dispatch_click(user, status, choice)
                                        for (user, _), choice in zip(people, choices,
                                                                     strict=True)))
        await asyncio.gather(*(asyncio.wait_for(c.answered.wait(), 30) for c in clicks))
    finally:
        event.remove(world.roadie.db.engine, "before_cursor_execute", note)
    await world.settle()

    for index, (click, choice) in enumerate(zip(clicks, choices, strict=True)):
        answer = click.answer()
        assert answer.ephemeral
        if index < VOTERS:
            assert answer.text.startswith(f"Your binding ballot on vote #{number} is "), answer
            assert choice.lower() in answer.text.lower(), (choice, answer.text)
        else:
            assert "not in the electorate" in answer.text, answer.text
    # Ballots arriving together shared transactions: fewer locks of the vote than ballots.
    assert len(locks) < VOTERS

    def tally(session: Session) -> dict[str, int]:
        rows = session.exec(select(Ballot.choice, func.count()).where(
            Ballot.vote == number).group_by(Ballot.choice)).all()  # type: ignore[call-overload]
        assert verify(session).ok
        return dict(rows)

    assert await world.roadie.db.run(tally) == {"revert": VOTERS // 2, "keep": VOTERS // 2}
    await world.roadie.db.run(lambda session: close_vote(
        session, number=number, now=now + timedelta(hours=73)))
    assert await world.roadie.db.run(verify_votes) == (1, [])
