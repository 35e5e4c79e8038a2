"""Appeals: a blocked person asks the moderators to look again; the decision is recorded in
the case (and told to the person by the cog).

One open appeal per case at a time; an appeal filed on GitHub is idempotent per issue, so a
redelivered webhook files nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.errors import Conflict, NotFound, Refusal
from governance.moderation.models import ACTIVE, AppealRequest, CaseAppeal, ModerationCase
from governance.moderation.service import case_target, get_case, holding_case
from governance.moderation.subjects import GITHUB, resolve

OPEN, UPHELD, LIFTED = "open", "upheld", "lifted"
DECISIONS = {"uphold": UPHELD, "lift": LIFTED}
MAX_TEXT = 4000


def case_of(session: Session, platform: str, account: str) -> ModerationCase | None:
    """The active case that holds any account of this person (by any linked identity)."""
    return holding_case(session, resolve(session, platform, account).accounts)


def by_issue(session: Session, repo: str, number: int) -> AppealRequest | None:
    return session.exec(select(AppealRequest).where(AppealRequest.issue_repo == repo.lower(),
                                                    AppealRequest.issue_number == number)
                        ).first()


def open_appeal(session: Session, case_id: int, *, lock: bool = False) -> AppealRequest | None:
    query = (select(AppealRequest).where(AppealRequest.case_id == case_id,
                                         AppealRequest.state == OPEN)
             .order_by(col(AppealRequest.id).desc()))
    return session.exec(query.with_for_update() if lock else query).first()


def queue(session: Session) -> list[tuple[AppealRequest, ModerationCase]]:
    """The open appeals, oldest first, with their cases."""
    rows = session.exec(
        select(AppealRequest, ModerationCase)
        .join(ModerationCase, col(ModerationCase.id) == AppealRequest.case_id)
        .where(AppealRequest.state == OPEN).order_by(col(AppealRequest.id))).all()
    return [(appeal, case) for appeal, case in rows]


def file(session: Session, *, case: ModerationCase, appellant: str, via: str, text: str,
         now: datetime, issue_repo: str | None = None, issue_number: int | None = None,
         issue_url: str = "") -> AppealRequest:
    """Put an appeal in the queue; a refusal when the case has one waiting or holds nothing."""
    assert case.id is not None
    text = text.strip()[:MAX_TEXT]
    if not text:
        raise Refusal("The appeal is empty.", "Say why the block should be lifted: "
                                              "`/appeal <why>`.")
    if case.state != ACTIVE:
        raise Conflict(f"Case #{case.id} is {case.state}: there is no block to appeal.")
    waiting = open_appeal(session, case.id)
    if waiting is not None:
        raise Conflict(f"An appeal against case #{case.id} is already waiting for the "
                       f"moderators (filed {waiting.filed_at:%Y-%m-%d}).",
                       "You are told when they decide.")
    appeal = AppealRequest(case_id=case.id, appellant=appellant, via=via, text=text,
                           filed_at=now, issue_repo=issue_repo.lower() if issue_repo else None,
                           issue_number=issue_number, issue_url=issue_url)
    session.add(appeal)
    session.flush()
    record(session, actor=Actor.github(appellant), action="moderation.appeal.file",
           target=case_target(case.id), at=now, reason=text,
           data={"via": via, "issue": issue_url})
    return appeal


def decide(session: Session, *, case_id: int, decision: str, reason: str, actor: Actor,
           now: datetime) -> tuple[AppealRequest, ModerationCase]:
    """Record a moderator's decision on the case's open appeal (uphold or lift)."""
    state = DECISIONS.get(decision.strip().lower())
    if state is None:
        raise Refusal(f"{decision!r} is not a decision.",
                      f"`/appeal decide {case_id} uphold <reason>` keeps the block; "
                      f"`/appeal decide {case_id} lift <reason>` lifts it.")
    reason = reason.strip()
    if not reason:
        raise Refusal("A decision needs a reason: the person reads it.",
                      f"`/appeal decide {case_id} {decision} <reason>`.")
    case = get_case(session, case_id)
    appeal = open_appeal(session, case_id, lock=True)
    if appeal is None:
        raise NotFound(f"No appeal against case #{case_id} is waiting.",
                       "`/appeals` lists the appeals that are.")
    appeal.state, appeal.decided_at, appeal.decided_by = state, now, actor.name
    appeal.decision = reason
    session.add(CaseAppeal(case_id=case_id, at=now, recorded_by=actor.name,
                           outcome=f"{state}: {reason}"))
    record(session, actor=actor, action=f"moderation.appeal.{state}",
           target=case_target(case_id), at=now, reason=reason,
           data={"appellant": appeal.appellant, "via": appeal.via})
    return appeal, case


def github_case(session: Session, login: str) -> ModerationCase | None:
    return case_of(session, GITHUB, login.lower())
