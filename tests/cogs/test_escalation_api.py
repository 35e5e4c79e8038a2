"""Other capabilities open escalations with `open_escalation`, in their own transaction."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.config import ConfigError, load_config
from cogs.escalation.api import EscalationsNotLoaded, open_escalation
from governance.audit import Actor, history
from governance.clock import FakeClock
from governance.db import Database
from governance.errors import Refusal
from governance.escalations import service
from governance.people.service import link_directly
from tests.cogs.test_escalation_scenario import START, escalation_cog, escalation_config
from tests.support import EXAMPLE, RecordingChat, make_config, running, to_toml


class Interrupted(Exception):
    pass


async def test_a_vote_opens_one_ticket_in_its_own_transaction(tmp_path: Path,
                                                              db: Database) -> None:
    chat, clock = RecordingChat(), FakeClock(START)
    async with running(escalation_config(tmp_path), db=db, clock=clock,
                       transports=[chat]) as roadie:
        ctx = escalation_cog(roadie).ctx
        await db.run(lambda session: link_directly(
            session, actor=Actor.system(), platform="recording", user_id="c-1",
            display_name="Carol", login="carol", now=clock.now()))

        # The caller's transaction fails after opening: nothing is opened, nothing said.
        def interrupted_vote(session: Session) -> None:
            open_escalation(ctx, session, project="django-sample", kind="permissions",
                            summary="Revert the direct push to main",
                            reporter_login="carol", source="vote:12")
            raise Interrupted

        with pytest.raises(Interrupted):
            await db.run(interrupted_vote)
        await roadie.settle()
        assert chat.sent == []

        # Run twice (a retried handler): one ticket, announced once.
        numbers = []
        for _ in range(2):
            ticket = await db.run(lambda session: open_escalation(
                ctx, session, project="django-sample", kind="permissions", urgent=True,
                summary="Revert the direct push to main (vote 12)", reporter_login="carol",
                source="vote:12"))
            numbers.append(ticket.number)
            await roadie.settle()
        assert numbers[0] == numbers[1]
        number = numbers[0]
        # One message to each place; places are sent to side by side, in no set order.
        assert sorted(s.place for s in chat.sent) == ["admins", "dm:c-1", "feed"]
        told = next(s.text for s in chat.sent if s.place == "dm:c-1")
        assert f"**Escalation #{number} was opened for you**" in told
        assert "Revert the direct push to main (vote 12)" in told
        assert "vote:12" not in told
        assert "(urgent permissions for django-sample), assigned to alice" in told
        ticket = await db.run(lambda session: service.require_ticket(session, number or 0))
        assert ticket.source == "vote:12"
        entry = await db.run(lambda session: history(session, target=f"escalation:{number}")[0])
        assert (entry.actor, entry.action) == ("roadie", "escalation.open")

        with pytest.raises(Refusal, match="'admin-stuff' is not a kind"):
            await db.run(lambda session: open_escalation(
                ctx, session, project="django-sample", kind="admin-stuff", summary="x",
                reporter_login="carol", source="onboarding:1"))


async def test_without_the_cog_opening_says_what_to_load(tmp_path: Path, db: Database) -> None:
    without = tomllib.loads(EXAMPLE.read_text())
    del without["escalations"]
    without["bot"]["cogs"] = ["cogs.people", "cogs.projects"]
    without["server"]["bind"] = "127.0.0.1:0"
    (tmp_path / "roadie.toml").write_text(to_toml(without))
    config = load_config(tmp_path / "roadie.toml")
    async with running(config, db=db, clock=FakeClock(START)) as roadie:
        with pytest.raises(EscalationsNotLoaded, match=r"add cogs\.escalation"):
            await db.run(lambda session: open_escalation(
                roadie.context, session, project="django-sample", kind="ci", summary="x",
                reporter_login="carol", source="vote:1"))


@pytest.mark.parametrize(("section", "problem"), [
    ({"reminder_points": [90, 50]}, "escalations.reminder_points: expected percentages"),
    ({"kinds": ["CI stuff"]}, "escalations.kinds: 'CI stuff' is not a kind"),
    ({"urgent_acknowledge_within": "2d"},
     "urgent_acknowledge_within is longer than urgent_resolve_within"),
    ({"github_repo": "jazzband/help"}, "escalations.github_repo: expected the name of a"),
    ({"assignment": "random"}, "escalations.assignment: Input should be 'balanced'"),
    ({"breach_repeat": "daily"}, "escalations.breach_repeat: 'daily' is not a duration"),
])
def test_bad_settings_are_refused_at_start(tmp_path: Path, section: dict[str, object],
                                           problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, {"escalations": section})  # as `roadie run` loads its config
    assert problem in str(refused.value)
