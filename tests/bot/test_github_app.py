"""Roadie as a GitHub App: the JWT, the org's installation, refreshed tokens, and doctor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth

from bot.cli import main
from bot.config import load_config
from bot.core.ports import PlatformError
from bot.github.app import InstallationAuth
from bot.github.needs import PERMISSIONS
from bot.runtime.app import build_github
from tests.fakes.github import FakeGitHub
from tests.support import write_config

EVERYTHING = {p: level for needs in PERMISSIONS.values() for p, level in needs.items()}
EVERYTHING |= {"issues": "write", "members": "write", "organization_user_blocking": "write"}


def _pem(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
async def github(keys: tuple[str, str]) -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.install_app(keys[1], permissions=dict(EVERYTHING), events=["*"])
    fake.add_user("carol", member=True)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def app_config(tmp_path: Path, github: FakeGitHub, private_key: str) -> Path:
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key)
    assert github.app is not None
    return write_config(tmp_path, {"github": {
        "auth": "app", "app_id": github.app.app_id, "private_key_file": str(key_file),
        "api_url": github.url, "webhook_secret_env": "ROADIE_TEST_APP_SECRET"}})


async def test_roadie_calls_github_as_the_installed_app(
        tmp_path: Path, github: FakeGitHub, keys: tuple[str, str]) -> None:
    port = build_github(load_config(app_config(tmp_path, github, keys[0])))
    assert port is not None
    await port.check_auth()
    assert await port.is_org_member("carol")
    assert len(github.called("GET", "/orgs/jazzband/installation")) == 1
    assert github.app is not None
    tokens = github.called("POST", f"/app/installations/{github.app.installation_id}"
                                   "/access_tokens")
    assert len(tokens) == 1, "one installation token serves many calls"


async def test_a_key_of_another_app_is_refused(tmp_path: Path, github: FakeGitHub) -> None:
    other, _ = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    port = build_github(load_config(app_config(tmp_path, github, other)))
    assert port is not None
    with pytest.raises(PlatformError, match="401 A JSON web token could not be decoded"):
        await port.check_auth()


async def test_installation_tokens_are_refreshed_before_they_expire(
        github: FakeGitHub, keys: tuple[str, str]) -> None:
    now = [datetime.now(UTC)]
    auth = InstallationAuth(Auth.AppAuth(4242, keys[0]), "jazzband", api_url=github.url,
                            now=lambda: now[0])
    first = await asyncio.to_thread(lambda: auth.token)
    now[0] += timedelta(minutes=50)
    assert await asyncio.to_thread(lambda: auth.token) == first
    now[0] += timedelta(minutes=6)  # 4 minutes before it expires: too close
    second = await asyncio.to_thread(lambda: auth.token)
    assert second != first
    assert github.app is not None
    assert set(github.app.tokens) == {first, second}


async def doctor(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = await asyncio.to_thread(main, ["doctor", "--config", str(path)])
    return code, capsys.readouterr().out.splitlines()


async def test_doctor_finds_the_app_in_place(tmp_path: Path, github: FakeGitHub,
                                             keys: tuple[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await doctor(app_config(tmp_path, github, keys[0]), capsys)
    assert code == 0, "\n".join(lines)
    assert "  ok      the key is the App roadie-test's" in lines
    assert "  ok      the App has every permission the enabled capabilities need" in lines
    assert "  ok      the org webhook 1 sends every event Roadie handles" in lines


async def test_doctor_names_a_missing_app_permission_and_event(
        tmp_path: Path, github: FakeGitHub, keys: tuple[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    assert github.app is not None
    github.app.permissions["issues"] = "read"
    del github.app.permissions["organization_user_blocking"]
    github.app.hook_url = "https://roadie.example.org/github/webhook"
    github.app.hook_secret = False
    github.app.events = ["issues", "issue_comment", "push"]
    code, lines = await doctor(app_config(tmp_path, github, keys[0]), capsys)
    assert code == 1
    missing = [line.removeprefix("  MISSING ") for line in lines
               if line.startswith("  MISSING ")]
    assert ("the App lacks the permission issues: write (for people, github_feed, escalation, "
            "onboarding; it has read): add it in the App's settings (Permissions & events), "
            "then accept it in jazzband's installed GitHub Apps") in missing
    assert any(m.startswith("the App lacks the permission organization_user_blocking: write "
                            "(for github_feed, moderation; not granted)") for m in missing)
    assert any(m.startswith("the App's webhook has no secret") for m in missing)
    [events] = [m for m in missing if m.startswith("the App's webhook does not send: ")]
    assert "check_run (for github_feed)" in events
    assert "issues (" not in events, "the App sends issues events"


async def test_doctor_names_an_app_not_installed(tmp_path: Path, github: FakeGitHub,
                                                 keys: tuple[str, str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert github.app is not None
    github.app.installed = False
    code, lines = await doctor(app_config(tmp_path, github, keys[0]), capsys)
    assert code == 1
    assert ("  MISSING the App is not installed on jazzband (404 Not Found): install it from "
            "https://github.com/apps/roadie-test/installations/new") in lines
