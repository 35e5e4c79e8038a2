"""The console: a scripted session, in process and as a real `roadie run` with piped input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import ROOT, Console, make_config, running, write_config


async def test_scripted_session(tmp_path: Path) -> None:
    console = Console()
    async with running(make_config(tmp_path), transports=[console.transport]):
        out = await console.say("/help")
        assert "/whoami" in out
        assert "/grant" not in out

        out = await console.say("/grant bob moderator")
        assert "✋ /grant needs the admin role" in out
        assert "/link <github-login>" in out

        assert "You are now alice (admin)." in await console.say("/as alice")
        assert "/grant" in await console.say("/help")

        out = await console.say("/grant erin moderator --reason 'trusted reviewer'")
        assert "erin is now moderator." in out
        assert "[#modlog] **erin is now moderator**" in out
        assert "Reason: trusted reviewer" in out

        await console.say("/as erin")
        out = await console.say("/whoami")
        assert "You are erin on GitHub." in out
        assert "Roles: moderator, member." in out

        out = await console.say("/grant carol admin")
        assert "✋ /grant needs the admin role; Roadie knows you as erin (moderator)." in out


async def test_usage_errors_show_the_usage(tmp_path: Path) -> None:
    console = Console()
    async with running(make_config(tmp_path), transports=[console.transport]):
        await console.say("/as alice")
        out = await console.say("/grant carol emperor")
        assert "`role` should be one of: member, lead, moderator, admin" in out
        assert "Usage: `/grant <login> <member|lead|moderator|admin> [project]" in out
        out = await console.say("/grant carol lead no-such-project")
        assert "There is no project called 'no-such-project'" in out
        assert "django-sample" in out  # the valid ones are listed


@pytest.mark.slow
def test_roadie_run_reads_piped_input_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    script = "\n".join(["/help", "/as alice", "/grant carol lead django-sample", "/whoami",
                        "/as carol", "/grant x admin", ""])
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)], cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdin is not None
    process.stdin.write(script)
    process.stdin.close()
    process.stdin = None  # closed: communicate() must not flush it
    seen = _read_until(process, "✋ /grant needs the admin role", deadline=60)
    time.sleep(0.5)
    assert process.poll() is None, "Roadie must keep running after the end of piped input"
    process.send_signal(signal.SIGTERM)
    rest, err = process.communicate(timeout=20)
    out = seen + rest
    assert process.returncode == 0, err
    assert "carol is now lead of django-sample." in out
    assert "[#modlog] **carol is now lead of django-sample**" in out
    assert "✋ /grant needs the admin role; Roadie knows you as carol (lead)." in out
    assert "Traceback" not in err


def _read_until(process: subprocess.Popen[str], marker: str, *, deadline: float) -> str:
    """What Roadie printed up to and including the line holding `marker`: a slow start on a
    busy machine must not be taken for a hang."""
    assert process.stdout is not None
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(deadline), f"no {marker!r} within {deadline} s: {''.join(lines)}"
    return "".join(lines)
