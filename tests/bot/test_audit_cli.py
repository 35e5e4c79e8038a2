"""`roadie audit keygen`, `key`, `export`, `verify --log` (no config, no database: what a
member runs) and `proof`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from governance.audit.keys import AuditKey
from governance.audit.log import entry_hash
from governance.clock import FakeClock
from governance.db import Database
from tests.governance.audit_world import build
from tests.support import write_config


def test_keygen_writes_a_private_key_file_and_shows_the_public_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "keys" / "audit.key"
    assert main(["audit", "keygen", "--out", str(out)]) == 0
    key = AuditKey.from_text(out.read_text())
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    assert key.public.text() in capsys.readouterr().out
    assert main(["audit", "keygen", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert AuditKey.from_text(out.read_text()).public == key.public  # not replaced

    config = write_config(tmp_path, {"audit": {"key_file": str(out)}})
    assert main(["audit", "key", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == key.public.text()


def test_a_key_that_is_not_one_is_refused_by_the_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "audit.key"
    bad.write_text("hunter2")
    config = write_config(tmp_path, {"audit": {"key_file": str(bad)}})
    assert main(["audit", "key", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "audit: the key in file" in err
    assert "roadie audit keygen" in err
    assert "hunter2" not in err


def test_an_exported_log_is_checked_without_the_database(
        tmp_path: Path, db: Database, clock: FakeClock,
        capsys: pytest.CaptureFixture[str]) -> None:
    world = build(db, clock)
    config = write_config(tmp_path, {"database": {"url": db.url}})
    exported, published = tmp_path / "log.jsonl", tmp_path / "checkpoints.jsonl"
    assert main(["audit", "export", "--config", str(config), "--out", str(exported)]) == 0
    published.write_text("".join(c.line() + "\n" for c in world.published))
    pub = tmp_path / "roadie.pub"
    pub.write_text(world.key.public.text())
    member = ["audit", "verify", "--log", str(exported), "--checkpoints", str(published),
              "--key", str(pub)]
    assert main(member) == 0
    assert "21 entries, chain intact, 4 of 4 published checkpoint(s) hold" in \
        capsys.readouterr().out

    # The operator rewrites entry 15 of the log and recomputes every hash after it.
    entries = [json.loads(line) for line in exported.read_text().splitlines()]
    entries[14]["reason"] = "nothing happened"
    previous = entries[13]["hash"]
    from datetime import datetime

    for entry in entries[14:]:
        entry["prev_hash"] = previous
        entry["hash"] = previous = entry_hash(
            entry["seq"], datetime.fromisoformat(entry["at"]), entry["actor"], entry["action"],
            entry["target"], entry["reason"], entry["data"], previous)
    exported.write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert main(member) == 1
    err = capsys.readouterr().err
    assert "BROKEN at entry 13" in err
    assert "the first entry after it is 13" in err

    # Someone else's key: no checkpoint holds, and the verifier says so.
    other = ["audit", "verify", "--log", str(exported), "--checkpoints", str(published),
             "--key", AuditKey.generate().public.text()]
    assert main(other) == 1
    assert "signature does not hold" in capsys.readouterr().err


def test_proof_prints_a_path_that_leads_to_the_signed_root(
        tmp_path: Path, db: Database, clock: FakeClock,
        capsys: pytest.CaptureFixture[str]) -> None:
    build(db, clock)
    config = write_config(tmp_path, {"database": {"url": db.url}})
    assert main(["audit", "proof", "14", "--config", str(config)]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["leaf_index"] == 13
    assert proof["tree_size"] == 19  # the first checkpoint that covers entry 14
    assert len(proof["path"]) == 5
    assert main(["audit", "proof", "99", "--config", str(config)]) == 2
    assert "no entry 99" in capsys.readouterr().err


def test_check_config_says_whether_checkpoints_are_signed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support import audit_key_file

    assert main(["check-config", str(write_config(tmp_path))]) == 0
    assert "audit: no checkpoints, no secret ballots (no key in $ROADIE_AUDIT_KEY)" in \
        capsys.readouterr().out
    key_file = audit_key_file(tmp_path)
    assert main(["check-config", str(write_config(tmp_path, {"audit": {
        "key_file": key_file}}))]) == 0
    public = AuditKey.from_text(Path(key_file).read_text()).public.text()
    assert f"audit: checkpoints signed by {public} (key from file {key_file})" in \
        capsys.readouterr().out
