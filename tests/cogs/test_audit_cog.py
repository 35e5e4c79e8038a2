"""Checkpoints signed at a decision and published outside the database: to the modlog (no
`audit` destination here), to a file, and as comments on a GitHub issue, read back by
`roadie audit verify` through the real HTTP path; `/audit key` and `/audit proof`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from bot.cli import main
from bot.github.client import PyGithubPort
from bot.runtime.app import Roadie
from cogs.audit import AuditCog
from governance.audit.checkpoints import Checkpoint
from governance.clock import FakeClock
from governance.db import Database
from tests.fakes.github import FakeGitHub, FakeIssue
from tests.support import Console, audit_key_file, running, write_config

ORG = "jazzband"


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub(ORG)
    fake.issues[("governance", 1)] = FakeIssue("governance", 1, "Audit checkpoints", "")
    await fake.start()
    yield fake
    await fake.stop()


def audit_config(tmp_path: Path, github: FakeGitHub, db: Database) -> Path:
    return write_config(tmp_path, {
        "bot": {"org": ORG},
        "database": {"url": db.url},
        "github": {"api_url": github.url},
        "people": {"admins": ["alice"], "members": ["carol"]},
        "audit": {"key_file": audit_key_file(tmp_path),
                  "checkpoints_file": str(tmp_path / "checkpoints.jsonl"),
                  "github_repo": "governance", "github_issue": 1}})


def truncate_rewinding_head(conn: Connection, keep: int) -> None:
    conn.execute(text("DELETE FROM audit_log WHERE seq > :s"), {"s": keep})
    previous = conn.execute(text("SELECT hash FROM audit_log WHERE seq = :s"),
                            {"s": keep}).scalar_one()
    conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": keep, "h": previous})


def cog_of(roadie: Roadie) -> AuditCog:
    return next(c for c in roadie.cogs if isinstance(c, AuditCog))


async def test_a_decision_is_checkpointed_and_published_everywhere(
        tmp_path: Path, db: Database, github: FakeGitHub,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bot.config import load_config

    path = audit_config(tmp_path, github, db)
    config = load_config(path)
    key = config.audit_key()
    assert key is not None
    clock, console = FakeClock(), Console()
    port = PyGithubPort(org=ORG, token="t", api_url=github.url, throttle=False)
    async with running(config, db=db, clock=clock, transports=[console.transport],
                       github=port) as roadie:
        cog = cog_of(roadie)
        await cog.checkpoint()
        await roadie.settle()
        first = len(console.text)
        await console.say("/as alice")
        await console.say("/grant carol lead django-sample")
        clock.advance(timedelta(seconds=30))
        await cog.checkpoint()
        await roadie.settle()
        posted = console.text[first:]
        assert "Audit checkpoint:" in posted
        published = Checkpoint.parse_all(posted)
        assert len(published) == 1
        assert published[0].signed_by(key.public)

        out = await console.say("/audit key")
        assert key.public.text() in out
        seq = published[0].size
        out = await console.say(f"/audit proof {seq}")
        assert f"is leaf {seq - 1} of the {seq} entries signed" in out

        clock.advance(timedelta(seconds=30))
        await cog.checkpoint()  # nothing new: nothing signed
        await roadie.settle()
    in_file = Checkpoint.parse_all((tmp_path / "checkpoints.jsonl").read_text())
    assert len(in_file) == 2  # the one of the start, and the decision's
    assert in_file[-1] == published[0]
    comments = [c["body"] for c in github.issues[("governance", 1)].comments]
    assert len(comments) == 2
    assert published[0].line() in comments[-1]

    # The file, the GitHub comments and the key: the log checks out, then a rewrite is found.
    pub = key.public.text()
    github.max_per_page = 1  # verify follows the Link header from page to page
    await asyncio.to_thread((tmp_path / "checkpoints.jsonl").write_text, "")  # GitHub alone
    verify = ["audit", "verify", "--config", str(path), "--key", pub]
    assert await asyncio.to_thread(main, verify) == 0  # the fake GitHub runs on this loop
    assert f"{published[0].size} entries, chain intact, 2 of 2 published" in \
        capsys.readouterr().out
    await db.run_connection(partial(truncate_rewinding_head, keep=published[0].size - 1))
    assert await asyncio.to_thread(main, verify) == 1
    err = capsys.readouterr().err
    assert f"BROKEN at entry {published[0].size}" in err
    assert "were removed" in err


async def test_no_key_means_no_checkpoint_and_a_clear_answer(tmp_path: Path,
                                                             db: Database) -> None:
    from bot.config import load_config

    config = load_config(write_config(tmp_path, {"database": {"url": db.url}}))
    console = Console()
    async with running(config, db=db, transports=[console.transport]) as roadie:
        await console.say("/as alice")
        await cog_of(roadie).checkpoint()
        out = await console.say("/audit key")
        assert "Roadie has no audit key" in out
        assert "roadie audit keygen" in out
        out = await console.say("/audit checkpoint")
        assert "No checkpoint has been signed yet." in out
