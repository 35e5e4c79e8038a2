"""Cases: open, confirm, record each platform's outcome, lift, amend, appeal; and the queries.

Record first, then act: a case and its accounts are written before any platform is called.
An account due for an attempt has `next_attempt_at` set; whoever attempts it first moves that
time forward (a claim), so that two replicas never call a platform for the same account at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.errors import Conflict, Forbidden, NotFound, Refusal
from governance.moderation.models import (
    ACTIVE,
    AWAITING,
    BLOCKED,
    CANCELLED,
    FAILED,
    HELD,
    LAPSED,
    LIFTED,
    LIFTED_ACCOUNT,
    PENDING,
    REFUSED,
    TO_DO,
    UNBLOCK_FAILED,
    UNBLOCKING,
    CaseAccount,
    CaseAmendment,
    CaseAppeal,
    ModerationCase,
)
from governance.moderation.subjects import Account

BLOCK, UNBLOCK = "block", "unblock"
RAN_OUT = "its time ran out"
"""The lift reason of a timed block that lifted itself."""


def case_target(number: int) -> str:
    return f"case:{number}"


# --- opening and confirming ---------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """What a new case asks for."""

    subject: str
    accounts: tuple[Account, ...]
    reason: str
    scope: str = "all"
    delete_message_days: int = 0
    duration: timedelta | None = None
    confirm_within: timedelta | None = None
    """Set when a second moderator must confirm, within this time."""
    standing: str = ""
    """Why the target has standing (what made a confirmation necessary)."""


def _any_of(keys: Sequence[tuple[str, str]]) -> Any:
    """A condition matching CaseAccount rows of any of these (platform, account) pairs."""
    return or_(*[(CaseAccount.platform == p) & (CaseAccount.account == a) for p, a in keys])


def holding_case(session: Session, accounts: Iterable[Account]) -> ModerationCase | None:
    """The case that holds any of these accounts now, if one does."""
    keys = [a.key for a in accounts]
    if not keys:
        return None
    held = session.exec(
        select(CaseAccount).where(col(CaseAccount.released_at).is_(None),
                                  _any_of(keys))
    ).first()
    return session.get(ModerationCase, held.case_id) if held is not None else None


def _refuse_held(case: ModerationCase, subject: str) -> Refusal:
    if case.state == AWAITING:
        return Conflict(f"{subject} is already in case #{case.id}, which waits for a second "
                        "moderator.", f"Another moderator confirms it with `/block confirm "
                        f"{case.id}`; `/case {case.id}` shows it.")
    return Conflict(f"{subject} is already blocked by case #{case.id}.",
                    f"`/case {case.id}` shows it; to change it, `/unblock {subject} <reason>` "
                    "first and block again.")


def open_case(session: Session, *, actor: Actor, opening: Opening, now: datetime,
              hold: timedelta) -> ModerationCase:
    """Write a case and the accounts it holds. Unless it waits for a confirmation, its
    accounts are claimed for `hold` by the caller, who attempts them at once."""
    if not opening.reason.strip():
        raise Refusal("A block needs a reason.", "Add it after the target: "
                      "`/block <target> <reason>`.")
    if not opening.accounts:
        raise Refusal(f"There is nothing to block for {opening.subject}.")
    existing = holding_case(session, opening.accounts)
    if existing is not None:
        raise _refuse_held(existing, opening.subject)
    awaiting = opening.confirm_within is not None
    case = ModerationCase(
        subject=opening.subject, actor=actor.name, reason=opening.reason.strip(),
        state=AWAITING if awaiting else ACTIVE, created_at=now, scope=opening.scope,
        delete_message_days=opening.delete_message_days,
        expires_at=now + opening.duration if opening.duration else None,
        standing=opening.standing,
        confirm_by=now + opening.confirm_within if opening.confirm_within else None)
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
            assert case.id is not None
            _supersede_lifts(session, opening.accounts)
            for account in opening.accounts:
                session.add(CaseAccount(
                    case_id=case.id, platform=account.platform, account=account.account,
                    display=account.display, state=HELD if awaiting else PENDING,
                    next_attempt_at=None if awaiting else now + hold))
            session.flush()
    except IntegrityError:
        # Another moderator blocked one of the accounts at the same moment.
        other = holding_case(session, opening.accounts)
        if other is not None:
            raise _refuse_held(other, opening.subject) from None
        raise Conflict(f"{opening.subject} was just blocked by someone else.",
                       f"`/cases {opening.subject}` shows it.") from None
    record(session, actor=actor, action="moderation.block", target=case_target(case.id),
           at=now, reason=case.reason,
           data={"subject": case.subject, "accounts": [a.label for a in opening.accounts],
                 "scope": case.scope, "awaiting": awaiting, "standing": case.standing,
                 "expires_at": case.expires_at, "delete_message_days": case.delete_message_days})
    return case


def _supersede_lifts(session: Session, accounts: Sequence[Account]) -> None:
    """A lift not yet done of an account blocked anew is dropped: it would undo the new block."""
    for account in accounts:
        session.execute(
            update(CaseAccount)
            .where(CaseAccount.platform == account.platform,
                   CaseAccount.account == account.account, CaseAccount.state == UNBLOCKING)
            .values(state=CANCELLED, next_attempt_at=None,
                    last_error="blocked again by a newer case"))


def get_case(session: Session, number: int, *, lock: bool = False) -> ModerationCase:
    query = select(ModerationCase).where(ModerationCase.id == number)
    case = session.exec(query.with_for_update() if lock else query).first()
    if case is None:
        raise NotFound(f"There is no case #{number}.",
                       "`/cases <target>` or `/cases by <moderator>` find case numbers.")
    return case


def confirm_case(session: Session, *, number: int, actor: Actor, now: datetime,
                 hold: timedelta) -> ModerationCase:
    """A second moderator agrees: the case becomes active and its accounts are claimed."""
    case = get_case(session, number, lock=True)
    if case.state != AWAITING:
        raise Conflict(f"Case #{number} does not wait for a confirmation (it is {case.state}"
                       + (f", confirmed by {case.confirmed_by}" if case.confirmed_by else "")
                       + ").", f"`/case {number}` shows it.")
    if case.actor == actor.name:
        raise Forbidden(f"You opened case #{number}; a second moderator must confirm it.",
                        "Ask another moderator in the moderators channel.")
    if case.confirm_by is not None and now >= case.confirm_by:
        raise Conflict(f"Case #{number} could be confirmed only until "
                       f"{case.confirm_by:%Y-%m-%d %H:%M} UTC.",
                       f"Block again: `/block {case.subject} <reason>`.")
    if case.expires_at is not None:
        case.expires_at = now + (case.expires_at - case.created_at)
    case.state, case.confirmed_by, case.confirmed_at = ACTIVE, actor.name, now
    for row in accounts_of(session, number):
        if row.state == HELD:
            row.state, row.next_attempt_at = PENDING, now + hold
    record(session, actor=actor, action="moderation.confirm", target=case_target(number),
           at=now, data={"opened_by": case.actor})
    return case


def _due_cases(session: Session, state: str, due_at: Any, now: datetime) -> list[ModerationCase]:
    """Cases in `state` whose time in column `due_at` has come, locked."""
    return list(session.exec(
        select(ModerationCase).where(ModerationCase.state == state, due_at <= now)
        .with_for_update()
    ).all())


def lapse_due(session: Session, now: datetime) -> list[ModerationCase]:
    """Cases nobody confirmed in time: nothing was blocked, and their accounts are free."""
    cases = _due_cases(session, AWAITING, col(ModerationCase.confirm_by), now)
    for case in cases:
        assert case.id is not None
        case.state = LAPSED
        for row in accounts_of(session, case.id):
            row.state, row.released_at = CANCELLED, now
        record(session, actor=Actor.system(), action="moderation.lapse",
               target=case_target(case.id), at=now, reason="no second moderator confirmed it")
    return cases


# --- lifting ------------------------------------------------------------------------------


def lift_case(session: Session, *, case: ModerationCase, actor: Actor, reason: str,
              now: datetime, hold: timedelta = timedelta()) -> list[CaseAccount]:
    """Undo a case; return the accounts to unblock (claimed for `hold` from now)."""
    assert case.id is not None
    if case.state not in (ACTIVE, AWAITING):
        raise Conflict(f"Case #{case.id} is {case.state}; there is nothing to lift.")
    case.state, case.lifted_at, case.lifted_by, case.lift_reason = LIFTED, now, actor.name, reason
    to_undo = []
    for row in accounts_of(session, case.id):
        row.released_at = now
        if row.state == BLOCKED:
            row.state, row.next_attempt_at, row.attempts = UNBLOCKING, now + hold, 0
            to_undo.append(row)
        elif row.state in (HELD, PENDING, FAILED):
            # Not blocked (yet): an attempt still running sees CANCELLED and undoes its block.
            row.state, row.next_attempt_at = CANCELLED, None
    record(session, actor=actor, action="moderation.lift", target=case_target(case.id), at=now,
           reason=reason, data={"accounts": [f"{r.platform}:{r.account}" for r in to_undo]})
    return to_undo


def retry_failed_lifts(session: Session, *, accounts: Iterable[Account], actor: Actor,
                       reason: str, now: datetime, hold: timedelta) -> list[CaseAccount]:
    """Try again to unblock accounts whose lift a platform had refused."""
    keys = [a.key for a in accounts]
    if not keys:
        return []
    rows = list(session.exec(
        select(CaseAccount).where(CaseAccount.state == UNBLOCK_FAILED,
                                  _any_of(keys)).with_for_update()
    ).all())
    for row in rows:
        row.state, row.next_attempt_at, row.attempts = UNBLOCKING, now + hold, 0
        record(session, actor=actor, action="moderation.lift.retry",
               target=case_target(row.case_id), at=now, reason=reason,
               data={"platform": row.platform, "account": row.account})
    return rows


def expire_due(session: Session, now: datetime) -> list[ModerationCase]:
    """Timed blocks whose time ran out, lifted; their accounts are due for unblocking now."""
    cases = _due_cases(session, ACTIVE, col(ModerationCase.expires_at), now)
    for case in cases:
        lift_case(session, case=case, actor=Actor.system(), reason=RAN_OUT, now=now)
    return cases


# --- attempts and their outcomes ------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    first_wait: timedelta
    max_wait: timedelta
    give_up_after: int

    def wait(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1 for the first)."""
        backoff = min(self.first_wait * 2 ** max(attempts - 1, 0), self.max_wait)
        if retry_after is not None:
            backoff = max(backoff, timedelta(seconds=retry_after))
        return backoff


