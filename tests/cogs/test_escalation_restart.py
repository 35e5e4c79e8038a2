"""Stopping Roadie in the middle of an escalation neither loses nor repeats a reminder."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from bot.core.ports import PlatformError
from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.people.service import link_directly
from tests.cogs.test_escalation_scenario import START, escalation_cog, escalation_config
from tests.support import RecordingChat, running, say

PEOPLE = ("alice", "frank", "grace", "carol")


async def _link_everyone(db: Database, clock: FakeClock) -> None:
    await db.run(lambda session: _link(session, clock))


def _link(session: Session, clock: FakeClock) -> None:
    for login in PEOPLE:
        link_directly(session, actor=Actor.system(), platform="recording", user_id=login,
                      display_name=login, login=login, now=clock.now())


def _reminders(chat: RecordingChat) -> list[str]:
    """The keys of the reminders the chat platform received, in order."""
    return [s.key for s in chat.sent if s.key.count(":") == 4]


async def test_a_restart_neither_loses_nor_repeats_a_reminder(tmp_path: Path,
                                                              db: Database) -> None:
    chat, clock = RecordingChat(), FakeClock(START)
    config = escalation_config(tmp_path)

    def at(seconds: int) -> None:
        clock.set(START + timedelta(seconds=seconds))

    async with running(config, db=db, clock=clock, transports=[chat]) as first:
        await _link_everyone(db, clock)
        await say(first, "recording", "carol", "escalate django-sample ci CI is red on main")
        at(5)
        await say(first, "recording", "carol", "escalate django-sample pypi Add the org as owner")
        assert await escalation_cog(first).sweep() == 1  # ticket 1: 50%
        await first.settle()
        at(9)
        # Ticket 1's 90% point is recorded and queued, but the platform is down when it goes.
        chat.fail_next(1, PlatformError("recording", "503 service unavailable"))
        assert await escalation_cog(first).sweep() == 1
        await first.settle()
        assert _reminders(chat) == ["escalation:1:1:acknowledge:0"]
    # Roadie is down while ticket 1 breaches (t=10) and ticket 2 reaches 50% (t=10).
    at(12)
    second_db = Database(db.url)
    async with running(config, db=second_db, clock=clock, transports=[chat]) as second:
        await second.settle()  # the message queued before the stop goes out now
        assert _reminders(chat) == ["escalation:1:1:acknowledge:0",
                                    "escalation:1:1:acknowledge:1"]
        cog = escalation_cog(second)
        assert await cog.sweep() == 2
        assert await cog.sweep() == 0
        await second.settle()
        at(14)
        assert await cog.sweep() == 1  # ticket 2: 90%
        at(15)
        assert await cog.sweep() == 2  # ticket 1's second alert, ticket 2's breach
        assert await cog.sweep() == 0
        await second.settle()
    keys = _reminders(chat)  # lanes to different places may deliver in any order
    assert sorted(keys) == ["escalation:1:1:acknowledge:0", "escalation:1:1:acknowledge:1",
                            "escalation:1:1:acknowledge:2", "escalation:1:1:acknowledge:3",
                            "escalation:2:1:acknowledge:0", "escalation:2:1:acknowledge:1",
                            "escalation:2:1:acknowledge:2"]
    assert all(count == 1 for count in Counter(keys).values())
    alerts = [s for s in chat.sent if s.key.endswith(":acknowledge:2")]
    assert [s.place for s in alerts] == ["admins", "admins"]
    assert alerts[0].message.mentions == ("alice", "frank", "grace")
    assert [s.place for s in chat.sent if s.key == "escalation:2:1:acknowledge:0"] == ["dm:frank"]


async def test_replicas_sweeping_in_turn_send_each_point_once(tmp_path: Path,
                                                              db: Database) -> None:
    chat, clock = RecordingChat(), FakeClock(START)
    config = escalation_config(tmp_path)
    async with running(config, db=db, clock=clock, transports=[chat]) as one, \
            running(config, db=Database(db.url), clock=clock, transports=[chat]) as two:
        await _link_everyone(db, clock)
        for index in range(6):
            await say(one if index % 2 else two, "recording", "carol",
                      f"escalate django-sample ci ticket {index}")
        clock.set(START + timedelta(seconds=10))
        counts = [await escalation_cog(r).sweep() for r in (one, two, one)]
        assert counts == [6, 0, 0]
        await one.settle()
        await two.settle()
    assert sorted(_reminders(chat)) == [f"escalation:{n}:1:acknowledge:2" for n in range(1, 7)]
