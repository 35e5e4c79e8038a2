"""Schema migrations with Alembic, driven from code (no alembic.ini needed).

Each capability keeps its tables on its own migration branch (`branch_labels`), all rooted
in the core revision, so `upgrade heads` brings every branch up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from governance.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    config.attributes["engine"] = database.engine
    return config


@dataclass(frozen=True)
class SchemaState:
    current: frozenset[str]
    heads: frozenset[str]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.heads

    @property
    def empty(self) -> bool:
        return not self.current


def schema_state(database: Database) -> SchemaState:
    script = ScriptDirectory.from_config(alembic_config(database))
    with database.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    return SchemaState(frozenset(current), frozenset(script.get_heads()))


def upgrade(database: Database) -> SchemaState:
    command.upgrade(alembic_config(database), "heads")
    return schema_state(database)
