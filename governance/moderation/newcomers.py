"""Newcomers: a new org member starts without standing, on probation.

Joining the org does not make someone a member of the cooperative at once: a spam account
that has just joined must not nominate, dispute, escalate or vote, nor need two moderators to
be blocked. The probation ends when its time is up, or when enough members vouch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.errors import Conflict, Forbidden, Refusal
from governance.moderation.models import Newcomer
from governance.people.roles import Role
from governance.people.service import Profile, normalize_login

TIME, VOUCHED, LEFT = "time", "vouched", "left"


def target(login: str) -> str:
    return f"github:{login}"


def find(session: Session, login: str, *, lock: bool = False) -> Newcomer | None:
    query = select(Newcomer).where(Newcomer.login == login.lower())
    return session.exec(query.with_for_update() if lock else query).first()


def on_probation(session: Session, login: str) -> Newcomer | None:
    """The newcomer's open probation, or None (never on one, or it has ended)."""
    found = find(session, login)
    return found if found is not None and found.ended_at is None else None


def arrive(session: Session, *, login: str, now: datetime, probation: timedelta) -> Newcomer:
    """Someone joined the org: their probation starts (again, if they had left)."""
    login = normalize_login(login)
    newcomer = find(session, login, lock=True)
    if newcomer is None:
        newcomer = Newcomer(login=login.lower(), display_login=login, joined_at=now)
        session.add(newcomer)
    elif newcomer.ended_at is None:
        return newcomer  # the same join delivered again
    newcomer.joined_at, newcomer.until, newcomer.vouched_by = now, now + probation, ""
    newcomer.ended_at, newcomer.ended_how = None, ""
    session.flush()
    record(session, actor=Actor.system(), action="newcomer.arrive", target=target(login),
           at=now, data={"until": newcomer.until})
    return newcomer


def _end(session: Session, newcomer: Newcomer, how: str, now: datetime, actor: Actor) -> None:
    newcomer.until, newcomer.ended_at, newcomer.ended_how = None, now, how
    record(session, actor=actor, action="newcomer.end", target=target(newcomer.display_login),
           at=now, reason=how, data={"vouched_by": newcomer.vouchers})


def vouch(session: Session, *, login: str, voucher: Profile, now: datetime,
          needed: int) -> tuple[Newcomer, bool]:
    """A member vouches for a newcomer; (the newcomer, whether the probation ended)."""
    login = normalize_login(login)
    if not voucher.at_least(Role.MEMBER) or voucher.login is None:
        raise Forbidden("Only members vouch for newcomers.",
                        "`/whoami` shows your roles; members can vouch once their own "
                        "probation is over.")
    if voucher.login.lower() == login.lower():
        raise Refusal("You cannot vouch for yourself.", "Ask a member who knows your work.")
    newcomer = find(session, login, lock=True)
    if newcomer is None or newcomer.ended_at is not None:
        raise Conflict(f"{login} is not on probation, so there is nothing to vouch for.",
                       "Only people who joined the org lately are on probation; "
                       "`/whoami` and `/roles member` show who is a member.")
    if voucher.login.lower() in newcomer.vouchers:
        raise Conflict(f"You have vouched for {newcomer.display_login} already.",
                       f"{len(newcomer.vouchers)} of {needed} vouches so far.")
    newcomer.vouched_by = ",".join([*newcomer.vouchers, voucher.login.lower()])
    record(session, actor=voucher.actor(), action="newcomer.vouch",
           target=target(newcomer.display_login), at=now)
    ended = len(newcomer.vouchers) >= needed
    if ended:
        _end(session, newcomer, VOUCHED, now, voucher.actor())
    return newcomer, ended


def left(session: Session, *, login: str, now: datetime) -> None:
    newcomer = find(session, login, lock=True)
    if newcomer is not None and newcomer.ended_at is None:
        _end(session, newcomer, LEFT, now, Actor.system())


def due(session: Session, now: datetime, limit: int = 200) -> list[int]:
    return [i for i in session.exec(
        select(Newcomer.id).where(col(Newcomer.until) <= now)
        .order_by(col(Newcomer.until)).limit(limit)).all() if i is not None]


def end_due(session: Session, newcomer_id: int, now: datetime) -> Newcomer | None:
    """End a probation whose time is up (once); None when it is not due any more."""
    newcomer = session.exec(select(Newcomer).where(Newcomer.id == newcomer_id)
                            .with_for_update()).first()
    if newcomer is None or newcomer.until is None or newcomer.until > now:
        return None
    _end(session, newcomer, TIME, now, Actor.system())
    return newcomer
