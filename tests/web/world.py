"""A small cooperative for the public pages' tests, made through the governance services,
with private data of every kind planted in it (each marked by a string no page may show)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from governance.audit import Actor
from governance.audit.keys import AuditKey
from governance.clock import FakeClock
from governance.db import Database
from governance.escalations import away
from governance.escalations import service as escalations
from governance.escalations.policy import Policy
from governance.moderation import publishing
from governance.moderation.models import (
    ACTIVE,
    BLOCKED,
    AppealRequest,
    CaseAccount,
    CaseAppeal,
    ModerationCase,
)
from governance.onboarding import service as onboarding
from governance.onboarding.tasklist import ItemSpec
from governance.outbox.models import OutboxMessage
from governance.people.models import ChatIdentity
from governance.people.roles import Role
from governance.people.service import ensure_person, grant_role
from governance.projects.service import register_project
from governance.votes import service as votes
from governance.votes.casting import cast
from governance.votes.closing import close as close_vote
from governance.votes.models import DISPUTE, NOMINATION
from governance.votes.rules import Rules

DM_TEXT = "dm-text-7c1e9 you are being nominated, keep it quiet"
SECRET_REASON = "ballot-reason-5a2f4 I distrust this change"
SECRET_CHOICE = "review"  # the only ballot for `review` on the secret vote
PRIVATE_PROJECT = "hidden-repo-b81d"
ESCALATION_SUMMARY = "summary-3e0c7 the maintainer's private email leaked"
APPEAL_DETAILS = "appeal-details-44d1 the blocked person wrote privately"
APPEAL_TEXT = "appeal-text-0b7e please unblock me, it was my brother"
APPELLANT = "appellant-c3d9"
CASE_REASON = "case-reason-9f3b0 harassment in DMs"
BLOCKED_ACCOUNT = "troll-account-e61a"
MODERATOR = "moderator-7d2a"
PUBLISHER = "publisher-5e1b"
PUBLISHED_REASON = "published-case-reason-2c8d the spammer's phone number"
PUBLIC_SUMMARY = "Posted links to malware in the issues of three repositories."
NAMED_ACCOUNT = "Link-Spammer"  # the published case's GitHub login, named by the moderator
AWAY_NOTE = "away-note-6f0a in hospital, back when I can"
CHAT_ID = "815234567890123456"
ZULIP_ID = "70412"

PRIVATE = (DM_TEXT, SECRET_REASON, PRIVATE_PROJECT, ESCALATION_SUMMARY, APPEAL_DETAILS,
           APPEAL_TEXT, APPELLANT, CASE_REASON, BLOCKED_ACCOUNT, CHAT_ID, ZULIP_ID, MODERATOR,
           PUBLISHER, PUBLISHED_REASON, AWAY_NOTE)

KEY = AuditKey.generate()  # seals the secret ballots until the close
RULES_OPEN = Rules(kind=NOMINATION, quorum=2, min_duration=timedelta(hours=72))
RULES_SECRET = Rules(kind=DISPUTE, quorum=2, min_duration=timedelta(hours=72), secret=True,
                     options=("revert", "keep", "review"))
ITEMS = (ItemSpec("readme", "Add a README badge", "lead"),
         ItemSpec("pypi", "Add the cooperative to PyPI maintainers", "admin"),
         ItemSpec("docs", "Move the docs", "member"))


@dataclass(frozen=True)
class World:
    open_vote: int
    secret_vote: int
    closed_vote: int
    overdue_ticket: int
    private_ticket: int
    private_case: int
    published_case: int
    waiting_nomination: int


def seed(db: Database, clock: FakeClock) -> World:
    policy = Policy()
    start = clock.now()
    with db.transaction() as session:
        now = clock.now()
        for name in ("pip-tools", "django-sample", "prettytable"):
            register_project(session, name=name, now=now, actor=Actor.system())
        register_project(session, name=PRIVATE_PROJECT, now=now, actor=Actor.system(),
                         private=True)
        for login in ("adam", "ada"):
            grant_role(session, actor=Actor.system(), login=login, role=Role.ADMIN, now=now)
        grant_role(session, actor=Actor.system(), login="alice", role=Role.LEAD, now=now,
                   project="pip-tools")
        person = ensure_person(session, "alice", now)
        session.add(ChatIdentity(platform="discord", user_id=CHAT_ID, display_name="Alice",
                                 person_id=person.id, linked_at=now, first_seen_at=now))
        session.add(ChatIdentity(platform="zulip", user_id=ZULIP_ID, display_name="Alice Z",
                                 person_id=person.id, linked_at=now, first_seen_at=now))
        session.add(OutboxMessage(platform="discord", destination=f"dm:{CHAT_ID}",
                                  key="dm:1", payload=json.dumps({"text": DM_TEXT}),
                                  not_before=now, created_at=now))
        overdue = escalations.open_ticket(
            session, policy, project="pip-tools", kind="permissions", summary=ESCALATION_SUMMARY,
            reporter="bob", urgent=True, now=now).ticket
        hidden = escalations.open_ticket(
            session, policy, project=PRIVATE_PROJECT, kind="permissions", summary="hidden",
            reporter="bob", urgent=False, now=now).ticket
        resolved = escalations.open_ticket(
            session, policy, project="django-sample", kind="release", summary="release 2.0",
            reporter="carol", urgent=False, now=now).ticket
        assert resolved.number is not None
        escalations.acknowledge(session, policy, number=resolved.number, actor_login="adam",
                                now=now + timedelta(hours=2))
        escalations.resolve(session, number=resolved.number, note="done",
                            actor_login="adam", now=now + timedelta(hours=5))
        onboarding.start_checklist(
            session, project="django-sample", repo="django-sample", sender="carol",
            template=onboarding.Template(title="Onboarding", body="- [ ] x", items=ITEMS),
            timing=onboarding.Timing(admin_wait=timedelta(days=3),
                                     checkin_after=timedelta(days=7)),
            now=now, with_github=False)
        case = ModerationCase(subject=f"github:{BLOCKED_ACCOUNT}", actor=f"github:{MODERATOR}",
                              reason=CASE_REASON, state=ACTIVE, created_at=now)
        session.add(case)
        session.flush()
        assert case.id is not None
        published = _published_case(session, now)
        session.add(CaseAppeal(case_id=case.id, at=now, recorded_by="github:ada",
                               outcome=APPEAL_DETAILS))
        session.add(AppealRequest(case_id=case.id, appellant=APPELLANT, via="chat",
                                  text=APPEAL_TEXT, filed_at=now))
        nomination = _open(session, now, RULES_OPEN, "pip-tools", NOMINATION, "dora",
                           ("adam", "ada", "alice"), accepts=False)
        secret = _open(session, now, RULES_SECRET, "prettytable", DISPUTE, "9f8e7d6c5b4a",
                       ("adam", "ada", "alice"))
        hidden_vote = _open(session, now, RULES_OPEN, PRIVATE_PROJECT, NOMINATION, "erin",
                            ("adam", "ada"), accepts=False)
        closed = _open(session, now, RULES_OPEN, "django-sample", NOMINATION, "frank",
                       ("adam", "ada", "alice"), accepts=False)
        for login, choice in (("adam", "+1"), ("ada", "+1"), ("alice", "-1")):
            cast(session, number=closed, login=login, choice=choice,
                 reason="not yet" if choice == "-1" else "", now=now, key=KEY)
        cast(session, number=nomination, login="adam", choice="+1", reason="", now=now,
             key=KEY)
        cast(session, number=secret, login="adam", choice=SECRET_CHOICE,
             reason=SECRET_REASON, now=now, key=KEY)
        cast(session, number=secret, login="ada", choice="keep", reason="", now=now, key=KEY)
        cast(session, number=hidden_vote, login="ada", choice="+1", reason="", now=now,
             key=KEY)
        close_vote(session, number=closed, now=now + timedelta(hours=73), key=KEY)
        waiting = _open(session, now, RULES_OPEN, "prettytable", NOMINATION, "gina",
                        ("adam", "ada"))
        away.go_away(session, login="ada", duration=timedelta(days=2), note=AWAY_NOTE, now=now,
                     policy=policy)
    clock.advance(timedelta(hours=6))  # the urgent ticket's acknowledgement is now overdue
    assert clock.now() > start
    assert overdue.number
    assert hidden.number
    return World(nomination, secret, closed, overdue.number, hidden.number, case.id, published,
                 waiting)


def _published_case(session: Session, now: datetime) -> int:
    """A block whose case the moderators published, naming the account's GitHub login."""
    case = ModerationCase(subject=NAMED_ACCOUNT.lower(), actor=f"github:{MODERATOR}",
                          reason=PUBLISHED_REASON, state=ACTIVE, created_at=now)
    session.add(case)
    session.flush()
    assert case.id is not None
    session.add(CaseAccount(case_id=case.id, platform="github", account=NAMED_ACCOUNT.lower(),
                            display=NAMED_ACCOUNT, state=BLOCKED, blocked_at=now))
    publishing.publish(session, number=case.id, actor=Actor.github(PUBLISHER),
                       summary=PUBLIC_SUMMARY, name=True, now=now)
    return case.id


def _open(session: object, now: object, rules: Rules, project: str, kind: str, subject: str,
          electorate: tuple[str, ...], *, accepts: bool = True) -> int:
    vote = votes.open_vote(session, votes.Proposal(  # type: ignore[arg-type]
        kind=kind, project=project, subject=subject, reason=f"{kind} on {project}",
        proposer="carol", rules=rules, electorate=electorate, nominee_accepts=accepts),
        now=now, accept_within=timedelta(days=7),  # type: ignore[arg-type]
        remind_before=timedelta(hours=24))
    assert vote.number is not None
    return vote.number
