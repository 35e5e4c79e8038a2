"""People, roles and the proof of a link."""

from __future__ import annotations

from datetime import timedelta

import pytest

from governance.audit import Actor, history, verify
from governance.clock import FakeClock
from governance.db import Database
from governance.errors import Conflict, Forbidden, NotFound, Refusal
from governance.people import service as people
from governance.people.roles import Role

ADMIN = Actor.github("alice")


def _seed(db: Database, clock: FakeClock) -> None:
    with db.transaction() as session:
        people.sync_config_roles(session, {Role.ADMIN: ["alice"], Role.MODERATOR: ["Bob"]},
                                 clock.now())


def test_config_seeds_roles_and_removal_revokes(db: Database, clock: FakeClock) -> None:
    _seed(db, clock)
    with db.transaction() as session:
        assert people.profile_for_login(session, "bob").role is Role.MODERATOR
        assert people.profile_for_login(session, "BOB").login == "Bob"
        people.sync_config_roles(session, {Role.ADMIN: ["alice"], Role.MODERATOR: []},
                                 clock.now())
    with db.transaction() as session:
        assert people.profile_for_login(session, "bob").role is Role.ANYONE
        assert verify(session).ok


def test_seeding_twice_changes_nothing(db: Database, clock: FakeClock) -> None:
    _seed(db, clock)
    with db.transaction() as session:
        before = verify(session).checked
    _seed(db, clock)
    with db.transaction() as session:
        assert verify(session).checked == before


def test_grant_and_revoke_are_audited(db: Database, clock: FakeClock) -> None:
    _seed(db, clock)
    with db.transaction() as session:
        people.grant_role(session, actor=ADMIN, login="carol", role=Role.LEAD,
                          project="Django-Foo", now=clock.now(), reason="voted")
    with db.transaction() as session:
        profile = people.profile_for_login(session, "carol")
        assert profile.is_lead_of("django-foo")
        assert profile.role is Role.LEAD
        with pytest.raises(Conflict, match="already lead of django-foo"):
            people.grant_role(session, actor=ADMIN, login="carol", role=Role.LEAD,
                              project="django-foo", now=clock.now())
    with db.transaction() as session:
        people.revoke_role(session, actor=ADMIN, login="carol", role=Role.LEAD,
                           project="django-foo", now=clock.now())
    with db.transaction() as session:
        assert people.profile_for_login(session, "carol").role is Role.ANYONE
        actions = [e.action for e in history(session, action_prefix="role.")]
    assert actions[-2:] == ["role.grant", "role.revoke"]


def test_refusals_say_how(db: Database, clock: FakeClock) -> None:
    _seed(db, clock)
    with db.transaction() as session:
        with pytest.raises(Refusal, match="Name the project"):
            people.grant_role(session, actor=ADMIN, login="carol", role=Role.LEAD,
                              now=clock.now())
        with pytest.raises(Forbidden, match="comes from the config file"):
            people.revoke_role(session, actor=ADMIN, login="bob", role=Role.MODERATOR,
                               now=clock.now())
        with pytest.raises(NotFound, match="does not hold"):
            people.revoke_role(session, actor=ADMIN, login="zed", role=Role.ADMIN,
                               now=clock.now())
        with pytest.raises(Refusal, match="is not a GitHub login"):
            people.grant_role(session, actor=ADMIN, login="not a login", role=Role.MEMBER,
                              now=clock.now())


def test_the_last_admin_cannot_be_revoked(db: Database, clock: FakeClock) -> None:
    with db.transaction() as session:
        people.grant_role(session, actor=ADMIN, login="alice", role=Role.ADMIN, now=clock.now())
    with db.transaction() as session, pytest.raises(Forbidden, match="without an admin"):
        people.revoke_role(session, actor=ADMIN, login="alice", role=Role.ADMIN, now=clock.now())


