"""Commands side by side: the database work of each runs off the event loop, and a speaker's
profile (person, roles, leads) is read in one query."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session, select

from bot.runtime.dispatcher import Speaker
from governance.audit import Actor
from governance.db import Database
from governance.people.models import ChatIdentity
from governance.people.roles import Role
from governance.people.service import (
    LinkedAccount,
    grant_role,
    link_directly,
    speaker_profile,
)
from tests.support import make_config, running

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


async def test_a_new_accounts_first_commands_at_once_are_all_answered(tmp_path: Path,
                                                                      db: Database) -> None:
    async with running(make_config(tmp_path), db=db) as roadie:
        speaker = Speaker("console", "newcomer", "Newcomer", "test")
        replies = await asyncio.gather(*(roadie.run_text(speaker, "whoami") for _ in range(20)))
        assert {reply.as_text().split(",")[0] for reply in replies} == {
            "You are Newcomer on console"}
        identities = await db.run(lambda session: session.exec(
            select(ChatIdentity).where(ChatIdentity.user_id == "newcomer")).all())
        assert len(identities) == 1


async def test_many_people_at_once_each_get_their_own_answer(tmp_path: Path,
                                                             db: Database) -> None:
    async with running(make_config(tmp_path), db=db) as roadie:
        def link_all(session: Session) -> None:
            for index in range(30):
                link_directly(session, actor=Actor.system(), platform="console",
                              user_id=f"u{index}", display_name=f"User {index}",
                              login=f"user{index}", now=NOW)

        await db.run(link_all)
        replies = await asyncio.gather(*(
            roadie.run_text(Speaker("console", f"u{i}", f"User {i}", "test"), "whoami")
            for i in range(30)))
        for index, reply in enumerate(replies):
            assert reply.as_text().startswith(f"You are user{index} on GitHub.")


def test_the_profile_comes_in_one_query_with_roles_leads_and_links(db: Database) -> None:
    with db.transaction() as session:
        link_directly(session, actor=Actor.system(), platform="discord", user_id="1",
                      display_name="Carol", login="Carol", now=NOW)
        link_directly(session, actor=Actor.system(), platform="zulip", user_id="77",
                      display_name="Carol Z", login="carol", now=NOW)
        grant_role(session, actor=Actor.system(), login="carol", role=Role.MEMBER, now=NOW)
        grant_role(session, actor=Actor.system(), login="carol", role=Role.LEAD,
                   project="Django-Sample", now=NOW, reason="elected")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.connection() as connection:
            profile = speaker_profile(connection, "discord", "1", "Carol", NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert (profile.login, profile.role, profile.lead_of) == (
        "Carol", Role.LEAD, frozenset({"django-sample"}))
    assert profile.is_lead_of("django-sample")
    assert profile.accounts == (LinkedAccount("discord", "1", "Carol"),
                                LinkedAccount("zulip", "77", "Carol Z"))
    assert [s for s in statements if not s.startswith("BEGIN")] == [statements[-1]]
    with db.connection() as connection:
        renamed = speaker_profile(connection, "discord", "1", "Carol R.", NOW)
        assert renamed.accounts[0] == LinkedAccount("discord", "1", "Carol R.")
        assert replace(renamed, accounts=profile.accounts) == profile
        assert speaker_profile(connection, "discord", "2", "Dave", NOW).linked is False
    with db.transaction() as session:
        names = {i.user_id: i.display_name for i in session.exec(select(ChatIdentity)).all()}
    assert names == {"1": "Carol R.", "77": "Carol Z", "2": "Dave"}


async def test_whoami_lists_every_linked_account_from_one_query(tmp_path: Path,
                                                                db: Database) -> None:
    """With the database a round trip away, each statement a command waits for is one:
    /whoami needs only the profile, which carries the linked accounts."""
    def link_twice(session: Session) -> None:
        for platform, user_id, name in (("console", "c1", "Carol"), ("zulip", "77", "Carol Z")):
            link_directly(session, actor=Actor.system(), platform=platform, user_id=user_id,
                          display_name=name, login="carol", now=NOW)

    await db.run(link_twice)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    async with running(make_config(tmp_path), db=db) as roadie:
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            reply = await roadie.run_text(Speaker("console", "c1", "Carol", "test"), "whoami")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert "Linked chat accounts: console:Carol, zulip:Carol Z." in reply.as_text()
    # (Background work, the sender's and the worker's polls, runs meanwhile: not counted.)
    assert len([s for s in statements if "chat_identity" in s]) == 1
