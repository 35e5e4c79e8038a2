"""The config: every problem named by key, value and what was expected; secrets kept out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config
from tests.support import EXAMPLE, write_config


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return error.value.problems


def test_the_example_loads_as_is() -> None:
    config = load_config(EXAMPLE)
    assert config.console_enabled
    assert config.people.admins == ["alice"]
    assert config.database_url.startswith("sqlite:///")


def test_errors_name_key_value_and_expectation(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"people": {"link_code_ttl": "3 days"},
                                   "server": {"bind": "localhost"},
                                   "bot": {"colour": "blue"}})
    problems = _problems(path)
    assert ("people.link_code_ttl: '3 days' is not a duration such as 30s, 15m, 72h, 7d or "
            "1d12h (got '3 days')") in problems
    assert any(p.startswith("server.bind: expected host:port") and "'localhost'" in p
               for p in problems)
    assert any(p.startswith("bot.colour: unknown key") for p in problems)


@pytest.mark.parametrize(("path", "bad", "expected"), [
    (("discord", "guild_id"), "my-server", "expected a Discord id: 15 to 21 digits"),
    (("destinations", "feed", "discord_channel"), "12345",
     "expected a Discord channel id: 15 to 21 digits"),
    (("audit", "github_repo"), "org/governance", "expected the name of a repository of the org"),
])
def test_ids_and_names_are_checked_when_given(tmp_path: Path, path: tuple[str, ...], bad: str,
                                               expected: str) -> None:
    def setting(value: str) -> dict[str, object]:
        nested: dict[str, object] = {path[-1]: value}
        for key in reversed(path[:-1]):
            nested = {key: nested}
        return nested

    problems = _problems(write_config(tmp_path, setting(bad)))
    assert any(expected in p and repr(bad) in p for p in problems), problems
    load_config(write_config(tmp_path, setting("")))  # left empty: not configured


def test_a_secret_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"discord": {"token": "super-secret-value"}})
    problems = _problems(path)
    assert any("`token` must not be written in the config file" in p for p in problems)
    assert not any("super-secret-value" in p for p in problems)


def test_enabled_platforms_need_their_secret(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROADIE_DISCORD_TOKEN", raising=False)
    path = write_config(tmp_path, {"discord": {"enabled": True,
                                               "guild_id": "123456789012345678"}})
    assert _problems(path) == ["discord: enabled, but its secret is not set; set "
                               "$ROADIE_DISCORD_TOKEN"]
    secret_file = tmp_path / "token"
    secret_file.write_text("from-a-file\n")
    path = write_config(tmp_path, {"discord": {"enabled": True, "token_file": str(secret_file),
                                               "guild_id": "123456789012345678"}})
    config = load_config(path)
    assert config.discord.token.value() == "from-a-file"
    assert "from-a-file" not in repr(config)
    monkeypatch.setenv("ROADIE_DISCORD_TOKEN", "from-env")
    path = write_config(tmp_path, {"discord": {"enabled": True,
                                               "guild_id": "123456789012345678"}})
    assert load_config(path).discord.token.value() == "from-env"


def test_references_are_checked(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"feeds": [{"repos": ["*"], "destination": "nowhere"}]})
    [problem] = _problems(path)
    assert problem.startswith("feeds[0].destination: 'nowhere' is not a destination; known:")


def test_unknown_sections_and_cogs(tmp_path: Path) -> None:
    text = "\n".join(_problems(write_config(tmp_path, {"escalatoins": {"x": 1},
                                                       "bot": {"cogs": ["cogs.nope"]}})))
    assert "cannot import 'cogs.nope'" in text
    assert "escalatoins: unknown section" in text


def test_sections_of_left_out_builtin_cogs_are_kept(tmp_path: Path) -> None:
    from bot.runtime.loader import load_cog_settings

    config = load_config(write_config(tmp_path, {"bot": {"cogs": ["cogs.people"]}}))
    assert [cls.name for cls, _ in load_cog_settings(config)] == ["people"]


def test_the_database_url_comes_from_a_variable(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADIE_DATABASE_URL", "postgresql://roadie:s3cret@db.example.org/roadie")
    config = load_config(write_config(tmp_path, {"database": {
        "url_env": "ROADIE_DATABASE_URL"}}))
    assert config.database_url == "postgresql+psycopg://roadie:s3cret@db.example.org/roadie"


def test_the_database_url_comes_from_a_file(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "database-url"
    secret.write_text("postgresql://roadie:s3cret@db.example.org/roadie\n")
    path = write_config(tmp_path, {"database": {"url_file": str(secret)}})
    assert load_config(path).database_url.endswith("roadie:s3cret@db.example.org/roadie")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "database: postgresql+psycopg://roadie:***@db.example.org/roadie" in out
    assert "s3cret" not in out


def test_a_missing_database_url_variable_or_file_is_named(tmp_path: Path) -> None:
    problems = _problems(write_config(tmp_path, {"database": {"url_env": "NOT_SET_HERE"}}))
    assert problems == ["database.url_env: $NOT_SET_HERE is not set; set it to the database "
                        "URL, such as postgresql://roadie:PASSWORD@db/roadie"]
    problems = _problems(write_config(tmp_path, {"database": {"url_file": str(tmp_path / "x")}}))
    assert problems == [f"database.url_file: {tmp_path / 'x'} does not exist; fix the path or "
                        "the file's permissions, or remove the key"]
