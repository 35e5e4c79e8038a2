"""Fixtures: a real database (SQLite, and PostgreSQL where it runs), a fake clock, and Roadie.

PostgreSQL tests use the server named by ROADIE_TEST_POSTGRES_URL (default: the local one,
database `test`), each test run in a schema of its own. Without a server they are skipped,
unless ROADIE_REQUIRE_POSTGRES=1 (as in CI), which makes a missing server a failure.

Every exchange with a fake service is checked against the service's description
(tests/fakes/contract.py); an invalid one fails the test that made it, at its teardown.
`pytest --traffic-report` prints, per service, how many exchanges the run made and how many
requests and answers were valid.

Asynchronous tests run on the event loop `roadie run` serves on (`bot.runtime.eventloop`:
uvloop's where it is installed).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.runtime import eventloop
from governance.clock import FakeClock
from governance.db import Database, database_url
from governance.migrate import upgrade
from governance.schema import tables
from tests.fakes.contract import EXCHANGES

pytest_plugins = ["pytester"]

POSTGRES_URL = database_url(os.environ.get("ROADIE_TEST_POSTGRES_URL",
                                           "postgresql://postgres@127.0.0.1:5432/test"))
REQUIRE_POSTGRES = os.environ.get("ROADIE_REQUIRE_POSTGRES") == "1"


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure to connect means: no server here
        return str(error).splitlines()[0]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[
        str, Callable[[], asyncio.AbstractEventLoop]]:
    """pytest-asyncio's loops are the ones Roadie serves on."""
    return {"roadie": eventloop.new_event_loop}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema, migrated with Alembic."""
    problem = _postgres_reachable()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required here but unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    schema = f"roadie_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    database = Database(url)
    upgrade(database)
    database.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "roadie.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


def _sqlite_copy(template: Path, directory: Path) -> Database:
    target = directory / "roadie.db"
    shutil.copyfile(template, target)
    return Database(f"sqlite:///{target}")


def _truncate(database: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in tables())
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with every table, empty: SQLite in a temporary file, then PostgreSQL."""
    if request.param == "sqlite":
        database = _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        database = Database(request.getfixturevalue("postgres_url"))
        _truncate(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """SQLite only, for tests about the runtime rather than the database."""
    database = _sqlite_copy(sqlite_template, tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    _truncate(database)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _fakes_keep_their_contracts() -> Iterator[None]:
    """Fail the test if a fake received a request, or gave an answer, that its service's
    description does not allow."""
    start = len(EXCHANGES)
    yield
    failures = [text for text in (e.failure() for e in EXCHANGES[start:]) if text]
    if failures:
        shown = "\n".join(dict.fromkeys(failures))
        pytest.fail(f"{len(failures)} exchange(s) with a fake break the description:\n{shown}",
                    pytrace=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--traffic-report", action="store_true",
                     help="print, per fake service, the exchanges made and how many validated")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not terminalreporter.config.getoption("--traffic-report"):
        return
    write = terminalreporter.write_line
    terminalreporter.section("traffic with the fake services, checked against their descriptions")
    for service in sorted({e.service for e in EXCHANGES}):
        made = [e for e in EXCHANGES if e.service == service]
        requests = sum(e.request_valid for e in made)
        answers = sum(e.response_valid for e in made)
        strict = "" if all(e.strict_responses for e in made) else " (answers not yet enforced)"
        write(f"{service}: {len(made)} exchanges, {requests} valid requests, "
              f"{answers} valid responses{strict}")
        problems = Counter(f"{e.operation or e.method + ' ' + e.path}: {problem}"
                           for e in made for problem in e.request_problems + e.response_problems)
        for problem, count in problems.most_common(12):
            write(f"    {count:5d} x {problem[:240]}")
    if not EXCHANGES:
        write("no exchange with a fake service")
