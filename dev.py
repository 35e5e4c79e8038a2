#!/usr/bin/env python3
"""Set up and run Roadie for development, with nothing but Python >= 3.11 and pip.

    python3 dev.py console   Roadie on this terminal, with SQLite and config.example.toml
    python3 dev.py test      ruff, the import-layer contract, and the test suite
    python3 dev.py bench     the benchmarks (see bench/)

The first run makes a virtual environment in .venv and installs Roadie into it (editable,
with its test tools); later runs reinstall only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".roadie-installed"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"Roadie needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not (BIN / "python").exists():
        print("dev.py: creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        print("dev.py: installing Roadie and its test tools into .venv ...", flush=True)
        run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", ".[test]"])
        STAMP.write_text(wanted)


def run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def main(argv: list[str]) -> None:
    action, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if action not in ("console", "test", "bench"):
        sys.exit(__doc__)
    ensure_environment()
    if action == "console":
        config = rest[0] if rest else "config.example.toml"
        os.execv(BIN / "roadie", [str(BIN / "roadie"), "run", "--config", config])
    if action == "test":
        run([str(BIN / "ruff"), "check", "."])
        run([str(BIN / "lint-imports")])
        run([str(BIN / "python"), "-m", "pytest", *rest])
    if action == "bench":
        for script in sorted((ROOT / "bench").glob("bench_*.py")):
            run([str(BIN / "python"), str(script), *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
