"""Moderation cases on both databases, and the spam score as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from governance.audit import Actor, verify
from governance.db import Database
from governance.errors import Conflict, Forbidden
from governance.moderation import service as cases
from governance.moderation.models import (
    ACTIVE,
    BLOCKED,
    CANCELLED,
    FAILED,
    LAPSED,
    PENDING,
    UNBLOCKING,
    CaseAccount,
)
from governance.moderation.signals import Newcomer, Thresholds, score
from governance.moderation.subjects import Account, github_account

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BOB, DANA = Actor.github("bob"), Actor.github("dana")
POLICY = cases.RetryPolicy(timedelta(seconds=30), timedelta(minutes=5), give_up_after=4)
SAM = (github_account("Sam"), Account("discord", "2001", "sam"))


def opening(accounts: tuple[Account, ...] = SAM, **extra: object) -> cases.Opening:
    return cases.Opening(subject="Sam", accounts=accounts, reason="spam", **extra)  # type: ignore[arg-type]


def test_an_account_is_never_held_by_two_cases(db: Database) -> None:
    with db.transaction() as session:
        first = cases.open_case(session, actor=BOB, opening=opening(), now=NOW,
                                hold=timedelta(minutes=5))
    assert first.id == 1
    with db.transaction() as session, pytest.raises(Conflict) as taken:
        cases.open_case(session, actor=DANA, opening=opening((Account("discord", "2001"),)),
                        now=NOW, hold=timedelta())
    assert taken.value.reason == "Sam is already blocked by case #1."
    # The index itself, underneath the check:
    with db.transaction() as session:
        session.add(CaseAccount(case_id=1, platform="github", account="sam", state=PENDING))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    with db.transaction() as session:
        cases.lift_case(session, case=cases.get_case(session, 1), actor=DANA, reason="oops",
                        now=NOW)
    with db.transaction() as session:
        second = cases.open_case(session, actor=DANA, opening=opening(), now=NOW,
                                 hold=timedelta())
    assert second.id == 2
    with db.transaction() as session:
        assert verify(session).ok


def test_attempts_retry_with_backoff_then_give_up(db: Database) -> None:
    with db.transaction() as session:
        cases.open_case(session, actor=BOB, opening=opening((github_account("sam"),)), now=NOW,
                        hold=timedelta())
        account_id = cases.accounts_of(session, 1)[0].id
    assert account_id is not None
    down = cases.Attempt(ok=False, error="github answered: 502")
    moments = []
    for n in range(1, 5):
        with db.transaction() as session:
            due = cases.due_accounts(session, NOW + timedelta(hours=n))
            assert [row.id for row in due] == [account_id]
            row = cases.record_attempt(session, account_id=account_id, op=cases.BLOCK,
                                       attempt=down, now=NOW, policy=POLICY)
            assert row is not None
            moments.append(row.next_attempt_at)
    assert moments[:3] == [NOW + timedelta(seconds=30), NOW + timedelta(seconds=60),
                           NOW + timedelta(seconds=120)]
    assert moments[3] is None
    with db.transaction() as session:
        row = cases.accounts_of(session, 1)[0]
        assert row.state == FAILED
        assert row.last_error == "gave up after 4 attempts; the last: github answered: 502"
        assert cases.due_accounts(session, NOW + timedelta(days=1)) == []


def test_a_wait_asked_for_by_the_platform_is_kept() -> None:
    assert POLICY.wait(1, retry_after=90) == timedelta(seconds=90)
    assert POLICY.wait(10) == timedelta(minutes=5)


def test_a_block_done_after_its_case_was_lifted_is_undone(db: Database) -> None:
    with db.transaction() as session:
        cases.open_case(session, actor=BOB, opening=opening((github_account("sam"),)), now=NOW,
                        hold=timedelta(minutes=5))
        account_id = cases.accounts_of(session, 1)[0].id
        cases.lift_case(session, case=cases.get_case(session, 1), actor=DANA,
                        reason="wrong person", now=NOW)
        assert cases.accounts_of(session, 1)[0].state == CANCELLED
    assert account_id is not None
    with db.transaction() as session:
        row = cases.record_attempt(session, account_id=account_id, op=cases.BLOCK,
                                   attempt=cases.Attempt(ok=True), now=NOW, policy=POLICY)
        assert row is not None
        assert row.state == UNBLOCKING
        assert [r.id for r in cases.due_accounts(session, NOW)] == [account_id]


def test_a_newer_block_drops_an_older_lift_not_yet_done(db: Database) -> None:
    with db.transaction() as session:
        cases.open_case(session, actor=BOB, opening=opening((github_account("sam"),)), now=NOW,
                        hold=timedelta())
        row = cases.accounts_of(session, 1)[0]
        row.state = BLOCKED
        cases.lift_case(session, case=cases.get_case(session, 1), actor=DANA, reason="x",
                        now=NOW, hold=timedelta(minutes=5))
        assert cases.accounts_of(session, 1)[0].state == UNBLOCKING
        cases.open_case(session, actor=DANA, opening=opening((github_account("sam"),)), now=NOW,
                        hold=timedelta())
        assert cases.accounts_of(session, 1)[0].state == CANCELLED
        assert cases.accounts_of(session, 2)[0].state == PENDING


def test_confirmation_window_and_lapse(db: Database) -> None:
    with db.transaction() as session:
        case = cases.open_case(session, actor=BOB, now=NOW, hold=timedelta(),
                               opening=opening(confirm_within=timedelta(hours=24),
                                               duration=timedelta(days=7),
                                               standing="Sam is an org member"))
        assert case.expires_at == NOW + timedelta(days=7)
    with db.transaction() as session, pytest.raises(Forbidden):
        cases.confirm_case(session, number=1, actor=BOB, now=NOW, hold=timedelta())
    later = NOW + timedelta(hours=2)
    with db.transaction() as session:
        confirmed = cases.confirm_case(session, number=1, actor=DANA, now=later,
                                       hold=timedelta())
        assert confirmed.state == ACTIVE
        assert confirmed.expires_at == later + timedelta(days=7)
        assert cases.blocks_since(session, DANA, NOW) == 1  # confirmations count too
        assert cases.blocks_since(session, BOB, NOW) == 1
    with db.transaction() as session:
        cases.lift_case(session, case=cases.get_case(session, 1), actor=DANA, reason="x",
                        now=later)
        cases.open_case(session, actor=BOB, opening=opening(confirm_within=timedelta(hours=1)),
                        now=later, hold=timedelta())
    with db.transaction() as session:
        assert cases.lapse_due(session, later + timedelta(minutes=59)) == []
        lapsed = cases.lapse_due(session, later + timedelta(hours=1))
        assert [c.id for c in lapsed] == [2]
        assert lapsed[0].state == LAPSED
        assert cases.holding_case(session, SAM) is None


def test_expired_blocks_are_lifted_and_due(db: Database) -> None:
    with db.transaction() as session:
        cases.open_case(session, actor=BOB, opening=opening(duration=timedelta(hours=2)),
                        now=NOW, hold=timedelta())
        for row in cases.accounts_of(session, 1):
            row.state = BLOCKED
    with db.transaction() as session:
        assert cases.expire_due(session, NOW + timedelta(minutes=119)) == []
        expired = cases.expire_due(session, NOW + timedelta(hours=2))
        assert [(c.id, c.lift_reason, c.lifted_by) for c in expired] == [
            (1, cases.RAN_OUT, "roadie")]
        due = cases.due_accounts(session, NOW + timedelta(hours=2))
        assert sorted(r.platform for r in due) == ["discord", "github"]


THRESHOLDS = Thresholds(new_account_age=timedelta(days=30), min_public_repos=1,
                        min_followers=1, name_patterns=(r"(?i)crypto",), join_burst=5)


def test_the_spam_score() -> None:
    fresh = Newcomer(names=("hacktocat", "CryptoCat"), created_at=NOW - timedelta(days=2),
                     public_repos=0, followers=3, empty_profile=True, recent_joins=5)
    result = score(fresh, THRESHOLDS, NOW)
    assert [(s.name, s.points) for s in result.signals] == [
        ("new_account", 2), ("few_repos", 1), ("empty_profile", 1), ("name_pattern", 2),
        ("join_burst", 2)]
    assert result.points == 8
    assert result.summary() == ("account 2d old, no public repositories, empty profile, name "
                                "matches a spam pattern, one of 5 joins in a short time")
    # What is not known scores nothing.
    assert score(Newcomer(names=("someone",)), THRESHOLDS, NOW).points == 0
    old = Newcomer(names=("ada",), created_at=NOW - timedelta(days=3000), public_repos=1,
                   followers=1, empty_profile=False)
    assert score(old, THRESHOLDS, NOW).signals == ()
