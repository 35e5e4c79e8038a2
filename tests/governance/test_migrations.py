"""The Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from governance.db import Database
from governance.migrate import schema_state
from governance.schema import metadata


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_the_test_database_is_at_every_head(db: Database) -> None:
    state = schema_state(db)
    assert state.up_to_date
    assert state.current
