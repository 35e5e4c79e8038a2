"""Starting Roadie: failures in one line that names the fix, --version, SIGHUP, the log."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import roadie_version
from bot.cli import main
from governance.db import Database
from governance.people.roles import Role
from governance.people.service import holders
from tests.support import ROOT, write_config


def test_a_taken_port_names_server_bind(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write_config(tmp_path, {"server": {"bind": f"127.0.0.1:{port}"}})
        assert main(["run", "--config", str(path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (f"roadie: cannot listen on 127.0.0.1:{port}: address already in use; "
                    "another process may have the port: change [server] bind (or stop the "
                    "other process)")


def test_a_database_that_cannot_be_opened_is_named_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    path = write_config(tmp_path, database=str(directory))
    assert main(["run", "--config", str(path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (f"roadie: cannot open the SQLite database {directory}: unable to open "
                    "database file; check [database] url, that its directory exists and that "
                    "this user may write there")


def test_a_database_under_a_file_is_named_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "not-a-dir").write_text("")
    path = write_config(tmp_path, database=str(tmp_path / "not-a-dir" / "roadie.db"))
    assert main(["run", "--config", str(path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"roadie: cannot open the SQLite database {tmp_path}/not-a-dir/"
                           "roadie.db: ")
    assert "Traceback" not in line


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"roadie {roadie_version()}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", roadie_version())


def _wait_for(process: subprocess.Popen[str], lines: list[str], text: str,
              timeout: float = 30) -> str:
    """Read standard error until a line contains `text`."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return line
    raise AssertionError(f"no {text!r} in:\n{''.join(lines)}")


@pytest.mark.slow
def test_sighup_reloads_people_and_log_levels_and_never_kills(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"bot": {"log_level": "INFO"}})
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(path)], cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines: list[str] = []
    try:
        _wait_for(process, lines, "Roadie is up")
        # Roadie's own lines come first: no library chatter at INFO.
        assert all(" roadie" in line for line in lines), lines
        text = path.read_text()
        path.write_text(text.replace('"admins" = ["alice"]', '"admins" = ["alice", "zoe"]')
                        .replace('"log_level" = "INFO"', '"log_level" = "DEBUG"')
                        .replace('"lease_ttl" = "30s"', '"lease_ttl" = "45s"'))
        process.send_signal(signal.SIGHUP)
        line = _wait_for(process, lines, "SIGHUP: reloaded")
        assert "2 admin(s)" in line
        assert "changed, applied at the next restart: scheduler" in line
        assert "log levels: roadie at DEBUG" in line
        time.sleep(0.5)
        assert process.poll() is None, "SIGHUP must not end Roadie"
        path.write_text(text.replace('"org" = "jazzband"', '"org" = ""'))
        process.send_signal(signal.SIGHUP)
        line = _wait_for(process, lines, "not reloaded")
        assert "bot.org:" in line
        assert "still running as before" in line
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, "".join(lines) + err
    db = Database(f"sqlite:///{tmp_path / 'roadie.db'}")
    with db.transaction() as session:
        assert {p.login for p in holders(session, Role.ADMIN)} == {"alice", "zoe"}
    db.dispose()
