"""The daily digest: every section from fixed data at a fixed time, and exactly once a day."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.config import DEFAULT_COGS
from bot.core.events import GitHubEvent
from bot.runtime.app import Roadie
from cogs.digest.cog import DigestCog
from cogs.escalation.api import open_escalation
from cogs.escalation.cog import EscalationCog
from cogs.onboarding.cog import OnboardingCog
from governance.audit import Actor
from governance.clock import FakeClock
from governance.db import Database
from governance.digest.models import DigestDay
from governance.escalations import away
from governance.moderation import service as cases
from governance.moderation.subjects import Account
from governance.outbox.models import OutboxMessage
from governance.people.roles import Role
from governance.people.service import grant_role, link_directly
from governance.public.digest import digest_page
from governance.public.scope import Scope
from tests.cogs.onboarding.world import transferred
from tests.support import RecordingChat, make_config, running, say

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, at the digest's time
STAND_IN = "tests.cogs.digest.votes_stand_in"


def digest_config(tmp_path: Path, *, cogs: tuple[str, ...] = (), **digest: Any) -> Any:
    return make_config(tmp_path, {"bot": {"cogs": [*DEFAULT_COGS, *cogs]},
                                  "people": {"admins": ["alice", "frank"]},
                                  "digest": digest})


T = TypeVar("T")


def cog_of(roadie: Roadie, kind: type[T]) -> T:
    return next(c for c in roadie.cogs if isinstance(c, kind))


async def fill(roadie: Roadie, clock: FakeClock) -> None:
    """A week of the org, as fixed data: one of everything the digest reports."""
    ctx = roadie.context

    def at(delta: timedelta) -> datetime:
        clock.set(START + delta)
        return clock.now()

    await roadie.db.run(lambda session: link_directly(
        session, actor=Actor.system(), platform='recording', user_id='carol', display_name='carol',
        login='carol', now=at(-timedelta(days=21))))
    # Hello-World moved in 20 days ago; one item was ticked 16 days ago, nothing since.
    onboarding = cog_of(roadie, OnboardingCog)
    assert await onboarding.repository_event(GitHubEvent(
        "repository", "transferred", "d-1", transferred(), at(-timedelta(days=20))))
    at(-timedelta(days=16))
    await say(roadie, "recording", "carol", "onboarding Hello-World done links")
    # Escalations: one overdue, one due in 12 hours, one due in three days.
    for opened, kind, project in ((-timedelta(days=4), "ci", "django-sample"),
                                  (-timedelta(hours=60), "pypi", "django-sample"),
                                  (timedelta(0), "webhook", "pip-tools-demo")):
        def transact(session: Session) -> None:
            at(opened)
            open_escalation(ctx, session, project=project, kind=kind,
                            summary=f"{kind} for {project}", reporter_login="carol",
                            source=f"test:{kind}")
        await roadie.db.run(transact)
    def transact(session: Session) -> None:
        # Blocks: one in the last day; one older, and one that lapsed, are not reported.
        for when, login, state in ((-timedelta(days=3), "old-spammer", None),
                                   (-timedelta(hours=5), "maybe", "lapsed"),
                                   (-timedelta(hours=2), "spammer", None)):
            case = cases.open_case(session, actor=Actor.github("bob"), opening=cases.Opening(
                subject=login, accounts=(Account("github", login, login),),
                reason="crypto spam links"), now=at(when), hold=timedelta(seconds=30))
            case.state = state or case.state
        # frank is away; pip-tools-demo has a lead, the other projects have none.
        away.go_away(session, login="frank", duration=timedelta(days=3),
                     note="at a conference", now=at(-timedelta(hours=1)),
                     policy=cog_of(roadie, EscalationCog).policy)
        grant_role(session, actor=Actor.system(), login="lena", role=Role.LEAD,
                   project="pip-tools-demo", now=clock.now())
    await roadie.db.run(transact)
    at(timedelta(0))


EVERY_SECTION = """\
**Daily digest, Monday 2026-01-05**
**Escalations breached or due within 24h** (2)
- #1 ci for django-sample: acknowledgement overdue by 1d; assigned to alice
- #2 pypi for django-sample: acknowledgement due in 12h; assigned to frank

**Stuck onboarding** (1)
- Hello-World: 1 of 12 done, no progress for 16d; waiting on admins: required-checks, \
pypi, webhook, lead, release

**Votes closing within 24h** (1)
- #4 lead of pip-tools-demo: carol, closes in 5h (3 for, 0 against)

**Votes decided in the last day** (1)
- #2 revert the push to main of django-sample: accepted, 5 to 1

**Blocks of the last day** (1)
- #3 active, 2026-01-05 07:00 UTC, by bob: spammer: crypto spam links

**Projects without a lead** (2)
- django-sample
- Hello-World

**Admins away** (1)
- frank until 2026-01-08 08:00 UTC: at a conference
*`/digest` shows today's digest again, as of the moment you ask.*"""


