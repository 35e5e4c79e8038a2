"""The deployment kit holds together: the image, compose, the unit, the container config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.support import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_image_is_slim_unprivileged_built_from_the_wheel_and_checked() -> None:
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert bases
    assert all(re.fullmatch(r"python:3\.1[1-9]-slim", base) for base in bases)
    assert "pip wheel" in DOCKERFILE
    assert re.search(r"pip install /tmp/wheels/roadie-\*\.whl", DOCKERFILE)
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert users == ["roadie"], "the runtime stage runs as a user without privileges"
    assert re.search(r'^HEALTHCHECK .*\n\s+CMD \["roadie", "healthcheck"\]', DOCKERFILE,
                     re.MULTILINE)
    for line in re.findall(r"^COPY (?!--from)(?:--\S+ )?(.+) \S+$", DOCKERFILE, re.MULTILINE):
        for source in line.split():
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"


def test_compose_upgrades_once_then_runs_two_replicas_on_postgres() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].split("/")[-1].startswith("postgres:")
    migrate, roadie = services["migrate"], services["roadie"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert roadie["command"] == ["run"]
    assert roadie["deploy"]["replicas"] == 2
    assert roadie["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for secret in {s for service in services.values() for s in service.get("secrets", [])}:
        assert secret in compose["secrets"]


def test_the_systemd_unit_runs_reloads_and_stops_roadie() -> None:
    unit = (ROOT / "deploy" / "roadie.service").read_text()
    assert "User=roadie" in unit
    assert re.search(r"^ExecStart=\S+/roadie run$", unit, re.MULTILINE)
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "KillSignal=SIGTERM" in unit


def test_the_container_config_passes_check_config_with_its_secrets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "database_url").write_text("postgresql://roadie:pw@db/roadie\n")
    (secrets / "github_app_key").write_text("-----BEGIN RSA PRIVATE KEY-----\n...\n")
    (secrets / "webhook_secret").write_text("a webhook secret\n")
    config = tmp_path / "roadie.toml"
    config.write_text((ROOT / "deploy" / "roadie.toml").read_text().replace(
        "/run/secrets", str(secrets)))
    assert main(["check-config", str(config)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "database: postgresql+psycopg://roadie:***@db/roadie" in out
    assert f"GitHub API: App 1 (key from file {secrets}/github_app_key" in out
    assert "web server: http://0.0.0.0:8080" in out


def test_init_writes_the_example_and_refuses_to_overwrite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "etc" / "roadie.toml"
    assert main(["init", str(target), "--org", "example-org"]) == 0
    assert "127.0.0.1:8080" in capsys.readouterr().out
    assert 'org = "example-org"' in target.read_text()
    assert main(["check-config", str(target)]) == 0
    assert main(["init", str(target)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
