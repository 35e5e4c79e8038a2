"""`roadie db backup`: a consistent copy of a live database.

Copying a SQLite file in WAL mode while Roadie writes is unsafe (the copy may miss the log or
catch a page mid-write); SQLite's online backup API copies a consistent snapshot instead.
PostgreSQL is backed up with its own tool, pg_dump, when it is installed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    how: str


def backup(url: str, target: Path) -> Backup:
    if target.exists():
        raise BackupError(f"{target} exists; give a new file name (a backup never overwrites)")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(Path(parsed.database or ""), target)
    if parsed.get_backend_name() == "postgresql":
        return _postgres(url, target)
    raise BackupError(f"cannot back up a {parsed.get_backend_name()} database")


def _sqlite(source: Path, target: Path) -> Backup:
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    partial = target.with_name(target.name + ".partial")
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30) as live, \
                sqlite3.connect(partial) as copy:
            live.backup(copy, pages=1024)  # in steps, so that writers are not held up
            problem = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if problem != "ok":
                raise BackupError(f"the copy failed its integrity check: {problem}")
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot back up {source} to {target}: {error}") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return Backup(target, target.stat().st_size, "SQLite online backup, integrity checked")


def libpq_url(url: str) -> tuple[str, str | None]:
    """The URL as libpq (pg_dump) takes it, and the schema its search_path names, if any."""
    parsed = make_url(url).set(drivername="postgresql")
    options = str(parsed.query.get("options", ""))
    schema = None
    for option in options.split():
        name, _, value = option.removeprefix("-c").partition("=")
        if name == "search_path" and value:
            schema = value.split(",")[0].strip()
    return parsed.render_as_string(hide_password=False), schema


def _postgres(url: str, target: Path) -> Backup:
    pg_dump = shutil.which("pg_dump")
    shown = make_url(url).render_as_string(hide_password=True)
    if pg_dump is None:
        raise BackupError(
            f"PostgreSQL ({shown}) is backed up with pg_dump, which is not installed here: "
            "install the PostgreSQL client of the server's version and run this again, or "
            "run `pg_dump --format=custom --file BACKUP URL` yourself (docs/deploy.md)")
    address, schema = libpq_url(url)
    command = [pg_dump, "--format=custom", "--no-owner", f"--file={target}"]
    if schema:
        command.append(f"--schema={schema}")
    parsed = urllib.parse.urlsplit(address)
    env = dict(os.environ)
    if parsed.password:  # kept out of the command line, where `ps` would show it
        env["PGPASSWORD"] = urllib.parse.unquote(parsed.password)
        address = address.replace(f":{parsed.password}@", "@", 1)
    result = subprocess.run([*command, f"--dbname={address}"], env=env, capture_output=True,
                            text=True, timeout=3600, check=False)
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        last = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise BackupError(f"pg_dump could not back up {shown}: {last}")
    return Backup(target, target.stat().st_size,
                  f"pg_dump, custom format{f', schema {schema}' if schema else ''}; restore "
                  "with pg_restore")