@dataclass(frozen=True)
class Attempt:
    """What a platform answered: done, refused for good, or worth trying again."""

    ok: bool
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None
    note: str = ""


def due_accounts(session: Session, now: datetime, limit: int = 100) -> list[CaseAccount]:
    return list(session.exec(
        select(CaseAccount).where(col(CaseAccount.state).in_(TO_DO),
                                  col(CaseAccount.next_attempt_at) <= now)
        .order_by(col(CaseAccount.next_attempt_at), col(CaseAccount.id)).limit(limit)
    ).all())


def claim(session: Session, account_id: int, *, now: datetime,
          hold: timedelta) -> CaseAccount | None:
    """Take an account that is due, for `hold`; None when it is not due or someone has it."""
    result = session.execute(
        update(CaseAccount)
        .where(col(CaseAccount.id) == account_id, col(CaseAccount.state).in_(TO_DO),
               col(CaseAccount.next_attempt_at) <= now)
        .values(next_attempt_at=now + hold))
    if not getattr(result, "rowcount", 0):
        return None
    return session.get(CaseAccount, account_id, populate_existing=True)


def record_attempt(session: Session, *, account_id: int, op: str, attempt: Attempt,
                   now: datetime, policy: RetryPolicy) -> CaseAccount | None:
    """Write what a platform answered; return the account if its state changed."""
    row = session.exec(
        select(CaseAccount).where(CaseAccount.id == account_id).with_for_update()).first()
    if row is None:
        return None
    expected = PENDING if op == BLOCK else UNBLOCKING
    if row.state == CANCELLED and op == BLOCK and attempt.ok:
        # The case was lifted while the block was under way: undo it now.
        row.state, row.next_attempt_at, row.blocked_at, row.attempts = UNBLOCKING, now, now, 0
        _audit_outcome(session, row, op, "blocked after the case was lifted; undoing", now)
        return row
    if row.state != expected:
        return None
    row.attempts += 1
    row.last_error = attempt.error
    if attempt.ok:
        row.state, row.next_attempt_at = (BLOCKED, None) if op == BLOCK else (LIFTED_ACCOUNT, None)
        if op == BLOCK:
            row.blocked_at = now
        else:
            row.unblocked_at = now
        row.last_error = attempt.note
    elif attempt.permanent or row.attempts >= policy.give_up_after:
        row.state = FAILED if op == BLOCK else UNBLOCK_FAILED
        row.next_attempt_at = None
        if not attempt.permanent:
            row.last_error = f"gave up after {row.attempts} attempts; the last: {attempt.error}"
    else:
        row.next_attempt_at = now + policy.wait(row.attempts, attempt.retry_after)
    _audit_outcome(session, row, op, row.last_error, now)
    if row.state == FAILED:
        _close_if_nothing_blocked(session, row.case_id, now)
    return row


