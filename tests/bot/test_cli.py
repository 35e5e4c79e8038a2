"""The `roadie` command: check-config, db, audit verify, and the schema guard of `run`."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli import (
    FULL_COLLECTION_EVERY,
    freeze_what_start_up_made,
    freeze_what_the_platforms_made,
    main,
)
from bot.config import load_config
from bot.runtime.app import Roadie, StartupError
from governance.db import Database
from governance.migrate import upgrade
from tests.support import Console, running, write_config


def test_check_config_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(write_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "is valid." in out
    assert "platforms: console" in out
    assert "modlog: console only" in out
    assert "GitHub webhooks: off (no secret in $ROADIE_WEBHOOK_SECRET)" in out


def test_check_config_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {"scheduler": {"lease_ttl": 30}})
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "scheduler.lease_ttl: expected a duration such as 30s" in err


def _edit_the_second_last_entry(url: str) -> int:
    db = Database(url)
    with db.engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar_one()
        conn.execute(text("UPDATE audit_log SET reason = 'edited by hand' WHERE seq = :s"),
                     {"s": last - 1})
    db.dispose()
    return last


async def test_audit_verify_names_the_edited_entry(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path)
    console = Console()
    async with running(load_config(path), transports=[console.transport]):
        await console.say("/as alice")
        await console.say("/grant carol lead django-sample")
    assert await asyncio.to_thread(main, ["audit", "verify", "--config", str(path)]) == 0
    assert "chain intact" in capsys.readouterr().out
    last = await asyncio.to_thread(_edit_the_second_last_entry, load_config(path).database_url)
    assert await asyncio.to_thread(main, ["audit", "verify", "--config", str(path)]) == 1
    assert f"BROKEN at entry {last - 1}: entry {last - 1} was altered" in capsys.readouterr().err


@pytest.mark.postgres
def test_run_refuses_a_postgres_schema_that_is_behind(tmp_path: Path, postgres_url: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    schema_url = postgres_url.replace("search_path%3D", "search_path%3Dstale_")
    admin = Database(postgres_url)
    schema = postgres_url.rsplit("%3D", 1)[1]
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "stale_{schema}"'))
    admin.dispose()
    config = load_config(write_config(tmp_path, database=schema_url))
    roadie = Roadie(config, transports=[], use_config_github=False)
    with pytest.raises(StartupError, match="Run `roadie db upgrade --config"):
        asyncio.run(roadie.start())
    roadie.db.dispose()
    path = write_config(tmp_path, database=schema_url)
    assert main(["db", "status", "--config", str(path)]) == 1
    assert "behind" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(path)]) == 0
    assert main(["db", "status", "--config", str(path)]) == 0
    db = Database(schema_url)
    upgrade(db)  # a second upgrade changes nothing
    with db.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "stale_{schema}" CASCADE'))
    db.dispose()


async def test_sqlite_is_upgraded_by_run(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, database="fresh/roadie.db"))
    async with running(config):
        pass
    assert (tmp_path / "fresh" / "roadie.db").exists()


async def test_audit_verify_counts_one_intact_entry_in_the_singular(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path)
    async with running(load_config(path), transports=[]):
        pass

    def edit_the_second_entry() -> None:
        db = Database(load_config(path).database_url)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET reason = 'edited by hand' WHERE seq = 2"))
        db.dispose()

    await asyncio.to_thread(edit_the_second_entry)
    assert await asyncio.to_thread(main, ["audit", "verify", "--config", str(path)]) == 1
    assert "(1 entry before it is intact)" in capsys.readouterr().err


def test_what_start_up_made_is_left_out_of_full_collections() -> None:
    threshold = gc.get_threshold()
    try:
        freeze_what_start_up_made()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (*threshold[:2], FULL_COLLECTION_EVERY)
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # what comes after is still collected
        frozen = gc.get_freeze_count()
        made_later = [[index] for index in range(1000)]  # as connecting to a platform does
        freeze_what_the_platforms_made()
        assert gc.get_freeze_count() >= frozen + len(made_later)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
