"""The benchmark's database on a core of its own: everything moved there while inside, and
everything given back its cores after, the backends PostgreSQL started meanwhile included."""

from __future__ import annotations

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


@pytest.mark.postgres
def test_the_database_and_the_services_get_the_last_core_and_everything_is_given_back(
        postgres_url: str) -> None:
    cores = sorted(os.sched_getaffinity(0))
    own_before = os.sched_getaffinity(0)
    postgres_before = {pid: os.sched_getaffinity(pid) for pid in postgres_processes()}
    service = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    db = Database(postgres_url)
    try:
        service_before = os.sched_getaffinity(service.pid)
        with database_apart([service.pid]) as refused:
            if refused:
                pytest.skip(f"the database could not be set apart here: {refused}")
            assert os.sched_getaffinity(0) == set(cores[:-1])
            assert os.sched_getaffinity(service.pid) == {cores[-1]}
            assert all(os.sched_getaffinity(pid) == {cores[-1]} for pid in postgres_before
                       if pid in postgres_processes())
            with db.engine.connect() as connection:  # a backend started inside
                backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                assert os.sched_getaffinity(backend) == {cores[-1]}
                left_open = db.engine.connect()
                later = left_open.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert os.sched_getaffinity(0) == own_before
        assert os.sched_getaffinity(service.pid) == service_before
        for pid, before in postgres_before.items():
            if pid in postgres_processes():
                assert os.sched_getaffinity(pid) == before
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
            os.sched_setaffinity(pid, {max(cores)})  # as a run killed while inside leaves it
    except PermissionError:
        pytest.skip("no right to move PostgreSQL's processes here")
    finally:
        given = subprocess.run([sys.executable, str(ROOT / "bench" / "cores.py"), "--give-back"],
                               capture_output=True, text=True, check=True)
    assert "may use cores" in given.stdout
    assert all(os.sched_getaffinity(pid) == cores for pid in postgres
               if pid in postgres_processes())