def _close_if_nothing_blocked(session: Session, case_id: int, now: datetime) -> None:
    """A case whose every account was refused (or given up) blocks nothing: it is closed as
    refused, its accounts are free again, and it does not count against the rate limit."""
    case = get_case(session, case_id, lock=True)
    rows = accounts_of(session, case_id)
    if case.state != ACTIVE or any(r.state not in (FAILED, CANCELLED) for r in rows):
        return
    case.state = REFUSED
    for row in rows:
        row.released_at = row.released_at or now
    record(session, actor=Actor.system(), action="moderation.refused",
           target=case_target(case_id), at=now,
           reason="; ".join(r.last_error for r in rows if r.last_error))


def _audit_outcome(session: Session, row: CaseAccount, op: str, detail: str,
                   now: datetime) -> None:
    record(session, actor=Actor.system(), action=f"moderation.{op}.{row.state}",
           target=case_target(row.case_id), at=now, reason=detail,
           data={"platform": row.platform, "account": row.account, "attempts": row.attempts,
                 "next_attempt_at": row.next_attempt_at})


# --- amendments and appeals -----------------------------------------------------------------


def amend_reason(session: Session, *, number: int, actor: Actor, reason: str,
                 now: datetime) -> CaseAmendment:
    reason = reason.strip()
    if not reason:
        raise Refusal("The new reason is empty.", f"`/case {number} reason <the new reason>`.")
    case = get_case(session, number, lock=True)
    if case.reason == reason:
        raise Conflict(f"Case #{number} already has that reason.")
    amendment = CaseAmendment(case_id=number, at=now, amended_by=actor.name,
                              old_reason=case.reason, new_reason=reason)
    session.add(amendment)
    case.reason = reason
    record(session, actor=actor, action="moderation.amend", target=case_target(number), at=now,
           reason=reason, data={"old_reason": amendment.old_reason})
    return amendment


