"""Escalation tickets: deadlines, reminder points, assignment, the life cycle, statistics."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import Session

from governance.audit import Actor, history, verify
from governance.clock import FakeClock
from governance.db import Database
from governance.errors import Conflict, Forbidden, NotFound, Refusal
from governance.escalations import away, service
from governance.escalations.models import ACKNOWLEDGED, OPEN, RESOLVED, Ticket
from governance.escalations.policy import Deadlines, Policy
from governance.escalations.stats import window_stats
from governance.people import service as people
from governance.people.roles import Role
from governance.projects.service import register_project

H = timedelta(hours=1)
POLICY = Policy(deadlines={"normal": Deadlines(10 * H, 100 * H),
                           "urgent": Deadlines(H, 10 * H)},
                breach_repeat=5 * H)


@pytest.fixture
def world(db: Database, clock: FakeClock) -> Database:
    with db.transaction() as session:
        people.sync_config_roles(session, {Role.ADMIN: ["alice", "frank", "Grace"],
                                           Role.MEMBER: ["carol", "dave"]}, clock.now())
        register_project(session, name="django-sample", now=clock.now(), actor=Actor.system())
    return db


def _open(session: Session, clock: FakeClock, *, reporter: str = "carol", urgent: bool = False,
          policy: Policy = POLICY, **extra: object) -> Ticket:
    return service.open_ticket(session, policy, project=extra.pop("project", "django-sample"),
                               kind=str(extra.pop("kind", "ci")),
                               summary=str(extra.pop("summary", "make tests required")),
                               reporter=reporter, urgent=urgent, now=clock.now(),
                               **extra).ticket  # type: ignore[arg-type]


# --- the reminder points ------------------------------------------------------------------


def test_points_before_the_deadline_then_the_breach_then_repeats(clock: FakeClock) -> None:
    start = clock.now()
    deadline = start + 10 * H
    times = [POLICY.point_time(start, deadline, p) for p in range(5)]
    assert times == [start + 5 * H, start + 9 * H, deadline, deadline + 5 * H, deadline + 10 * H]
    assert POLICY.breach_point == 2


def test_a_late_sweep_sends_only_the_loudest_point_due(clock: FakeClock) -> None:
    start = clock.now()
    deadline = start + 10 * H
    assert POLICY.latest_due_point(start, deadline, 0, start + 6 * H) == 0
    assert POLICY.latest_due_point(start, deadline, 0, start + 9 * H) == 1
    assert POLICY.latest_due_point(start, deadline, 0, deadline) == 2
    assert POLICY.latest_due_point(start, deadline, 0, deadline + 11 * H) == 4
    assert POLICY.latest_due_point(start, deadline, 4, deadline + 11 * H) == 4


def test_a_phase_starts_at_the_first_point_still_ahead(clock: FakeClock) -> None:
    start = clock.now()
    deadline = start + 10 * H
    assert POLICY.first_point_after(start, deadline, start) == 0
    assert POLICY.first_point_after(start, deadline, start + 6 * H) == 1
    assert POLICY.first_point_after(start, deadline, start + 10 * H) == 2


def _sweep(db: Database, clock: FakeClock) -> list[service.DueReminder]:
    sent = []
    with db.transaction() as session:
        numbers = service.due_numbers(session, clock.now())
    for number in numbers:
        with db.transaction() as session:
            due = service.take_due_reminder(session, POLICY, number=number, now=clock.now())
            if due is not None:
                sent.append(due)
    return sent


def test_each_point_is_taken_once_and_acknowledging_moves_to_the_resolve_clock(
        world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        number = _open(session, clock).number
    assert _sweep(world, clock) == []
    clock.advance(5 * H)
    first = _sweep(world, clock)
    assert [(d.phase, d.point, d.breach) for d in first] == [("acknowledge", 0, False)]
    assert first[0].key == f"escalation:{number}:1:acknowledge:0"
    assert _sweep(world, clock) == []  # the same point is never taken twice
    clock.advance(5 * H)
    breach = _sweep(world, clock)
    assert [(d.point, d.breach, d.skipped) for d in breach] == [(2, True, 1)]
    clock.advance(5 * H)
    assert [d.repeat for d in _sweep(world, clock)] == [1]
    with world.transaction() as session:
        ticket, _ = service.acknowledge(session, POLICY, number=number, actor_login="alice",
                                        now=clock.now())
        assert ticket.ack_breached
        # 15h into a 100h resolve window: its first point (50h) is the next one.
        assert ticket.next_reminder_at == ticket.clock_started_at + 50 * H
    clock.advance(35 * H)
    resolve = _sweep(world, clock)
    assert [(d.phase, d.point, d.key) for d in resolve] == [
        ("resolve", 0, f"escalation:{number}:2:resolve:0")]
    with world.transaction() as session:
        service.resolve(session, number=number, note="done", actor_login="alice",
                        now=clock.now())
    clock.advance(100 * H)
    assert _sweep(world, clock) == []


def test_sweeps_running_at_once_take_each_point_once(world: Database,
                                                    clock: FakeClock) -> None:
    with world.transaction() as session:
        numbers = [_open(session, clock).number for _ in range(30)]
    clock.advance(10 * H)
    with ThreadPoolExecutor(max_workers=3) as pool:
        taken = [d.key for batch in pool.map(lambda _: _sweep(world, clock), range(3))
                 for d in batch]
    assert sorted(taken) == sorted(f"escalation:{n}:1:acknowledge:2" for n in numbers)


def test_reopening_starts_fresh_deadlines_with_new_keys(world: Database,
                                                       clock: FakeClock) -> None:
    with world.transaction() as session:
        number = _open(session, clock, urgent=True).number
        service.decline(session, number=number, reason="not ours", actor_login="alice",
                        now=clock.now())
    clock.advance(3 * H)
    with world.transaction() as session:
        ticket, event = service.reopen(session, POLICY, number=number, actor_login="carol",
                                       now=clock.now(), reason="it is ours")
        assert ticket.state == OPEN
        assert ticket.ack_due_at == clock.now() + H
        assert "reopened by carol (was declined): it is ours" in event.text
    clock.advance(H / 2)
    assert [d.key for d in _sweep(world, clock)] == [f"escalation:{number}:2:acknowledge:0"]


# --- assignment and absence ----------------------------------------------------------------


def test_balanced_assignment_takes_the_least_loaded_then_the_longest_idle(
        world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        assignees = []
        for _ in range(4):
            assignees.append(_open(session, clock).assignee)
            clock.advance(timedelta(minutes=1))
        assert assignees == ["alice", "frank", "Grace", "alice"]
        service.resolve(session, number=2, note="done", actor_login="frank", now=clock.now())
        assert _open(session, clock).assignee == "frank"  # now the least loaded


def test_round_robin_ignores_load_and_nobody_is_assigned_under_none(
        world: Database, clock: FakeClock) -> None:
    robin = Policy(assignment="round-robin")
    with world.transaction() as session:
        first = [_open(session, clock, policy=robin).assignee for _ in range(3)]
        assert sorted(first) == ["Grace", "alice", "frank"]
        clock.advance(timedelta(minutes=1))
        assert _open(session, clock, policy=Policy(assignment="none")).assignee == ""


def test_admins_away_are_skipped_and_back_again(world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        away.go_away(session, login="alice", duration=48 * H, note="conference", now=clock.now(),
                     policy=POLICY)
        away.go_away(session, login="frank", duration=H, note="", now=clock.now(),
                     policy=POLICY)
        assert away.available_admins(session, clock.now()) == ["Grace"]
        assert _open(session, clock).assignee == "Grace"
    clock.advance(2 * H)  # frank's absence ended by itself
    with world.transaction() as session:
        assert away.available_admins(session, clock.now()) == ["frank", "Grace"]
        away.come_back(session, login="alice", now=clock.now())
        assert away.available_admins(session, clock.now()) == ["alice", "frank", "Grace"]
        with pytest.raises(Conflict, match="You are not marked away"):
            away.come_back(session, login="alice", now=clock.now())
        with pytest.raises(Refusal, match="longer than the longest absence"):
            away.go_away(session, login="alice", duration=timedelta(days=91), note="",
                         now=clock.now(), policy=POLICY)


def test_when_every_admin_is_away_the_ticket_waits_unassigned(world: Database,
                                                              clock: FakeClock) -> None:
    with world.transaction() as session:
        for login in ("alice", "frank", "Grace"):
            away.go_away(session, login=login, duration=H, note="", now=clock.now(),
                         policy=POLICY)
        ticket = _open(session, clock)
        assert ticket.assignee == ""
        acknowledged, _ = service.acknowledge(session, POLICY, number=ticket.number or 0,
                                              actor_login="frank", now=clock.now())
        assert acknowledged.assignee == "frank"  # whoever acknowledges it holds it


def test_assign_and_take(world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        number = _open(session, clock).number or 0
        ticket, event = service.assign(session, POLICY, number=number, assignee="grace",
                                       actor_login="alice", now=clock.now())
        assert ticket.assignee == "Grace"
        assert event.text == "assigned to Grace by alice (was alice)"
        with pytest.raises(Refusal, match="carol is not an admin") as refused:
            service.assign(session, POLICY, number=number, assignee="carol",
                           actor_login="alice", now=clock.now())
        assert "alice, frank, Grace" in refused.value.hint
        with pytest.raises(Forbidden, match="Only an admin can assign"):
            service.assign(session, POLICY, number=number, assignee="carol",
                           actor_login="dave", now=clock.now())
        ticket, event = service.assign(session, POLICY, number=number, assignee="frank",
                                       actor_login="frank", now=clock.now())
        assert event.text == "taken by frank (was Grace)"


# --- the life cycle and its refusals ----------------------------------------------------------


def _audit_count(db: Database) -> int:
    with db.transaction() as session:
        return len(history(session, action_prefix="escalation.", limit=1000))


def test_every_transition_is_one_audit_entry_and_refusals_change_nothing(
        world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        number = _open(session, clock).number or 0
    assert _audit_count(world) == 1
    refusals = [
        (Forbidden, "Only an admin can acknowledge", lambda s: service.acknowledge(
            s, POLICY, number=number, actor_login="carol", now=clock.now())),
        (Forbidden, "Only an admin can resolve", lambda s: service.resolve(
            s, number=number, note="x", actor_login="carol", now=clock.now())),
        (Forbidden, "Only an admin can decline", lambda s: service.decline(
            s, number=number, reason="x", actor_login="dave", now=clock.now())),
        (Refusal, "The reason is empty", lambda s: service.decline(
            s, number=number, reason="  ", actor_login="alice", now=clock.now())),
        (NotFound, "There is no escalation #99", lambda s: service.acknowledge(
            s, POLICY, number=99, actor_login="alice", now=clock.now())),
        (Conflict, "still open; it needs no reopening", lambda s: service.reopen(
            s, POLICY, number=number, actor_login="carol", now=clock.now())),
        (Forbidden, "Only the people involved", lambda s: service.comment(
            s, number=number, text="me too", actor_login="dave", now=clock.now())),
    ]
    for error, message, attempt in refusals:
        with pytest.raises(error, match=message), world.transaction() as session:
            attempt(session)
    assert _audit_count(world) == 1
    steps = [
        lambda s: service.comment(s, number=number, text="any news?", actor_login="carol",
                                  now=clock.now()),
        lambda s: service.acknowledge(s, POLICY, number=number, actor_login="alice",
                                      now=clock.now()),
        lambda s: service.resolve(s, number=number, note="done", actor_login="alice",
                                  now=clock.now()),
        lambda s: service.reopen(s, POLICY, number=number, actor_login="carol", now=clock.now()),
    ]
    for index, step in enumerate(steps, start=2):
        with world.transaction() as session:
            step(session)
        assert _audit_count(world) == index
    with world.transaction() as session:
        actions = [e.action for e in history(session, target=f"escalation:{number}")]
        assert actions == ["escalation.open", "escalation.comment", "escalation.ack",
                           "escalation.resolve", "escalation.reopen"]
        assert verify(session).ok
        kinds = [e.kind for e in service.history(session, number)]
        assert kinds == ["opened", "assigned", "commented", "acknowledged", "resolved",
                         "reopened"]


def test_a_closed_ticket_says_so(world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        number = _open(session, clock).number or 0
        service.resolve(session, number=number, note="done", actor_login="frank",
                        now=clock.now())
    for attempt in (
        lambda s: service.resolve(s, number=number, note="again", actor_login="alice",
                                  now=clock.now()),
        lambda s: service.acknowledge(s, POLICY, number=number, actor_login="alice",
                                      now=clock.now()),
    ):
        with pytest.raises(Conflict, match=f"#{number} is already resolved by frank") as refused, \
                world.transaction() as session:
            attempt(session)
        assert f"/escalation reopen {number}" in refused.value.hint


def test_opening_refuses_unknown_projects_kinds_and_empty_summaries(
        world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        with pytest.raises(NotFound, match="no project called 'nope'") as refused:
            _open(session, clock, project="nope")
        assert "django-sample" in refused.value.hint
        with pytest.raises(Refusal, match="'cake' is not a kind") as refused:
            _open(session, clock, kind="cake")
        assert "ci, required-checks, webhook" in refused.value.hint
        with pytest.raises(Refusal, match="The summary is empty"):
            _open(session, clock, summary=" ")
        with pytest.raises(Refusal, match="at most 500 fit"):
            _open(session, clock, summary="x" * 501)
    with world.transaction() as session:
        assert service.active_tickets(session) == []


def test_a_source_opens_one_ticket(world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        first = service.open_ticket(session, POLICY, project="django-sample", kind="permissions",
                                    summary="revert the push", reporter="carol", urgent=False,
                                    now=clock.now(), source="vote:12")
        again = service.open_ticket(session, POLICY, project="django-sample", kind="ci",
                                    summary="other words", reporter="dave", urgent=True,
                                    now=clock.now(), source="vote:12")
        assert first.created
        assert not again.created
        assert again.ticket.number == first.ticket.number
        assert len(service.active_tickets(session)) == 1


# --- statistics --------------------------------------------------------------------------------


def test_medians_and_breach_rate_over_30_and_90_days(world: Database, clock: FakeClock) -> None:
    def handled(ack_after: timedelta, resolve_after: timedelta | None) -> None:
        with world.transaction() as session:
            number = _open(session, clock).number or 0
        start = clock.now()
        clock.set(start + ack_after)
        with world.transaction() as session:
            service.acknowledge(session, POLICY, number=number, actor_login="alice",
                                now=clock.now())
        if resolve_after is not None:
            clock.set(start + resolve_after)
            with world.transaction() as session:
                service.resolve(session, number=number, note="ok", actor_login="alice",
                                now=clock.now())
        clock.set(start + timedelta(days=20))

    handled(2 * H, 20 * H)
    handled(4 * H, 30 * H)
    handled(12 * H, None)   # acknowledged late: a breach
    handled(6 * H, 120 * H)  # resolved late: a breach
    with world.transaction() as session:
        recent = window_stats(session, now=clock.now(), days=30)
        assert recent.opened == 1  # only the last was opened in the last 30 days
        everything = window_stats(session, now=clock.now(), days=90)
    assert everything.opened == 4
    assert everything.median_to_acknowledge == 5 * H
    assert everything.median_to_resolve == 30 * H
    assert everything.breached == 2
    assert everything.breach_rate == 0.5
    assert recent.median_to_acknowledge == 6 * H
    assert (recent.resolved, recent.still_open, recent.breached) == (1, 0, 1)


def test_an_overdue_ticket_counts_as_breached_before_the_sweep_saw_it(
        world: Database, clock: FakeClock) -> None:
    with world.transaction() as session:
        ticket = _open(session, clock)
        assert ticket.state == OPEN
    clock.advance(11 * H)
    with world.transaction() as session:
        assert window_stats(session, now=clock.now(), days=30).breached == 1
        ticket = service.require_ticket(session, ticket.number or 0)
        assert ticket.overdue(clock.now())
        assert ticket.state not in (ACKNOWLEDGED, RESOLVED)
