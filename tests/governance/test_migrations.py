"""The Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

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


def test_webhook_payloads_are_compressed_with_lz4_where_the_server_can(pg_db: Database) -> None:
    with pg_db.engine.connect() as conn:
        lz4 = conn.execute(text(
            "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)")).scalar()
        compression = conn.execute(text(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = "
            "'webhook_delivery'::regclass AND attname = 'payload'")).scalar()
    assert compression == ("l" if lz4 else "")
