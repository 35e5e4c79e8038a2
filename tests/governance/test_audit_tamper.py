"""What an operator with write access to the database might do to the log or to a decision
table, and `verify` finding each, naming the right entry or row (SQLite and PostgreSQL).

The checkpoints were published as they were signed (kept outside the database, as members
keep them); the tampering goes straight to the database, behind Roadie's back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Table, delete, insert, select, update

from governance.audit.checkpoints import AuditCheckpoint
from governance.audit.log import AuditEntry, AuditHead, entry_hash
from governance.audit.verification import Verdict, verify_database
from governance.clock import FakeClock
from governance.db import Database
from governance.escalations.models import Ticket
from governance.moderation.models import ModerationCase
from governance.onboarding.models import Checklist, ChecklistItem
from governance.people.models import ChatIdentity, Person, RoleGrant
from governance.votes.models import Ballot, Concern, Vote
from tests.governance.audit_world import World, build

LOG: Table = AuditEntry.__table__  # type: ignore[attr-defined]
HEAD: Table = AuditHead.__table__  # type: ignore[attr-defined]


def t(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


# --- tampering with the log ----------------------------------------------------------------


def rows(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(LOG).order_by(LOG.c.seq))]


def last_seq(conn: Connection) -> int:
    return int(conn.execute(select(LOG.c.seq).order_by(LOG.c.seq.desc()).limit(1)).scalar_one())


def rewrite(conn: Connection, entries: list[dict[str, Any]]) -> None:
    """Replace the whole log with `entries`, chained with recomputed hashes, head and all:
    what a careful forger does."""
    conn.execute(delete(LOG))
    previous = "0" * 64
    for seq, entry in enumerate(entries, 1):
        entry = {**entry, "seq": seq, "prev_hash": previous}
        entry["hash"] = entry_hash(seq, entry["at"], entry["actor"], entry["action"],
                                   entry["target"], entry["reason"], entry["data"], previous)
        conn.execute(insert(LOG).values(**entry))
        previous = entry["hash"]
    conn.execute(update(HEAD).values(seq=len(entries), hash=previous))


def edit(seq: int, **values: Any) -> Callable[[Connection], int]:
    def tamper(conn: Connection) -> int:
        conn.execute(update(LOG).where(LOG.c.seq == seq).values(**values))
        return seq
    return tamper


def edit_last(conn: Connection) -> int:
    seq = last_seq(conn)
    conn.execute(update(LOG).where(LOG.c.seq == seq).values(target="vote:99"))
    return seq


def remove(seq: int) -> Callable[[Connection], int]:
    def tamper(conn: Connection) -> int:
        conn.execute(delete(LOG).where(LOG.c.seq == seq))
        return seq
    return tamper


def remove_last(conn: Connection) -> int:
    seq = last_seq(conn)
    conn.execute(delete(LOG).where(LOG.c.seq == seq))
    return seq


def truncate_rewinding_head(keep: int) -> Callable[[Connection], int]:
    def tamper(conn: Connection) -> int:
        kept = rows(conn)[:keep]
        conn.execute(delete(LOG).where(LOG.c.seq > keep))
        conn.execute(update(HEAD).values(seq=keep, hash=kept[-1]["hash"]))
        return keep + 1
    return tamper


def rewind_head_only(conn: Connection) -> int:
    entries = rows(conn)
    conn.execute(update(HEAD).values(seq=len(entries) - 1, hash=entries[-2]["hash"]))
    return len(entries)


def first_after_checkpoint(world: World, seq: int) -> int:
    return max((c.size for c in world.published if c.size < seq), default=0) + 1


def rewrite_from(seq: int) -> Callable[[Connection, World], int]:
    def tamper(conn: Connection, world: World) -> int:
        entries = rows(conn)
        entries[seq - 1]["reason"] = "rewritten"
        rewrite(conn, entries)
        return first_after_checkpoint(world, seq)
    return tamper


def rewrite_last(conn: Connection, world: World) -> int:
    entries = rows(conn)
    entries[-1]["reason"] = "rewritten"
    rewrite(conn, entries)
    return first_after_checkpoint(world, len(entries))


def swap(a: int, b: int, recompute: bool) -> Callable[[Connection, World], int]:
    def tamper(conn: Connection, world: World) -> int:
        entries = rows(conn)
        fields = ("at", "actor", "action", "target", "reason", "data")
        first, second = entries[a - 1], entries[b - 1]
        for name in fields:
            first[name], second[name] = second[name], first[name]
        if recompute:
            rewrite(conn, entries)
            return first_after_checkpoint(world, a)
        for entry in (first, second):
            conn.execute(update(LOG).where(LOG.c.seq == entry["seq"])
                         .values(**{n: entry[n] for n in fields}))
        return a
    return tamper


def forged_insert(at: int, recompute: bool) -> Callable[[Connection, World], int]:
    def tamper(conn: Connection, world: World) -> int:
        entries = rows(conn)
        forged = {**entries[at - 1], "actor": "github:mallory", "action": "role.grant",
                  "target": "github:mallory", "reason": "", "data": '{"role":"admin"}'}
        entries.insert(at - 1, forged)
        if recompute:
            rewrite(conn, entries)
            return first_after_checkpoint(world, at)
        conn.execute(delete(LOG))
        for seq, entry in enumerate(entries, 1):
            conn.execute(insert(LOG).values(**{**entry, "seq": seq}))
        return at
    return tamper


def append_forged(conn: Connection) -> int:
    entries = rows(conn)
    seq = len(entries) + 1
    conn.execute(insert(LOG).values(**{**entries[-1], "seq": seq, "hash": "f" * 64,
                                       "prev_hash": entries[-1]["hash"]}))
    return seq


def regrow_after_truncation(conn: Connection, world: World) -> int:
    """Cut the log at 15 and write a different story from there, as long as it was."""
    entries = rows(conn)
    story = entries[:15] + [{**e, "reason": "another story"} for e in entries[15:]]
    rewrite(conn, story)
    return first_after_checkpoint(world, 16)


LOG_CASES: dict[str, Callable[..., int]] = {
    "edited reason": edit(5, reason="edited"),
    "edited actor": edit(2, actor="github:mallory"),
    "edited data": edit(14, data='{"binding":false}'),
    "edited action": edit(11, action="vote.cancel"),
    "edited target of the last entry": edit_last,
    "edited time": edit(3, at=FakeClock().now() - timedelta(days=1)),
    "edited hash": edit(8, hash="0" * 64),
    "deleted middle entry": remove(6),
    "deleted first entry": remove(1),
    "deleted last entry": remove_last,
    "truncated tail, head rewound": truncate_rewinding_head(15),
    "truncated at a checkpoint, head rewound": truncate_rewinding_head(12),
    "head rewound alone": rewind_head_only,
    "rewritten chain with recomputed hashes": rewrite_from(15),
    "rewritten from the first entry": rewrite_from(1),
    "rewritten last entry, recomputed": rewrite_last,
    "two entries swapped": swap(13, 15, recompute=False),
    "two entries swapped, recomputed": swap(13, 15, recompute=True),
    "forged insert in the middle": forged_insert(10, recompute=False),
    "forged insert in the middle, recomputed": forged_insert(10, recompute=True),
    "forged entry appended with a wrong hash": append_forged,
    "truncated and regrown with recomputed hashes": regrow_after_truncation,
}


@pytest.fixture
def world(db: Database, clock: FakeClock) -> World:
    return build(db, clock)


def verdict_of(world: World) -> Verdict:
    with world.db.transaction() as session:
        return verify_database(session, world.published, world.key.public)


def test_the_untouched_world_verifies(world: World) -> None:
    verdict = verdict_of(world)
    assert verdict.ok, verdict.problems()
    assert verdict.log.checkpoints_good == len(world.published) == 4
    assert verdict.replay is not None
    assert verdict.replay.rows_checked > 15
    assert verdict.votes_checked == 1


@pytest.mark.parametrize("case", list(LOG_CASES))
def test_tampering_with_the_log_is_named(world: World, case: str) -> None:
    tamper = LOG_CASES[case]
    with world.db.engine.begin() as conn:
        takes_world = tamper.__code__.co_argcount == 2
        expected = tamper(conn, world) if takes_world else tamper(conn)
    verdict = verdict_of(world)
    assert not verdict.ok
    assert verdict.first_bad == expected, verdict.problems()


# --- tampering with a decision table -------------------------------------------------------


@dataclass(frozen=True)
class TableCase:
    table: str
    tamper: Callable[[Connection], Any]


def one(conn: Connection, model: Any, *where: Any) -> Any:
    return conn.execute(select(t(model)).where(*where)).first()


def lead_grant(conn: Connection) -> int:
    return int(one(conn, RoleGrant, t(RoleGrant).c.role == "lead").id)


def person(conn: Connection, login: str) -> int:
    return int(one(conn, Person, t(Person).c.login == login).id)


def set_row(model: Any, find: Callable[[Connection], int], **values: Any
            ) -> Callable[[Connection], int]:
    def tamper(conn: Connection) -> int:
        key = find(conn)
        table = t(model)
        conn.execute(update(table).where(table.c[_pk(table)] == key).values(**values))
        return key
    return tamper


def _pk(table: Table) -> str:
    return next(iter(table.primary_key.columns)).name


def first_id(model: Any) -> Callable[[Connection], int]:
    def find(conn: Connection) -> int:
        table = t(model)
        return int(conn.execute(select(table.c[_pk(table)]).order_by(table.c[_pk(table)])
                                .limit(1)).scalar_one())
    return find


def forged_grant(conn: Connection) -> int:
    result = conn.execute(insert(t(RoleGrant)).values(
        person_id=person(conn, "erin"), role="admin", project="", source="command",
        granted_by="github:alice", granted_at=FakeClock().now(), revoked_by=""))
    return int(result.inserted_primary_key[0])


def deleted_grant(conn: Connection) -> int:
    key = lead_grant(conn)
    conn.execute(delete(t(RoleGrant)).where(t(RoleGrant).c.id == key))
    return key


def relinked(conn: Connection) -> int:
    linked = one(conn, ChatIdentity, t(ChatIdentity).c.user_id == "1")
    conn.execute(update(t(ChatIdentity)).where(t(ChatIdentity).c.id == linked.id)
                 .values(person_id=person(conn, "erin")))
    return int(linked.id)


def forged_link(conn: Connection) -> int:
    stranger = one(conn, ChatIdentity, t(ChatIdentity).c.user_id == "2")
    conn.execute(update(t(ChatIdentity)).where(t(ChatIdentity).c.id == stranger.id)
                 .values(person_id=person(conn, "alice"), linked_by="console:2"))
    return int(stranger.id)


def ballot_of(voter: str, vote: int) -> Callable[[Connection], int]:
    def find(conn: Connection) -> int:
        return int(one(conn, Ballot, t(Ballot).c.voter == voter, t(Ballot).c.vote == vote).id)
    return find


def swapped_seal(conn: Connection) -> int:
    alice = one(conn, Ballot, t(Ballot).c.voter == "alice", t(Ballot).c.vote == 2)
    carol = one(conn, Ballot, t(Ballot).c.voter == "carol", t(Ballot).c.vote == 2)
    conn.execute(update(t(Ballot)).where(t(Ballot).c.id == alice.id).values(sealed=carol.sealed))
    return int(alice.id)


def deleted_ballot(conn: Connection) -> int:
    key = ballot_of("bob", 1)(conn)
    conn.execute(delete(t(Ballot)).where(t(Ballot).c.id == key))
    return key


LATER = FakeClock().now() + timedelta(days=30)
TABLE_CASES: dict[str, TableCase] = {
    "role changed": TableCase("role_grant", set_row(RoleGrant, lead_grant, role="admin")),
    "role revoked": TableCase("role_grant", set_row(RoleGrant, lead_grant, revoked_at=LATER,
                                                    revoked_by="github:mallory")),
    "role granted behind Roadie's back": TableCase("role_grant", forged_grant),
    "role grant deleted": TableCase("role_grant", deleted_grant),
    "link moved to another person": TableCase("chat_identity", relinked),
    "link forged": TableCase("chat_identity", forged_link),
    "escalation closed": TableCase("escalation", set_row(Ticket, first_id(Ticket),
                                                         state="resolved")),
    "escalation reassigned": TableCase("escalation", set_row(Ticket, first_id(Ticket),
                                                             assignee="bob")),
    "escalation deadline moved": TableCase("escalation", set_row(
        Ticket, first_id(Ticket), resolve_due_at=LATER)),
    "vote outcome changed": TableCase("vote", set_row(Vote, first_id(Vote), outcome="keep")),
    "vote electorate changed": TableCase("vote", set_row(
        Vote, first_id(Vote), electorate='["alice", "mallory"]')),
    "ballot choice changed": TableCase("vote_ballot", set_row(Ballot, ballot_of("alice", 1),
                                                              choice="keep")),
    "sealed ballot swapped": TableCase("vote_ballot", swapped_seal),
    "ballot deleted": TableCase("vote_ballot", deleted_ballot),
    "concern reopened": TableCase("vote_concern", set_row(Concern, first_id(Concern),
                                                          resolved_at=None, resolved_by="")),
    "case lifted": TableCase("moderation_case", set_row(ModerationCase,
                                                        first_id(ModerationCase),
                                                        state="lifted")),
    "case reason edited": TableCase("moderation_case", set_row(
        ModerationCase, first_id(ModerationCase), reason="they were nice actually")),
    "checklist completed": TableCase("onboarding_checklist", set_row(
        Checklist, first_id(Checklist), state="complete", completed_at=LATER)),
    "checklist item ticked": TableCase("onboarding_item", set_row(
        ChecklistItem, first_id(ChecklistItem), done_at=LATER, done_by="github:mallory")),
}


@pytest.mark.parametrize("case", list(TABLE_CASES))
def test_tampering_with_a_decision_table_is_named(world: World, case: str) -> None:
    spec = TABLE_CASES[case]
    with world.db.engine.begin() as conn:
        key = spec.tamper(conn)
    verdict = verdict_of(world)
    assert verdict.log.ok  # the log itself is intact
    assert verdict.replay is not None
    assert not verdict.replay.ok
    first = verdict.replay.differences[0]
    assert (first.table, first.key) == (spec.table, str(key)), verdict.problems()
    assert str(key) in verdict.problems()[0]


def test_a_checkpoint_with_a_forged_signature_is_ignored(world: World) -> None:
    forged = [c.__class__(**{**c.__dict__, "root": "ab" * 32}) for c in world.published[-1:]]
    with world.db.transaction() as session:
        verdict = verify_database(session, world.published[:-1] + forged, world.key.public)
    assert verdict.ok
    assert any("signature does not hold" in note for note in verdict.log.notes)


def test_checkpoints_are_kept_as_published(world: World) -> None:
    with world.db.transaction() as session:
        sizes = list(session.scalars(select(AuditCheckpoint.size).order_by(AuditCheckpoint.size)))
    assert sizes == [c.size for c in world.published]


def test_a_log_begun_before_decision_rows_replays_from_the_upgrade(tmp_path: Any,
                                                                   clock: FakeClock) -> None:
    """A database from before this version: its rows are counted, unchecked; a row added
    behind Roadie's back after the upgrade is still found."""
    from alembic import command

    from governance.audit import Actor, record
    from governance.migrate import alembic_config

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(db), "heads")
    command.downgrade(alembic_config(db), "audit@-1")
    with db.engine.begin() as conn:  # an old grant, and the entry it had then
        conn.execute(insert(t(Person)).values(login="alice", display_login="alice",
                                              created_at=clock.now()))
        conn.execute(insert(t(RoleGrant)).values(
            person_id=1, role="admin", project="", source="config", granted_by="roadie",
            granted_at=clock.now(), revoked_by=""))
    with db.transaction() as session:
        record(session, actor=Actor.system(), action="role.grant", target="github:alice",
               at=clock.now(), data={"role": "admin"})
    command.upgrade(alembic_config(db), "heads")
    with db.transaction() as session:
        verdict = verify_database(session, [], None)
    assert verdict.ok, verdict.problems()
    assert verdict.replay is not None
    assert verdict.replay.unchecked == 1
    with db.engine.begin() as conn:
        conn.execute(insert(t(RoleGrant)).values(
            person_id=1, role="moderator", project="", source="command", granted_by="x",
            granted_at=clock.now(), revoked_by=""))
    with db.transaction() as session:
        verdict = verify_database(session, [], None)
    assert verdict.replay is not None
    assert [d.key for d in verdict.replay.differences] == ["2"]
    db.dispose()
