"""`roadie check-config` with chat platforms: what it can tell without connecting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.support import DESTINATIONS, write_config

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GfAkEd.abcdefghijklmnopqrstuvwxyz012345"
KEY = "abcdefghijklmnopqrstuvwxyz012345"
PLATFORMS = {"discord": {"enabled": True, "guild_id": "123456789012345678"},
             "zulip": {"enabled": True, "site": "https://chat.example.org",
                       "email": "roadie-bot@chat.example.org"}}


def mapped(**extra: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"discord_channel": f"22345678901234567{i}", "zulip_stream": "governance",
                   "zulip_topic": name} | extra.get(name, {})
            for i, name in enumerate(DESTINATIONS)}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADIE_DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("ROADIE_ZULIP_API_KEY", KEY)


@pytest.mark.usefixtures("secrets")
def test_a_fully_mapped_config_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {**PLATFORMS, "destinations": mapped()})
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  platforms: discord, zulip" in out
    assert "    admins: discord #223456789012345670, zulip governance > admins" in out


@pytest.mark.usefixtures("secrets")
def test_unmapped_destinations_and_long_topics_are_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    destinations = mapped(feed={"discord_channel": "", "zulip_stream": "", "zulip_topic": ""},
                          digest={"zulip_topic": "t" * 61})
    path = write_config(tmp_path, {**PLATFORMS, "destinations": destinations})
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[1:] == [
        "  - destinations.digest.zulip_topic: longer than Zulip's 60 characters (61)",
        "  - destinations.feed.discord_channel: missing; Discord is enabled, so nothing for "
        "feed would reach Discord",
        "  - destinations.feed.zulip_stream: missing; Zulip is enabled, so nothing for feed "
        "would reach Zulip"]


def test_credentials_that_cannot_be_right_are_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ROADIE_DISCORD_TOKEN", "paste-the-token-here")
    monkeypatch.setenv("ROADIE_ZULIP_API_KEY", "zuliprc")
    path = write_config(tmp_path, {**PLATFORMS, "destinations": mapped()})
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "discord: the token in $ROADIE_DISCORD_TOKEN does not look like a bot token" in err
    assert "zulip: the API key in $ROADIE_ZULIP_API_KEY does not look like one" in err