async def test_a_digest_with_every_section(tmp_path: Path, db: Database) -> None:
    chat, clock = RecordingChat(), FakeClock(START)
    async with running(digest_config(tmp_path, cogs=(STAND_IN,)), db=db, clock=clock,
                       transports=[chat]) as roadie:
        await fill(roadie, clock)
        assert await cog_of(roadie, DigestCog).send(clock.now())
        await roadie.settle()
        [digest] = chat.at("digest")
        assert digest.text == EVERY_SECTION
        assert digest.key == "digest:2026-01-05"

        # On demand, to the caller only: the same sections, as of now.
        reply = await say(roadie, "recording", "carol", "digest")
        assert reply.private
        assert reply.as_text() == EVERY_SECTION


async def test_the_digest_links_to_its_public_page_with_the_same_sections(
        tmp_path: Path, db: Database) -> None:
    chat, clock = RecordingChat(), FakeClock(START)
    config = make_config(tmp_path, {"people": {"admins": ["alice", "frank"]},
                                    "digest": {"timezone": "Europe/Berlin"},
                                    "web": {"enabled": True,
                                            "base_url": "https://coop.example.org/roadie"}})
    async with running(config, db=db, clock=clock, transports=[chat]) as roadie:
        await fill(roadie, clock)
        assert await cog_of(roadie, DigestCog).send(clock.now())
        await roadie.settle()
        [digest] = chat.at("digest")
        assert digest.message.url == "https://coop.example.org/roadie/digest"
        reply = await say(roadie, "recording", "carol", "digest")
        assert reply.message is not None
        assert reply.message.url == "https://coop.example.org/roadie/digest"
        # The public page reads the same day through the public readers: the same sections
        # in the same order (the votes' too, once there are votes; this world has none).
        page = await roadie.db.run(lambda session: digest_page(
            session, Scope(now=clock.now()), stuck_after=timedelta(days=14),
            zone=ZoneInfo("Europe/Berlin")))
    titles = re.findall(r"^\*\*(.+)\*\* \(\d+\)$", digest.text, re.MULTILINE)
    assert [s["title"] for s in page["sections"]] == titles
    assert page["day"] == "2026-01-05"


async def test_without_a_public_address_the_digest_has_no_link(tmp_path: Path,
                                                                db: Database) -> None:
    chat = RecordingChat()
    config = make_config(tmp_path, {"web": {"enabled": True}})
    async with running(config, db=db, clock=FakeClock(START), transports=[chat]) as roadie:
        await cog_of(roadie, DigestCog).send(START)
        await roadie.settle()
        [digest] = chat.at("digest")
        assert digest.message.url == ""


async def test_long_sections_are_cut_and_counted(tmp_path: Path, db: Database) -> None:
    chat = RecordingChat()
    config = make_config(tmp_path, {"projects": {"names": [f"p{n}" for n in range(7)]},
                                    "digest": {"max_lines": 3}})
    async with running(config, db=db, clock=FakeClock(START), transports=[chat]) as roadie:
        await cog_of(roadie, DigestCog).send(START)
        await roadie.settle()
        assert chat.texts("digest") == [
            "**Daily digest, Monday 2026-01-05**\n**Projects without a lead** (7)\n- p0\n- p1\n"
            "- p2\n- … and 4 more\n*`/digest` shows today's digest again, as of the moment "
            "you ask.*"]


async def test_a_quiet_day_is_one_line_or_nothing(tmp_path: Path, db: Database) -> None:
    chat = RecordingChat()
    quiet: dict[str, Any] = {"projects": {"names": []}}
    async with running(make_config(tmp_path, quiet), db=db, clock=FakeClock(START),
                       transports=[chat]) as roadie:
        assert await cog_of(roadie, DigestCog).send(START)
        await roadie.settle()
        assert chat.texts("digest") == [
            "**Daily digest, Monday 2026-01-05**\nA quiet day: nothing is stuck, overdue or "
            "new.\n*`/digest` shows today's digest again, as of the moment you ask.*"]
    chat = RecordingChat()
    quiet["digest"] = {"quiet_day": "skip"}
    (tmp_path / "skip").mkdir()
    async with running(make_config(tmp_path / "skip", quiet), db=db,
                       clock=FakeClock(START + timedelta(days=1)),
                       transports=[chat]) as roadie:
        assert await cog_of(roadie, DigestCog).send(START + timedelta(days=1))
        await roadie.settle()
        assert chat.texts("digest") == []
        def transact(session: Session) -> None:
            day = session.get(DigestDay, (START + timedelta(days=1)).date())
            assert day is not None
            assert day.sections == 0
        await roadie.db.run(transact)