def record_appeal(session: Session, *, number: int, actor: Actor, outcome: str,
                  now: datetime) -> CaseAppeal:
    outcome = outcome.strip()
    if not outcome:
        raise Refusal("Say what came of the appeal.",
                      f"`/case {number} appeal <outcome>`, e.g. `denied: spam links`.")
    get_case(session, number)
    appeal = CaseAppeal(case_id=number, at=now, recorded_by=actor.name, outcome=outcome)
    session.add(appeal)
    record(session, actor=actor, action="moderation.appeal", target=case_target(number),
           at=now, reason=outcome)
    return appeal


def record_refusal(session: Session, *, actor: Actor, subject: str, command: str, reason: str,
                   now: datetime) -> None:
    """A refused moderation request leaves a trace, though it changed nothing else."""
    record(session, actor=actor, action="moderation.refuse", target=f"subject:{subject}",
           at=now, reason=reason, data={"command": command})


# --- queries ------------------------------------------------------------------------------


def accounts_of(session: Session, number: int) -> list[CaseAccount]:
    return list(session.exec(
        select(CaseAccount).where(CaseAccount.case_id == number).order_by(col(CaseAccount.id))
    ).all())


def amendments_of(session: Session, number: int) -> list[CaseAmendment]:
    return list(session.exec(
        select(CaseAmendment).where(CaseAmendment.case_id == number)
        .order_by(col(CaseAmendment.id))
    ).all())


