"""`roadie db backup` while Roadie runs, then the documented restore, on both engines."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.backup import libpq_url
from bot.cli import main
from bot.config import load_config
from governance.db import Database
from tests.support import Console, running, write_config


async def roadie(args: list[str]) -> int:
    """The `roadie` command, off the event loop (it opens the database)."""
    return await asyncio.to_thread(main, args)


def _sql(url: str, statement: str) -> object:
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            result = conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        db.dispose()


async def audit_entries(url: str) -> int:
    count = await asyncio.to_thread(_sql, url, "SELECT count(*) FROM audit_log")
    return int(str(count))


async def test_sqlite_backup_while_running_restores_intact(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = tmp_path / "live"
    live.mkdir()
    path = write_config(live)
    config = load_config(path)
    console = Console()
    target = tmp_path / "backups" / "roadie-backup.db"
    target.parent.mkdir()
    async with running(config, transports=[console.transport]):
        await console.say("/as alice")
        await console.say("/grant carol lead django-sample")
        assert await roadie(["db", "backup", str(target), "--config", str(path)]) == 0
        await console.say("/grant dave lead pip-tools-demo")  # after the backup
        assert (live / "roadie.db-wal").exists(), "recent writes sit in the write-ahead log"
    out = capsys.readouterr().out
    assert f"to {target} (" in out
    assert "SQLite online backup, integrity checked" in out
    assert await roadie(["db", "backup", str(target), "--config", str(path)]) == 1
    assert "exists; give a new file name" in capsys.readouterr().err

    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(target, restored / "roadie.db")  # the documented restore: copy it in place
    restored_config = write_config(restored)
    assert await roadie(["audit", "verify", "--config", str(restored_config)]) == 0
    assert "chain intact" in capsys.readouterr().out
    backed_up = await audit_entries(load_config(restored_config).database_url)
    assert 0 < backed_up < await audit_entries(config.database_url)
    console = Console()
    async with running(load_config(restored_config), transports=[console.transport]):
        await console.say("/as carol")
        assert "Lead of: django-sample." in await console.say("/whoami")


@pytest.mark.postgres
async def test_postgres_backup_with_pg_dump_restores_with_pg_restore(
        tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore are not installed")
    schema = "backup_" + postgres_url.rsplit("%3D", 1)[1]
    url = postgres_url.rsplit("%3D", 1)[0] + "%3D" + schema
    await asyncio.to_thread(_sql, postgres_url, f'CREATE SCHEMA "{schema}"')
    try:
        path = write_config(tmp_path, database=url)
        assert await roadie(["db", "upgrade", "--config", str(path)]) == 0
        console = Console()
        async with running(load_config(path), transports=[console.transport]):
            await console.say("/as alice")
            await console.say("/grant carol lead django-sample")
        entries = await audit_entries(load_config(path).database_url)
        target = tmp_path / "roadie.dump"
        assert await roadie(["db", "backup", str(target), "--config", str(path)]) == 0
        assert f"pg_dump, custom format, schema {schema}" in capsys.readouterr().out

        # the database is lost
        await asyncio.to_thread(_sql, postgres_url, f'DROP SCHEMA "{schema}" CASCADE')
        address, _ = libpq_url(load_config(path).database_url)
        await asyncio.to_thread(
            subprocess.run, ["pg_restore", "--no-owner", f"--dbname={address}", str(target)],
            check=True, capture_output=True)
        assert await roadie(["db", "status", "--config", str(path)]) == 0
        assert await roadie(["audit", "verify", "--config", str(path)]) == 0
        assert await audit_entries(load_config(path).database_url) == entries
    finally:
        await asyncio.to_thread(_sql, postgres_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_postgres_without_pg_dump_is_refused_with_the_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump here
    monkeypatch.setenv("ROADIE_DB", "postgresql://roadie:s3cret@db.example.org/roadie")
    path = write_config(tmp_path, {"database": {"url_env": "ROADIE_DB"}})
    assert main(["db", "backup", str(tmp_path / "x.dump"), "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "is backed up with pg_dump, which is not installed here" in err
    assert "pg_dump --format=custom --file BACKUP URL" in err
    assert "s3cret" not in err