async def test_a_failing_section_is_named_and_the_rest_goes_out(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    chat = RecordingChat()
    async with running(make_config(tmp_path), db=db, clock=FakeClock(START),
                       transports=[chat]) as roadie:
        def broken(*_args: Any, **_kwargs: Any) -> list[Any]:
            raise RuntimeError("the table is gone")

        monkeypatch.setattr(cog_of(roadie, EscalationCog), "digest_sections", broken)
        await cog_of(roadie, DigestCog).send(START)
        await roadie.settle()
        [text] = chat.texts("digest")
        assert "**Projects without a lead** (2)" in text
        assert "**escalation: this section could not be read** (1)\n- Roadie's log has the " \
               "error." in text


async def test_the_time_of_day_and_the_timezone(tmp_path: Path, db: Database) -> None:
    config = digest_config(tmp_path, time="07:30", timezone="Europe/Berlin")
    async with running(config, db=db, clock=FakeClock(START)) as roadie:
        cog = cog_of(roadie, DigestCog)
        [daily] = [j for j in roadie.jobs if j.name == "digest.daily"]
        assert (daily.daily_at, daily.timezone) == (cog.settings.at, "Europe/Berlin")
        assert str(cog.settings.at) == "07:30:00"
        # 07:30 in Berlin is 06:30 UTC in winter; 23:30 UTC on Jan 4 is Jan 5 in Berlin.
        assert cog.due_at(START.date()) == datetime(2026, 1, 5, 6, 30, tzinfo=UTC)
        assert str(cog.day_of(datetime(2026, 1, 4, 23, 30, tzinfo=UTC))) == "2026-01-05"


async def digest_rows(db: Database) -> list[tuple[str, str]]:
    rows = await db.run(lambda session: session.exec(select(OutboxMessage).where(
        OutboxMessage.destination == "digest")).all())
    return [(row.platform, row.key) for row in rows]


async def run_daily(roadie: Roadie) -> bool:
    """Run the daily job as the scheduler does when its cron time comes."""
    [job] = [j for j in roadie.jobs if j.name == "digest.daily"]
    await roadie.scheduler.renew_lease()
    ran = await roadie.scheduler.run_job(job)
    await roadie.settle()
    return ran


async def test_sent_once_across_a_restart_in_the_scheduled_minute(
        tmp_path: Path, db: Database) -> None:
    chat, clock = RecordingChat(), FakeClock(START + timedelta(seconds=2))
    config = digest_config(tmp_path)
    async with running(config, db=db, clock=clock, transports=[chat]) as first:
        assert await run_daily(first)
    clock.advance(timedelta(seconds=40))  # restarted within the same minute
    async with running(config, db=Database(db.url), clock=clock, transports=[chat]) as second:
        assert not await run_daily(second)  # the scheduler's tick is taken
        cog = cog_of(second, DigestCog)
        assert not await cog.send(clock.now())  # and so is the day, even past the tick
        await cog.catch_up()
        await second.settle()
        assert len(chat.texts("digest")) == 1
        clock.set(START + timedelta(days=1, seconds=1))  # the next day is a new digest
        assert await run_daily(second)
    assert await digest_rows(db) == [("recording", "digest:2026-01-05"),
                               ("recording", "digest:2026-01-06")]
    assert len(chat.texts("digest")) == 2


async def test_catching_up_after_being_down_at_the_time(tmp_path: Path, db: Database) -> None:
    chat, clock = RecordingChat(), FakeClock(START - timedelta(hours=1))
    async with running(digest_config(tmp_path), db=db, clock=clock,
                       transports=[chat]) as roadie:
        cog = cog_of(roadie, DigestCog)
        await cog.catch_up()  # before the time: nothing
        clock.set(START + timedelta(hours=2))  # Roadie was down at 09:00
        await cog.catch_up()
        await cog.catch_up()
        clock.set(START + timedelta(days=1, hours=7))  # too late for that day's digest
        await cog.catch_up()
        await roadie.settle()
    assert await digest_rows(db) == [("recording", "digest:2026-01-05")]


@pytest.mark.postgres
async def test_two_replicas_send_once(tmp_path: Path, pg_db: Database) -> None:
    clock = FakeClock(START)
    config = digest_config(tmp_path)
    chats = [RecordingChat(), RecordingChat()]
    async with running(config, db=Database(pg_db.url), clock=clock,
                       transports=[chats[0]]) as a, running(
            config, db=Database(pg_db.url), clock=clock, transports=[chats[1]]) as b:
        # Both replicas claim the same day at the same moment, as after a lease handover.
        for _ in range(3):
            sent = await asyncio.gather(cog_of(a, DigestCog).send(clock.now()),
                                        cog_of(b, DigestCog).send(clock.now()))
            assert sorted(sent) in ([False, True], [False, False])
        # And through their schedulers: only the lease holder runs the job, once.
        clock.set(START + timedelta(days=1))
        ran = [await run_daily(a), await run_daily(b), await run_daily(a)]
        assert ran.count(True) == 1
        await a.settle()
        await b.settle()
    assert await digest_rows(pg_db) == [("recording", "digest:2026-01-05"),
                                  ("recording", "digest:2026-01-06")]
    assert sum(len(chat.texts("digest")) for chat in chats) == 2
