"""The benchmark's database on a core of its own: everything moved there while inside, and
everything given back its cores after, the backends PostgreSQL started meanwhile included."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from governance.db import Database
from tests.support import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from cores import database_apart, postgres_processes

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity")
                                or len(os.sched_getaffinity(0)) < 2,
                                reason="needs a system that sets a process's cores, and two")


def cores_of(pids: list[int]) -> dict[int, set[int]]:
    """The cores of each of `pids` that still runs: PostgreSQL's backends come and go as the
    suite's other connections open and close."""
    found = {}
    for pid in pids:
        try:
            found[pid] = os.sched_getaffinity(pid)
        except ProcessLookupError:
            continue
    return found


@pytest.mark.postgres
def test_the_database_and_the_services_get_the_last_core_and_everything_is_given_back(
        postgres_url: str) -> None:
    cores = sorted(os.sched_getaffinity(0))
    own_before = os.sched_getaffinity(0)
    postgres_before = cores_of(postgres_processes())
    service = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    db = Database(postgres_url)
    try:
        service_before = os.sched_getaffinity(service.pid)
        with database_apart([service.pid]) as refused:
            if refused:
                pytest.skip(f"the database could not be set apart here: {refused}")
            assert os.sched_getaffinity(0) == set(cores[:-1])
            assert os.sched_getaffinity(service.pid) == {cores[-1]}
            assert all(moved == {cores[-1]}
                       for moved in cores_of(list(postgres_before)).values())
            with db.engine.connect() as connection:  # a backend started inside
                backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                assert os.sched_getaffinity(backend) == {cores[-1]}
                left_open = db.engine.connect()
                later = left_open.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert os.sched_getaffinity(0) == own_before
        assert os.sched_getaffinity(service.pid) == service_before
        for pid, now in cores_of(list(postgres_before)).items():
            assert now == postgres_before[pid]
        had = {frozenset(before) for before in postgres_before.values()}
        assert os.sched_getaffinity(later) in had
        left_open.close()
    finally:
        db.dispose()
        service.kill()
        service.wait()


def test_a_service_that_cannot_be_found_changes_nothing() -> None:
    own_before = os.sched_getaffinity(0)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    with database_apart([finished.pid]) as refused:
        if refused:
            pytest.skip(f"the database could not be set apart here: {refused}")
        assert os.sched_getaffinity(0) != own_before
    assert os.sched_getaffinity(0) == own_before


@pytest.mark.postgres
def test_give_back_returns_every_core_to_postgresql_after_a_killed_run(
        postgres_url: str) -> None:
    cores = os.sched_getaffinity(0)
    postgres = postgres_processes()
    try:
        for pid in postgres:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.sched_setaffinity(pid, {max(cores)})  # as a run killed inside leaves it
    except PermissionError:
        pytest.skip("no right to move PostgreSQL's processes here")
    finally:
        given = subprocess.run([sys.executable, str(ROOT / "bench" / "cores.py"), "--give-back"],
                               capture_output=True, text=True, check=True)
    assert "may use cores" in given.stdout
    assert all(now == cores for now in cores_of(postgres).values())
