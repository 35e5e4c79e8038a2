"""Fixtures: a real database (SQLite, and PostgreSQL where it runs), a fake clock, and Roadie.

PostgreSQL tests use the server named by ROADIE_TEST_POSTGRES_URL (default: the local one,
database `test`), each test run in a schema of its own. Without a server they are skipped,
unless ROADIE_REQUIRE_POSTGRES=1 (as in CI), which makes a missing server a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from governance.clock import FakeClock
from governance.db import Database, database_url
from governance.migrate import upgrade
from governance.schema import tables

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
