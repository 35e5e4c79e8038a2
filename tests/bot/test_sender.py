"""The outbox: every message is a row first; sent once, retried when a platform fails."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from bot.core.messages import Message
from bot.core.ports import PlatformError, Rate
from bot.runtime.app import Roadie
from bot.runtime.instance import InstanceName
from bot.runtime.sender import CLAIM_HOLD
from governance.clock import FakeClock, SystemClock
from governance.db import Database
from governance.outbox import service as outbox_rows
from governance.outbox.models import FAILED, SENT, OutboxMessage
from tests.support import RecordingChat, eventually, make_config, running


async def _rows(db: Database) -> list[OutboxMessage]:
    return await db.run(lambda session: list(
        session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()))


async def _post(roadie: Roadie, destination: str, text: str, key: str | None = None) -> str:
    return await roadie.db.run(
        lambda session: roadie.outbox.post(session, destination, Message(body=text), key=key))


async def test_a_message_reaches_every_platform_that_maps_it(tmp_path: Path,
                                                             db: Database) -> None:
    a, b = RecordingChat("a"), RecordingChat("b", destinations=["admins"])
    async with running(make_config(tmp_path), db=db, transports=[a, b]) as roadie:
        await _post(roadie, "admins", "hello")
        await _post(roadie, "modlog", "only on a")
        await roadie.settle()
    assert sorted(a.texts()) == ["hello", "only on a"]  # two destinations: no set order
    assert b.texts() == ["hello"]
    assert {r.status for r in await _rows(db)} == {SENT}


async def test_the_same_key_is_one_message(tmp_path: Path, db: Database) -> None:
    chat = RecordingChat()
    async with running(make_config(tmp_path), db=db, transports=[chat]) as roadie:
        for _ in range(3):
            await _post(roadie, "admins", "reminder", key="ticket:1:ack:50")
        await roadie.settle()
    assert chat.texts() == ["reminder"]


async def test_nothing_is_sent_when_the_change_rolls_back(tmp_path: Path,
                                                          sqlite_db: Database) -> None:
    chat = RecordingChat()
    async with running(make_config(tmp_path), db=sqlite_db, transports=[chat]) as roadie:
        try:
            def transact(session: Session) -> None:
                roadie.outbox.post(session, "admins", Message(body="never"))
                raise RuntimeError("the state change failed")
            await roadie.db.run(transact)
        except RuntimeError:
            pass
        await roadie.settle()
    assert chat.sent == []


async def test_an_outage_delays_and_loses_nothing(tmp_path: Path, sqlite_db: Database) -> None:
    chat = RecordingChat()
    chat.fail_next(2, PlatformError("recording", "502 bad gateway"))
    async with running(make_config(tmp_path), db=sqlite_db, transports=[chat]) as roadie:
        await _post(roadie, "admins", "patient")
        await eventually(lambda: chat.texts() == ["patient"], timeout=10)
    [row] = await _rows(sqlite_db)
    assert row.status == SENT
    assert row.attempts == 3
    assert "502" in row.last_error


async def test_retry_after_is_honoured(tmp_path: Path, sqlite_db: Database) -> None:
    chat = RecordingChat()
    chat.fail_next(1, PlatformError("recording", "429", retry_after=0.3))
    async with running(make_config(tmp_path), db=sqlite_db, transports=[chat]) as roadie:
        started = asyncio.get_running_loop().time()
        await _post(roadie, "admins", "later")
        await eventually(lambda: chat.texts() == ["later"])
    assert chat.send_times[0] - started >= 0.3
    [row] = await _rows(sqlite_db)
    assert row.attempts == 1  # waiting as asked is not a failed attempt


async def test_a_permanent_failure_is_reported_elsewhere(tmp_path: Path,
                                                         sqlite_db: Database) -> None:
    broken, other = RecordingChat("broken"), RecordingChat("other")
    broken.fail_next(1, PlatformError("broken", "403 missing access", permanent=True))
    async with running(make_config(tmp_path), db=sqlite_db,
                       transports=[broken, other]) as roadie:
        await _post(roadie, "modlog", "lost?")
        await eventually(lambda: any("could not be sent" in t for t in other.texts()))
    failed = [r for r in await _rows(sqlite_db) if r.platform == "broken"]
    assert [r.status for r in failed] == [FAILED]
    report = other.texts("admins")[-1]
    assert "modlog on broken" in report
    assert "403 missing access" in report


async def test_rate_limits_are_kept(tmp_path: Path, sqlite_db: Database) -> None:
    chat = RecordingChat(rates=(Rate(3, 0.5), None))
    async with running(make_config(tmp_path), db=sqlite_db, transports=[chat]) as roadie:
        for index in range(9):
            await _post(roadie, "feed", f"m{index}")
        await eventually(lambda: len(chat.sent) == 9, timeout=10)
    times = chat.send_times
    for index in range(3, 9):
        assert times[index] - times[index - 3] >= 0.5 - 1e-3
    assert chat.texts() == [f"m{i}" for i in range(9)]


async def test_edits_replace_the_message_in_place(tmp_path: Path, sqlite_db: Database) -> None:
    chat = RecordingChat()
    async with running(make_config(tmp_path), db=sqlite_db, transports=[chat]) as roadie:
        key = await _post(roadie, "feed", "vote 1: 0 ballots")
        def transact(session: Session) -> None:
            for count in (1, 2, 3):
                roadie.outbox.edit(session, "feed", key, Message(body=f"vote 1: {count} ballots"))
        await roadie.db.run(transact)
        await roadie.settle()
    assert len(chat.sent) == 1
    assert chat.sent[0].text == "vote 1: 3 ballots"
    assert len(chat.sent[0].edits) <= 3


async def test_an_edit_of_a_message_that_failed_for_good_gives_way(
        tmp_path: Path, sqlite_db: Database) -> None:
    chat = RecordingChat()
    chat.fail_next(1, PlatformError("recording", "403 missing access", permanent=True))
    async with running(make_config(tmp_path), db=sqlite_db, transports=[chat]) as roadie:
        key = await _post(roadie, "feed", "vote 1: 0 ballots")
        await roadie.settle()
        await roadie.db.run(lambda session: roadie.outbox.edit(
            session, "feed", key, Message(body="vote 1: 1 ballot")))
        await _post(roadie, "feed", "next notice")
        await eventually(lambda: chat.texts() == ["next notice"])
    statuses = [(r.edit_of is not None, r.status) for r in await _rows(sqlite_db)]
    assert statuses == [(False, FAILED), (True, FAILED), (False, SENT)]
    assert "could not be sent" in (await _rows(sqlite_db))[1].last_error


async def test_two_replicas_never_send_one_row_twice(tmp_path: Path, db: Database) -> None:
    first, second = RecordingChat(), RecordingChat()
    config = make_config(tmp_path)
    async with running(config, db=db, transports=[first]) as one, \
            running(config, db=Database(db.url), transports=[second]) as two:
        for index in range(40):
            await _post(one if index % 2 else two, "feed", f"m{index}")
        await eventually(lambda: len(first.sent) + len(second.sent) == 40, timeout=15)
        await asyncio.sleep(0.3)
        await one.settle()
        await two.settle()
    texts = first.texts() + second.texts()
    assert sorted(texts) == sorted(f"m{i}" for i in range(40))


def _claimed_in_flight(session: Session, now: datetime, worker: str) -> None:
    """Three messages to one place, the first claimed by a replica that then died."""
    for key in ("first", "second", "third"):
        outbox_rows.enqueue(session, platforms=["recording"], destination="admins",
                            payload=Message(body=key).to_json(), key=key, now=now)
    first = session.exec(select(OutboxMessage.id).order_by(OutboxMessage.id)).first()
    assert first is not None
    assert outbox_rows.claim(session, first, worker=worker, now=now, hold=CLAIM_HOLD)


async def test_a_replica_killed_while_sending_sends_on_once_restarted(tmp_path: Path,
                                                                      db: Database) -> None:
    now = SystemClock().now()
    await db.run(lambda session: _claimed_in_flight(session, now, "replica-1"))
    chat = RecordingChat()
    other = Roadie(make_config(tmp_path), db=db, transports=[chat], instance="replica-2",
                   use_config_github=False)
    await other.start()
    await other.settle()
    await other.stop()
    # Another replica leaves a live claim alone, and what comes after it in its lane.
    assert chat.sent == []
    restarted = Roadie(make_config(tmp_path), db=Database(db.url), transports=[chat],
                       instance="replica-1", use_config_github=False)
    await restarted.start()
    try:
        await eventually(lambda: chat.texts() == ["first", "second", "third"])
    finally:
        await restarted.stop()


async def test_a_dead_replicas_claims_are_taken_over_in_order_once_they_run_out(
        tmp_path: Path, db: Database) -> None:
    clock = FakeClock()
    await db.run(lambda session: _claimed_in_flight(session, clock.now(), "replica-1"))
    chat = RecordingChat()
    async with running(make_config(tmp_path), db=db, clock=clock, transports=[chat]) as other:
        await other.settle()
        assert chat.sent == []
        clock.advance(CLAIM_HOLD + timedelta(seconds=1))
        await other.settle()
        await eventually(lambda: chat.texts() == ["first", "second", "third"])


def test_a_replica_keeps_its_name_across_restarts(tmp_path: Path) -> None:
    name = make_config(tmp_path).instance_name
    assert name == make_config(tmp_path).instance_name
    assert str(os.getpid()) not in name
    held = InstanceName(name, lock_dir=tmp_path)
    twin = InstanceName(name, lock_dir=tmp_path)
    # Two at once never share a name: each would take the other's claims for its own.
    assert held.name == name
    assert twin.name.startswith(name + "-")
    held.release()
    twin.release()
    again = InstanceName(name, lock_dir=tmp_path)
    assert again.name == name
    again.release()