def appeals_of(session: Session, number: int) -> list[CaseAppeal]:
    return list(session.exec(
        select(CaseAppeal).where(CaseAppeal.case_id == number).order_by(col(CaseAppeal.id))
    ).all())


def cases_for(session: Session, accounts: Iterable[Account],
              limit: int = 25) -> list[ModerationCase]:
    """Cases that touched any of these accounts, newest first."""
    keys = [a.key for a in accounts]
    if not keys:
        return []
    ids = select(CaseAccount.case_id).where(
        _any_of(keys))
    return list(session.exec(
        select(ModerationCase).where(col(ModerationCase.id).in_(ids))
        .order_by(col(ModerationCase.id).desc()).limit(limit)
    ).all())


def cases_by(session: Session, actor: Actor, limit: int = 25) -> list[ModerationCase]:
    """Cases a moderator opened or confirmed, newest first."""
    return list(session.exec(
        select(ModerationCase)
        .where(or_(func.lower(ModerationCase.actor) == actor.name.lower(),
                   func.lower(ModerationCase.confirmed_by) == actor.name.lower()))
        .order_by(col(ModerationCase.id).desc()).limit(limit)
    ).all())


def awaiting_cases(session: Session) -> list[ModerationCase]:
    return list(session.exec(
        select(ModerationCase).where(ModerationCase.state == AWAITING)
        .order_by(col(ModerationCase.id))
    ).all())


def _blocked_since(since: datetime) -> Any:
    """Blocks opened or confirmed since a moment (not those that lapsed)."""
    return (or_(col(ModerationCase.created_at) >= since,
                col(ModerationCase.confirmed_at) >= since)
            & (col(ModerationCase.state) != LAPSED))


def cases_since(session: Session, since: datetime) -> list[ModerationCase]:
    """Blocks opened or confirmed since a moment (not those that lapsed), oldest first."""
    return list(session.exec(select(ModerationCase).where(_blocked_since(since))
                             .order_by(col(ModerationCase.id))).all())


def count_cases_since(session: Session, since: datetime) -> int:
    """How many cases `cases_since` holds, without reading them."""
    return session.exec(select(func.count()).select_from(ModerationCase)
                        .where(_blocked_since(since))).one()


def blocks_since(session: Session, actor: Actor, since: datetime) -> int:
    """How many blocks an actor opened or confirmed since a moment: the rate limit's count."""
    opened = session.exec(
        select(func.count()).select_from(ModerationCase)
        .where(ModerationCase.actor == actor.name, col(ModerationCase.created_at) >= since,
               ModerationCase.state != REFUSED)
    ).one()
    confirmed = session.exec(
        select(func.count()).select_from(ModerationCase)
        .where(ModerationCase.confirmed_by == actor.name,
               col(ModerationCase.confirmed_at) >= since, ModerationCase.state != REFUSED)
    ).one()
    return int(opened) + int(confirmed)


def oldest_block_since(session: Session, actor: Actor, since: datetime) -> datetime | None:
    """When the oldest block counted by `blocks_since` was made (the limit frees up after)."""
    opened = session.exec(
        select(func.min(ModerationCase.created_at))
        .where(ModerationCase.actor == actor.name, col(ModerationCase.created_at) >= since,
               ModerationCase.state != REFUSED)
    ).one()
    confirmed = session.exec(
        select(func.min(ModerationCase.confirmed_at))
        .where(ModerationCase.confirmed_by == actor.name,
               col(ModerationCase.confirmed_at) >= since, ModerationCase.state != REFUSED)
    ).one()
    found = [t for t in (opened, confirmed) if t is not None]
    return min(found) if found else None
