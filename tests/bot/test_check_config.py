"""`roadie check-config` with chat platforms: what it can tell without connecting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config
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


def problems_of(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[str, list[str]]:
    """check-config's verdict: what it printed on stdout, and its one list of problems."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith(f"{path}: "), lines
    assert all(line.startswith("  - ") for line in lines[1:]), lines
    assert lines[0] == f"{path}: {len(lines) - 1} problem(s):"
    return captured.out, [line.removeprefix("  - ") for line in lines[1:]]


def test_every_problem_is_named_in_one_round(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {"scheduler": {"lease_ttl": 30},
                                   "digest": {"destination": "digests"},
                                   "escalations": {"breach_repeat": "soon"}})
    assert main(["check-config", str(path)]) == 1
    out, problems = problems_of(capsys, path)
    assert "valid" not in out
    assert any(p.startswith("scheduler.lease_ttl: expected a duration") for p in problems)
    assert any(p.startswith("escalations.breach_repeat: 'soon' is not a duration")
               for p in problems)
    assert ("digest.destination: 'digests' is not a destination; known: admins, digest, feed, "
            "moderators, modlog (add a [destinations.digests] table, or use one of those)"
            ) in problems


def test_destination_names_in_capability_settings_and_feeds_are_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {"github_feed": {"ping_destination": "admin"}})
    text = path.read_text().replace('"destination" = "feed"', '"destination" = "feeds"')
    path.write_text(text)
    assert main(["check-config", "--config", str(path)]) == 1
    _, problems = problems_of(capsys, path)
    assert any(p.startswith("github_feed.ping_destination: 'admin' is not a destination")
               for p in problems)
    assert any(p.startswith("feeds[0].destination: 'feeds' is not a destination")
               for p in problems)


def test_run_refuses_a_misspelt_destination_before_starting(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"digest": {"destination": "digests"}})
    with pytest.raises(ConfigError) as refused:
        load_config(path)  # what `roadie run` reads first
    assert refused.value.problems[0].startswith(
        "digest.destination: 'digests' is not a destination")


@pytest.mark.parametrize(("make", "reason"), [
    (lambda d: d / "absent", "does not exist"),
    (lambda d: d, "is a directory, not a file"),
    (lambda d: (d / "empty").write_text("\n") and d / "empty", "is empty")])
def test_a_secret_file_that_cannot_give_the_secret_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        make: Callable[[Path], Path], reason: str) -> None:
    secret = make(tmp_path)
    path = write_config(tmp_path, {"github": {"token_file": str(secret)}})
    assert main(["check-config", str(path)]) == 1
    _, problems = problems_of(capsys, path)
    assert problems == [f"github.token_file: {secret} {reason}; fix the path or the file's "
                        "permissions, or remove the key"]


@pytest.mark.parametrize("pasted", [
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    TOKEN, KEY, "0123456789abcdef0123456789abcdef01234567"])
def test_a_secret_pasted_as_a_variable_name_is_refused_and_not_repeated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], pasted: str) -> None:
    path = write_config(tmp_path, {"github": {"token_env": pasted}})
    assert main(["check-config", str(path)]) == 1
    captured = capsys.readouterr()
    assert pasted not in captured.out + captured.err
    assert "github.token_env: expected the NAME of an environment variable" in captured.err
    assert "looks like a secret itself" in captured.err


@pytest.mark.parametrize("name", ["ROADIE_GITHUB_TOKEN", "MY_ORG_ROADIE_GITHUB_APP_TOKEN_2",
                                  "roadie_token"])
def test_ordinary_variable_names_pass(tmp_path: Path, name: str) -> None:
    assert main(["check-config", str(write_config(tmp_path, {"github": {"token_env": name}}))
                 ]) == 0


@pytest.mark.usefixtures("secrets")
def test_discord_without_channels_is_not_valid(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, {"discord": PLATFORMS["discord"]})
    assert main(["check-config", "--config", str(path)]) == 1
    out, problems = problems_of(capsys, path)
    assert "valid" not in out
    assert len(problems) == 5
    assert all(p.endswith("Discord is enabled, so nothing for " + p.split(".")[1]
                          + " would reach Discord") for p in problems)