def test_a_link_is_proven_by_a_comment_from_that_login(db: Database, clock: FakeClock) -> None:
    with db.transaction() as session:
        code = people.start_link(session, platform="discord", user_id="42",
                                 display_name="Carol", login="carol", now=clock.now(),
                                 ttl=timedelta(hours=24)).code
    with db.transaction() as session:
        assert people.profile_for_chat(session, "discord", "42").linked is False
        # Someone else posting the code proves nothing.
        assert people.confirm_link_by_comment(session, commenter="mallory",
                                              body=f"hi {code}", now=clock.now()) == []
        linked = people.confirm_link_by_comment(session, commenter="Carol",
                                                body=f"my code: {code}", now=clock.now())
    assert [i.user_id for i in linked] == ["42"]
    with db.transaction() as session:
        assert people.profile_for_chat(session, "discord", "42").login == "carol"
        # A code works once.
        assert people.confirm_link_by_comment(session, commenter="carol", body=code,
                                              now=clock.now()) == []


def test_an_expired_code_proves_nothing(db: Database, clock: FakeClock) -> None:
    with db.transaction() as session:
        code = people.start_link(session, platform="zulip", user_id="7", display_name="",
                                 login="dave", now=clock.now(), ttl=timedelta(hours=1)).code
    clock.advance(timedelta(hours=2))
    with db.transaction() as session:
        assert people.confirm_link_by_comment(session, commenter="dave", body=code,
                                              now=clock.now()) == []
        with pytest.raises(Conflict, match="expired"):
            people.confirm_link_by_admin(session, actor=ADMIN, code=code, login="dave",
                                         now=clock.now())


def test_a_quoted_code_proves_nothing(db: Database, clock: FakeClock) -> None:
    # Mallory claims alice's login; alice quote-replies Mallory's comment that holds the code.
    with db.transaction() as session:
        code = people.start_link(session, platform="zulip", user_id="66", display_name="M",
                                 login="alice", now=clock.now(), ttl=timedelta(hours=1)).code
    quoted = [f"> {code}\n\nWhat is this?", f"  > see:\n{code}\n\nNo.",
              f"> > {code}", f"Replying:\n>Mallory wrote\n> {code}"]
    with db.transaction() as session:
        for body in quoted:
            assert people.confirm_link_by_comment(session, commenter="alice", body=body,
                                                  now=clock.now()) == []
        assert people.profile_for_chat(session, "zulip", "66").linked is False
        linked = people.confirm_link_by_comment(session, commenter="alice",
                                                body=f"> a quote\n\nmine: {code}",
                                                now=clock.now())
    assert [i.user_id for i in linked] == ["66"]


def test_an_admin_confirms_only_the_pair_the_code_claims(db: Database,
                                                         clock: FakeClock) -> None:
    with db.transaction() as session:
        code = people.start_link(session, platform="zulip", user_id="66", display_name="M",
                                 login="alice", now=clock.now(), ttl=timedelta(hours=1)).code
    with db.transaction() as session, pytest.raises(Conflict, match="claims the GitHub login "
                                                                    "alice, not mallory"):
        people.confirm_link_by_admin(session, actor=ADMIN, code=code, login="mallory",
                                     now=clock.now())
    with db.transaction() as session:
        assert people.profile_for_chat(session, "zulip", "66").linked is False
    clock.advance(timedelta(hours=2))
    with db.transaction() as session, pytest.raises(Conflict, match="expired at 20"):
        people.confirm_link_by_admin(session, actor=ADMIN, code=code, login="alice",
                                     now=clock.now())


def test_one_person_on_two_platforms(db: Database, clock: FakeClock) -> None:
    with db.transaction() as session:
        for platform, user_id in (("discord", "1"), ("zulip", "2")):
            code = people.start_link(session, platform=platform, user_id=user_id,
                                     display_name="", login="erin", now=clock.now(),
                                     ttl=timedelta(hours=1)).code
            people.confirm_link_by_admin(session, actor=ADMIN, code=code, login="erin",
                                         now=clock.now())
    with db.transaction() as session:
        a = people.profile_for_chat(session, "discord", "1")
        b = people.profile_for_chat(session, "zulip", "2")
        assert a.person_id == b.person_id is not None
        assert people.chat_ids_for_logins(session, "zulip", ["Erin"]) == {"erin": "2"}
