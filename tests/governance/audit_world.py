"""A small governed world whose audit log holds every kind of decision, with checkpoints
signed along the way and kept outside the database (as members would keep them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from governance.audit import Actor
from governance.audit.checkpoints import Checkpoint, sign_checkpoint
from governance.audit.keys import AuditKey
from governance.clock import FakeClock
from governance.db import Database
from governance.escalations.models import Ticket
from governance.moderation.models import ACTIVE, ModerationCase
from governance.onboarding.models import Checklist, ChecklistItem
from governance.people.roles import Role
from governance.people.service import grant_role, link_directly, touch_identity
from governance.projects.service import register_project
from governance.votes import service as votes
from governance.votes.casting import cast
from governance.votes.closing import close as close_vote
from governance.votes.models import DISPUTE, Concern
from governance.votes.rules import Rules

ORIGIN = "example-org roadie audit log"
VOTERS = ("alice", "bob", "carol", "dave")
PLAIN = Rules(kind=DISPUTE, quorum=3, threshold="majority", min_duration=timedelta(hours=1),
              options=("revert", "keep"))
SECRET = Rules(kind=DISPUTE, quorum=3, threshold="majority", min_duration=timedelta(hours=1),
               options=("revert", "keep"), secret=True)


@dataclass
class World:
    db: Database
    clock: FakeClock
    key: AuditKey
    published: list[Checkpoint] = field(default_factory=list)
    plain_vote: int = 0
    secret_vote: int = 0

    def checkpoint(self) -> Checkpoint | None:
        with self.db.transaction() as session:
            signed = sign_checkpoint(session, self.key, origin=ORIGIN, now=self.clock.now())
        if signed is not None:
            self.published.append(signed)
        self.clock.advance(timedelta(seconds=1))
        return signed

    def step(self) -> None:
        self.clock.advance(timedelta(seconds=7))


def open_dispute(session, clock: FakeClock, rules: Rules, subject: str) -> int:  # type: ignore[no-untyped-def]
    vote = votes.open_vote(session, votes.Proposal(
        kind=DISPUTE, project="django-sample", subject=subject, reason="pushed without review",
        proposer="carol", rules=rules, electorate=VOTERS), now=clock.now(),
        accept_within=timedelta(days=7), remind_before=timedelta(minutes=10))
    assert vote.number is not None
    return vote.number


def build(db: Database, clock: FakeClock, key: AuditKey | None = None) -> World:
    world = World(db, clock, key or AuditKey.generate())
    now = clock.now
    with db.transaction() as session:
        register_project(session, name="django-sample", now=now(), actor=Actor.system())
        for login in ("alice", "bob", "carol", "dave", "erin"):
            grant_role(session, actor=Actor.system(), login=login, role=Role.MEMBER, now=now(),
                       source="config")
        grant_role(session, actor=Actor.system(), login="alice", role=Role.ADMIN, now=now(),
                   source="config")
    world.step()
    with db.transaction() as session:
        link_directly(session, actor=Actor.chat("console", "1"), platform="console",
                      user_id="1", display_name="Alice", login="alice", now=now())
        touch_identity(session, "console", "2", "Stranger", now())  # seen, never linked
        grant_role(session, actor=Actor.github("alice"), login="carol", role=Role.LEAD,
                   project="django-sample", now=now(), reason="she leads it")
    world.checkpoint()
    world.step()
    with db.transaction() as session:
        ticket = Ticket(project="django-sample", kind="ci", summary="CI is red", reporter="carol",
                        assignee="alice", opened_at=now(), clock_started_at=now(),
                        ack_due_at=now() + timedelta(hours=72),
                        resolve_due_at=now() + timedelta(days=7))
        session.add(ticket)
        case = ModerationCase(subject="github:spammer", actor="github:bob", reason="spam",
                              state=ACTIVE, created_at=now())
        session.add(case)
        checklist = Checklist(project="django-sample", repo="django-sample", state="open",
                              started_at=now(), last_progress_at=now(),
                              issue_title="Onboarding", issue_body="- [ ] CI")
        session.add(checklist)
        session.flush()
        assert checklist.id is not None
        session.add(ChecklistItem(checklist_id=checklist.id, key="ci", position=1,
                                  text="CI runs", who="admins"))
    world.step()
    with db.transaction() as session:
        world.plain_vote = open_dispute(session, clock, PLAIN, "9f8e7d6c5b4a")
        world.secret_vote = open_dispute(session, clock, SECRET, "1a2b3c4d5e6f")
    world.checkpoint()
    for voter, choice in zip(VOTERS[:3], ("revert", "revert", "keep"), strict=True):
        world.step()
        with db.transaction() as session:
            cast(session, number=world.plain_vote, login=voter, choice=choice,
                 reason=f"{voter} thinks so", now=now())
            cast(session, number=world.secret_vote, login=voter, choice=choice,
                 reason=f"{voter}'s secret reason", now=now(), key=world.key)
    world.step()
    with db.transaction() as session:
        session.add(Concern(vote=world.plain_vote, name="wait for CI", author="bob",
                            raised_at=now()))
    world.checkpoint()
    world.step()
    with db.transaction() as session:
        votes.resolve_concern(session, number=world.plain_vote, login="bob",
                              name="wait for CI", now=now())
    clock.advance(timedelta(hours=2))
    with db.transaction() as session:
        close_vote(session, number=world.plain_vote, now=now())
    world.checkpoint()
    return world
