"""The built wheel in a clean virtualenv, as an operator (or the Dockerfile) installs it.

No container engine can run here (podman installs, but may not set resource limits, and no
registry serves base images), so these are the image's and compose's steps without them:
build the wheel, install it with pip, `roadie init`, `check-config`, `run`, `healthcheck`,
SIGTERM; and on PostgreSQL, the database URL from a file, a one-shot `roadie db upgrade`,
then two replicas at once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import roadie_version
from governance.db import Database
from tests.support import ROOT

pytestmark = pytest.mark.slow
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "config.example.toml",
           "bot", "cogs", "governance"]
UP = re.compile(r"Roadie is up as .* web server http://127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with nothing but the wheel built from this tree and its dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:  # what the Dockerfile copies, so nothing else can leak in
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--wheel-dir", str(dist), str(source)], check=True, timeout=600)
    [wheel] = dist.glob("roadie-*.whl")
    env = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=300)
    subprocess.run([str(env / "bin" / "pip"), "install", "--quiet",
                    "--disable-pip-version-check", "--find-links", str(dist), "roadie"],
                   check=True, timeout=1200)
    assert wheel.name.startswith(f"roadie-{roadie_version()}-")
    return env


def roadie(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "roadie"), *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, env=_env())


def _env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH: the virtualenv's own Roadie, not this tree's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROADIE_CONFIG")}
    return env | extra


def start(venv: Path, config: Path, cwd: Path, **env: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([str(venv / "bin" / "roadie"), "run", "--config", str(config)],
                               cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=_env(**env))
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        match = UP.search(line)
        if match:
            return process, int(match.group(1))
    process.kill()
    raise AssertionError("Roadie did not come up:\n" + "".join(seen))


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    return err


def get(port: int, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        assert answer.status == 200
        return json.loads(answer.read())


def starter(venv: Path, work: Path, **replace: str) -> Path:
    config = work / "etc" / "roadie.toml"
    made = roadie(venv, "init", str(config), "--org", "example-org", cwd=work)
    assert made.returncode == 0, made.stderr
    assert "127.0.0.1:8080" in made.stdout
    text_ = config.read_text()
    # Tests never take a fixed port; INFO, to see "Roadie is up".
    replace = {'bind = "127.0.0.1:8080"': 'bind = "127.0.0.1:0"',
               'log_level = "WARNING"': 'log_level = "INFO"', **replace}
    for old, new in replace.items():
        assert old in text_, old
        text_ = text_.replace(old, new)
    config.write_text(text_)
    return config


def test_the_wheel_installs_initialises_checks_runs_and_stops(venv: Path,
                                                              tmp_path: Path) -> None:
    version = roadie(venv, "--version", cwd=tmp_path)
    assert version.stdout == f"roadie {roadie_version()}\n"
    shipped = venv / "share" / "roadie"
    assert {"config.example.toml", "LICENSE", "CHANGELOG.md"} <= {
        p.name for p in shipped.iterdir()}
    config = starter(venv, tmp_path)
    checked = roadie(venv, "check-config", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert f"{config} is valid." in checked.stdout
    process, port = start(venv, config, cwd=tmp_path)
    try:
        assert get(port, "/healthz")["status"] == "ok"
        assert get(port, "/readyz")["status"] == "ready"
        # The image's HEALTHCHECK: `roadie healthcheck` asks the config's [server] bind.
        bound = config.with_name("bound.toml")
        bound.write_text(config.read_text().replace('bind = "127.0.0.1:0"',
                                                    f'bind = "127.0.0.1:{port}"'))
        for command in (["healthcheck"], ["healthcheck", "--ready"]):
            alive = roadie(venv, *command, "--config", str(bound), cwd=tmp_path)
            assert alive.returncode == 0, alive.stderr
    finally:
        stop(process)
    assert (config.parent / "roadie.db").exists(), "SQLite next to the config"


@pytest.mark.postgres
def test_compose_steps_on_postgres_two_replicas(venv: Path, tmp_path: Path,
                                                postgres_url: str) -> None:
    schema = "deploy_" + postgres_url.rsplit("%3D", 1)[1]
    url = postgres_url.rsplit("%3D", 1)[0] + "%3D" + schema
    admin = Database(postgres_url)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    secret = tmp_path / "secrets" / "database_url"
    secret.parent.mkdir()
    secret.write_text(url.replace("postgresql+psycopg://", "postgresql://") + "\n")
    config = starter(venv, tmp_path, **{'url = "roadie.db"': f'url_file = "{secret}"'})
    processes: list[subprocess.Popen[str]] = []
    try:
        upgraded = roadie(venv, "db", "upgrade", "--config", str(config), cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stderr  # the one-shot `migrate` service
        assert "schema at" in upgraded.stdout
        ports = []
        for _ in range(2):
            process, port = start(venv, config, cwd=tmp_path)
            processes.append(process)
            ports.append(port)
        for port in ports:
            assert get(port, "/readyz")["database"] == "ok"
    finally:
        for process in processes:
            stop(process)
        with admin.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
