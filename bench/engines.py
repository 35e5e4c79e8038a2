"""Running a benchmark on each engine: SQLite (a temporary file) and PostgreSQL
(ROADIE_BENCH_POSTGRES_URL, default the local server's database `test`, in a schema of its
own that is dropped afterwards; skipped when unreachable)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from governance.db import Database, database_url


def on_each_database(report: Callable[[str, Database], bool]) -> int:
    """Run `report(name, db)` on SQLite and on PostgreSQL; 0 when every report met its
    targets, 1 otherwise (a process exit status)."""
    results = []
    with tempfile.TemporaryDirectory() as directory:
        db = Database(f"sqlite:///{directory}/bench.db")
        results.append(report("SQLite", db))
        db.dispose()
    url = database_url(os.environ.get("ROADIE_BENCH_POSTGRES_URL",
                                      "postgresql://postgres@127.0.0.1:5432/test"))
    with postgres_schema(url) as pg:
        if pg is not None:
            results.append(report("PostgreSQL", pg))
    return 0 if all(results) else 1


@contextmanager
def postgres_schema(url: str) -> Iterator[Database | None]:
    schema = f"roadie_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:
        print(f"\n== PostgreSQL: skipped, unreachable at {url}: {str(error).splitlines()[0]}")
        yield None
        return
    separator = "&" if "?" in url else "?"
    db = Database(f"{url}{separator}options=-csearch_path%3D{schema}")
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
