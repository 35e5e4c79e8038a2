"""A first checkpoint of a long log, hashed in steps that each hold the database briefly,
signs the same root as one taken at once; a step that meets a broken entry stops there."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from governance.audit import Actor, record
from governance.audit.checkpoints import ChainBroken, advance, resume, sign_checkpoint
from governance.audit.keys import AuditKey
from governance.audit.log import AuditEntry
from governance.clock import FakeClock
from governance.db import Database


def fill(db: Database, clock: FakeClock, count: int) -> None:
    with db.transaction() as session:
        for index in range(count):
            record(session, actor=Actor.system(), action="test.step", target=f"t:{index}",
                   at=clock.now(), data={"n": index})


def test_a_checkpoint_caught_up_in_steps_signs_the_same_root(db: Database,
                                                             clock: FakeClock) -> None:
    key = AuditKey.generate()
    fill(db, clock, 37)
    with db.transaction() as session:
        progress = resume(session)
    for upto in (10, 20, 30):
        with db.transaction() as session:
            progress = advance(session, progress, upto)
    fill(db, clock, 3)  # more come in meanwhile
    with db.transaction() as session:
        stepped = sign_checkpoint(session, key, origin="o", now=clock.now(), progress=progress)
        assert stepped is not None
        session.rollback()  # sign again below, at once
    with db.transaction() as session:
        at_once = sign_checkpoint(session, key, origin="o", now=clock.now())
    assert at_once is not None
    assert (stepped.size, stepped.root) == (at_once.size, at_once.root) == (40, at_once.root)


def test_catching_up_stops_at_a_broken_entry(db: Database, clock: FakeClock) -> None:
    fill(db, clock, 12)
    with db.engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(reason="edited"))
    with db.transaction() as session:
        progress = resume(session)
    with pytest.raises(ChainBroken) as broken, db.transaction() as session:
        advance(session, progress, 12)
    assert broken.value.seq == 7
