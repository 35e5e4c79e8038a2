"""What the browser tests need: Debian's Chromium and axe-core (from the npm registry, kept
in the git-ignored .cache/axe). Without them the tests skip, saying why, unless
ROADIE_REQUIRE_BROWSER=1 (as in CI), which makes their absence a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE_DIR = ROOT / ".cache" / "axe"
AXE_VERSION = "4"
ARTIFACTS = ROOT / "artifacts" / "web"
REQUIRED = os.environ.get("ROADIE_REQUIRE_BROWSER") == "1"
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"the browser tests are required here (ROADIE_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


def chromium() -> str:
    """Debian's Chromium (the binary itself, not the wrapper script), or a skip."""
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    unavailable("Chromium is not installed (apt-get install chromium)")
    raise AssertionError  # unreachable: skip and fail raise


def axe_script() -> Path:
    """axe.min.js, fetched once with `npm pack axe-core@4` into .cache/axe."""
    script = AXE_DIR / "axe.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed, so axe-core cannot be fetched")
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm or "npm", "pack", f"axe-core@{AXE_VERSION}", "--silent"],
                          cwd=AXE_DIR, capture_output=True, text=True, timeout=180, check=False)
    packs = sorted(AXE_DIR.glob("axe-core-*.tgz"))
    if done.returncode != 0 or not packs:
        unavailable(f"`npm pack axe-core` failed: {done.stderr.strip()[:300]}")
    with tarfile.open(packs[-1]) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        script.write_bytes(member.read())
    return script
