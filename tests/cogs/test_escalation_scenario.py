"""A whole escalation on the console, with deadlines of seconds and a clock the test moves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.runtime.app import Roadie
from cogs.escalation.cog import EscalationCog
from governance.audit import verify
from governance.clock import FakeClock
from governance.db import Database
from tests.support import Console, make_config, running

SECONDS_SLA = {"normal_acknowledge_within": "10s", "normal_resolve_within": "60s",
               "urgent_acknowledge_within": "4s", "urgent_resolve_within": "20s",
               "breach_repeat": "5s", "sweep_interval": "1h"}


def escalation_config(tmp_path: Path, **escalations: Any) -> Any:
    return make_config(tmp_path, {"people": {"admins": ["alice", "frank", "grace"]},
                                  "escalations": {**SECONDS_SLA, **escalations}})


def escalation_cog(roadie: Roadie) -> EscalationCog:
    return next(c for c in roadie.cogs if isinstance(c, EscalationCog))


class Scene:
    """The console, the clock, and the sweep, as the scenario drives them."""

    def __init__(self, roadie: Roadie, console: Console, clock: FakeClock) -> None:
        self.roadie, self.console, self.clock = roadie, console, clock
        self.cog = escalation_cog(roadie)

    async def at(self, seconds: float) -> str:
        """Move the clock to `seconds` after the start, sweep, and return what was printed."""
        self.clock.set(START + timedelta(seconds=seconds))
        start = len(self.console.text)
        await self.cog.sweep()
        await self.roadie.settle()
        return self.console.text[start:]

    async def say(self, *lines: str) -> str:
        return "".join([await self.console.say(line) for line in lines])


START = FakeClock().now()


async def test_an_escalation_from_opening_to_stats(tmp_path: Path, db: Database) -> None:
    clock, console = FakeClock(START), Console()
    async with running(escalation_config(tmp_path), db=db, clock=clock,
                       transports=[console.transport]) as roadie:
        scene = Scene(roadie, console, clock)
        await scene.say("/as alice", "/as frank")
        out = await scene.say("/as grace", "/away 2h at a conference")
        assert "You are away until 2026-01-05 11:00 UTC (2h)" in out

        # Opened and assigned: the admins and the feed hear of it, the reporter gets its number.
        out = await scene.say("/as carol",
                              "/escalate django-sample required-checks Make the test job a "
                              "required check on main")
        assert ("Escalation #1 is open (normal required-checks for django-sample), assigned "
                "to alice.") in out
        assert "[#admins] **Escalation #1: required-checks for django-sample**" in out
        assert "- **Acknowledge by**: 2026-01-05 09:00 UTC (in 10s)" in out
        assert "cc @alice" in out
        assert "[#feed] **Escalation #1: required-checks for django-sample**" in out

        # Reminders before the breach go to the assignee, once per point.
        out = await scene.at(5)
        assert "[@alice] **Reminder: escalation #1 waits for acknowledgement**" in out
        assert "50% of its time is gone" in out
        assert await scene.at(6) == ""
        assert "90% of its time is gone" in await scene.at(9)

        # The breach: the admins are alerted, everyone not away mentioned, again and again.
        out = await scene.at(10)
        assert "[#admins] **Overdue: escalation #1 was not acknowledged in time**" in out
        assert "Alert 1; it repeats every 5s until the ticket is acknowledged." in out
        # alice holds it: the alert does not offer to take it, only to acknowledge it.
        assert "Take it" not in out
        assert "Acknowledge: `/escalation ack 1`" in out
        assert "cc @alice @frank\n" in out  # grace is away
        assert "Alert 2;" in await scene.at(15)
        out = await scene.say("/escalations")
        assert "OVERDUE by 5s to be acknowledged" in out

        # The acknowledgement stops the acknowledge reminders and is told to the reporter.
        out = await scene.say("/as alice", "/escalation ack 1")
        assert "Acknowledged escalation #1; the reporter has been told." in out
        assert "[@carol] **Escalation #1 acknowledged**" in out
        assert "acknowledged by alice after 15s (after its deadline)" in out
        assert await scene.at(20) == ""
        assert await scene.at(29) == ""

        # The resolve-by deadline works the same way.
        out = await scene.at(30)
        assert "[@alice] **Reminder: escalation #1 waits for resolution**" in out
        assert "50% of its time is gone: to be resolved by" in out
        assert "90% of its time is gone" in await scene.at(54)
        out = await scene.at(60)
        assert "[#admins] **Overdue: escalation #1 was not resolved in time**" in out
        assert "cc @alice @frank\n" in out
        out = await scene.say("/escalations")
        assert "1 overdue" in out
        assert "OVERDUE by 0s to be resolved" in out

        # The resolution: told to the reporter and the feed; no reminder follows.
        out = await scene.say("/escalation resolve 1 Required check set on main")
        assert "Resolved escalation #1; the reporter has been told." in out
        assert "[@carol] **Escalation #1 resolved**" in out
        assert "[#feed] **Escalation #1 resolved**" in out
        assert "resolved by alice: Required check set on main" in out
        assert await scene.at(600) == ""
        assert "No open escalations." in await scene.say("/escalations")

        # The history, and the stats.
        out = await scene.say("/escalation 1")
        for line in ("opened · normal required-checks for django-sample",
                     "assigned · assigned to alice (balanced)",
                     "reminded · 50% of the acknowledge window gone",
                     "breached · acknowledge deadline passed (alert 2)",
                     "acknowledged · acknowledged by alice after 15s",
                     "breached · resolve deadline passed (alert 1)",
                     "resolved · resolved by alice: Required check set on main"):
            assert line in out
        out = await scene.say("/escalations stats")
        assert ("30 days: 1 opened, 1 acknowledged, 1 resolved, 0 declined, 0 still open. "
                "Median time to acknowledge 15s, to resolve 1m. Breach rate 100% (1 of 1 "
                "missed a deadline).") in out
        assert "90 days: 1 opened" in out
    reminders = [line for line in console.text.splitlines()
                 if "Reminder: escalation" in line or "Overdue: escalation" in line]
    assert len(reminders) == 7  # 2 + 2 before the deadlines, 2 + 1 alerts: none twice
    def transact(session: Session) -> None:
        assert verify(session).ok
    await db.run(transact)


async def test_an_urgent_ticket_with_every_admin_away_alerts_them_all(
        tmp_path: Path, db: Database) -> None:
    clock, console = FakeClock(START), Console()
    async with running(escalation_config(tmp_path), db=db, clock=clock,
                       transports=[console.transport]) as roadie:
        scene = Scene(roadie, console, clock)
        for admin in ("alice", "frank", "grace"):
            await scene.say(f"/as {admin}", "/away 1h")
        out = await scene.say("/as dave", "/escalate pip-tools-demo pypi Add the org as "
                                          "owner on PyPI --urgent")
        assert "(urgent pypi for pip-tools-demo), not assigned yet" in out
        assert "- **Acknowledge by**: 2026-01-05 09:00 UTC (in 4s)" in out
        out = await scene.at(2)  # nobody is assigned: the admins hear of it
        assert "[#admins] **Reminder: escalation #1 waits for acknowledgement**" in out
        assert "cc @alice @frank @grace" in out
        out = await scene.at(4)
        assert "Overdue: escalation #1" in out
        assert "cc @alice @frank @grace" in out
        assert "Take it: `/escalation take 1`" in out  # nobody holds it
        out = await scene.say("/as frank", "/back", "/escalation take 1")
        assert "Welcome back" in out
        assert "Escalation #1 is yours." in out
        assert "[@dave] **Escalation #1 reassigned**" in out
        assert "taken by frank" in out
        out = await scene.at(9)
        assert "cc @frank\n" in out
