"""The config file: one TOML document, validated at load.

Errors name the key, the value and what was expected. Secrets are never read from the TOML:
each comes from an environment variable or from a file whose path the config names.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from bot.core.settings import Duration, DurationOrOff, Section
from governance.db import database_url

REQUIRED_DESTINATIONS = ("admins", "moderators", "modlog", "digest")
SECRET_KEYS = {"token", "api_key", "secret", "webhook_secret", "password", "key"}
DEFAULT_COGS = ["cogs.people", "cogs.projects", "cogs.github_feed", "cogs.escalation",
                "cogs.moderation", "cogs.onboarding", "cogs.voting", "cogs.digest"]


class ConfigError(Exception):
    """The config cannot be used; `problems` lists each one as `key: what is wrong`."""

    def __init__(self, problems: list[str], path: str = "") -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.path = path


@dataclass(frozen=True)
class Secret:
    """Where a secret comes from; its value is read only when asked for and never printed."""

    env: str
    file: str | None = None

    def source(self) -> str:
        return f"file {self.file}" if self.file else f"${self.env}"

    def value(self) -> str | None:
        if self.file:
            try:
                return Path(self.file).read_text().strip() or None
            except OSError:
                return None
        return os.environ.get(self.env) or None

    def __repr__(self) -> str:
        return f"Secret({self.source()})"


class SecretHolder(Section):
    """A section that names secrets; writing a secret itself into it is an error."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key in SECRET_KEYS:
                    raise ValueError(
                        f"`{key}` must not be written in the config file; set it in the "
                        f"environment variable named by `{key}_env`, or put it in a file named "
                        f"by `{key}_file`"
                    )
        return data


class BotSection(Section):
    name: str = "roadie"
    org: str = Field(min_length=1, max_length=39)
    github_login: str = "roadie-bot"
    cogs: list[str] = Field(default_factory=lambda: list(DEFAULT_COGS))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    instance: str = Field(default="", max_length=100)


class DatabaseSection(Section):
    url: str = "roadie.db"


class ServerSection(Section):
    bind: str = "127.0.0.1:8080"
    enabled: bool = True

    @field_validator("bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("expected host:port, such as 127.0.0.1:8080")
        return value

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


class GitHubSection(SecretHolder):
    api_url: str = "https://api.github.com"
    token_env: str = "ROADIE_GITHUB_TOKEN"
    token_file: str | None = None
    webhook_secret_env: str = "ROADIE_WEBHOOK_SECRET"
    webhook_secret_file: str | None = None
    webhook_path: str = "/github/webhook"
    max_body: int = Field(default=25 * 1024 * 1024, ge=1024)
    insecure_allow_unsigned_webhooks: bool = False
    org: str = Field(default="", max_length=39)
    """Only deliveries about this org are acted on; "" acts on every delivery."""
    also_accept: list[str] = Field(default_factory=list)
    """Other owners whose deliveries are acted on too (an appeals repository elsewhere)."""

    @property
    def token(self) -> Secret:
        return Secret(self.token_env, self.token_file)

    @property
    def webhook_secret(self) -> Secret:
        return Secret(self.webhook_secret_env, self.webhook_secret_file)


class DiscordSection(SecretHolder):
    enabled: bool = False
    guild_id: str = ""
    token_env: str = "ROADIE_DISCORD_TOKEN"
    token_file: str | None = None

    @field_validator("guild_id")
    @classmethod
    def _snowflake(cls, value: str) -> str:
        if value and not re.fullmatch(r"\d{15,21}", value):
            raise ValueError("expected a Discord id: 15 to 21 digits, as a quoted string")
        return value

    @property
    def token(self) -> Secret:
        return Secret(self.token_env, self.token_file)


class ZulipSection(SecretHolder):
    enabled: bool = False
    site: str = ""
    email: str = ""
    api_key_env: str = "ROADIE_ZULIP_API_KEY"
    api_key_file: str | None = None

    @property
    def api_key(self) -> Secret:
        return Secret(self.api_key_env, self.api_key_file)


class ConsoleSection(Section):
    enabled: Literal["auto", "always", "never"] = "auto"


class PeopleSection(Section):
    admins: list[str] = Field(default_factory=list)
    moderators: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    link_code_ttl: Duration = Field(default="24h", validate_default=True)  # type: ignore[assignment]
    members_from_github: bool = True
    probation: DurationOrOff = Field(default="14d", validate_default=True)  # type: ignore[assignment]
    vouches: int = Field(default=1, ge=1)


class ProjectsSection(Section):
    names: list[str] = Field(default_factory=list)


class DestinationSection(Section):
    description: str = ""
    discord_channel: str = ""
    zulip_stream: str = ""
    zulip_topic: str = ""

    @field_validator("discord_channel")
    @classmethod
    def _snowflake(cls, value: str) -> str:
        if value and not re.fullmatch(r"\d{15,21}", value):
            raise ValueError("expected a Discord channel id: 15 to 21 digits, as a quoted string")
        return value


class FeedSection(Section):
    repos: list[str] = Field(min_length=1)
    destination: str
    events: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    branches: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    ignore_bots: bool = True
    ignore_private: bool = False


class SchedulerSection(Section):
    lease_ttl: Duration = Field(default="30s", validate_default=True)  # type: ignore[assignment]


class OutboxSection(Section):
    poll_interval: Duration = Field(default="1s", validate_default=True)  # type: ignore[assignment]
    max_backoff: Duration = Field(default="10m", validate_default=True)  # type: ignore[assignment]
    give_up_after: int = Field(default=20, ge=1)


class RoadieConfig(Section):
    """The whole file. Sections of cogs are checked by the cogs' own models (`cog_sections`)."""

    model_config = Section.model_config | {"extra": "allow"}

    bot: BotSection
    database: DatabaseSection = DatabaseSection()
    server: ServerSection = ServerSection()
    github: GitHubSection = GitHubSection()
    discord: DiscordSection = DiscordSection()
    zulip: ZulipSection = ZulipSection()
    console: ConsoleSection = ConsoleSection()
    people: PeopleSection = PeopleSection()
    projects: ProjectsSection = ProjectsSection()
    destinations: dict[str, DestinationSection] = Field(default_factory=dict)
    feeds: list[FeedSection] = Field(default_factory=list)
    scheduler: SchedulerSection = SchedulerSection()
    outbox: OutboxSection = OutboxSection()

    base_dir: Path = Path(".")

    @property
    def cog_sections(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def database_url(self) -> str:
        return database_url(self.database.url, self.base_dir)

    @property
    def instance_name(self) -> str:
        """`[bot] instance`, or the host name and a hash of the config's place and database."""
        return self.bot.instance or default_instance_name(self.base_dir, self.database_url)

    @property
    def chat_platforms(self) -> list[str]:
        return [name for name, section in (("discord", self.discord), ("zulip", self.zulip))
                if section.enabled]

    @property
    def console_enabled(self) -> bool:
        mode = self.console.enabled
        return mode == "always" or (mode == "auto" and not self.chat_platforms)


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def describe_errors(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        key = _location(tuple(item["loc"]))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key (check its spelling; config.example.toml lists "
                            "every key)")
        elif item["type"] == "missing":
            problems.append(f"{key}: missing; it is required")
        elif isinstance(item.get("input"), str | int | float | bool):
            problems.append(f"{key}: {message} (got {item['input']!r})")
        else:
            problems.append(f"{key}: {message}")
    return problems


def default_instance_name(config_dir: Path, database: str) -> str:
    """The host name and a short hash of where the config lives and which database it uses:
    the same across restarts, different for two deployments on one host."""
    digest = hashlib.sha256(f"{config_dir.resolve()}\n{database}".encode()).hexdigest()[:8]
    return f"{socket.gethostname()}-{digest}"


def load_config(path: str | Path, *, environ: dict[str, str] | None = None) -> RoadieConfig:
    """Read and validate a config file; raise ConfigError listing every problem found."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(["no such file (copy config.example.toml to start)"], str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"not valid TOML: {error}"], str(path)) from None
    if "base_dir" in raw:
        raise ConfigError(["base_dir: unknown key"], str(path))
    try:
        config = RoadieConfig.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as error:
        raise ConfigError(describe_errors(error), str(path)) from None
    problems = check_references(config) + check_secrets(config)
    if problems:
        raise ConfigError(problems, str(path))
    return config


def check_references(config: RoadieConfig) -> list[str]:
    problems = []
    for name in REQUIRED_DESTINATIONS:
        if name not in config.destinations:
            problems.append(f"destinations.{name}: missing; Roadie posts there "
                            f"(add a [destinations.{name}] table)")
    known = ", ".join(sorted(config.destinations)) or "none"
    for index, feed in enumerate(config.feeds):
        if feed.destination not in config.destinations:
            problems.append(f"feeds[{index}].destination: {feed.destination!r} is not a "
                            f"destination; known: {known}")
    return problems


def check_secrets(config: RoadieConfig) -> list[str]:
    """Every enabled platform needs its secret; say which variable or file is missing."""
    problems = []
    needed = [("discord", config.discord.enabled, config.discord.token),
              ("zulip", config.zulip.enabled, config.zulip.api_key)]
    for section, enabled, secret in needed:
        if enabled and secret.value() is None:
            problems.append(f"{section}: enabled, but its secret is not set; set {secret.source()}")
    if config.zulip.enabled:
        if not config.zulip.site.startswith(("http://", "https://")):
            problems.append(f"zulip.site: expected the server's URL, such as "
                            f"https://chat.example.org (got {config.zulip.site!r})")
        if "@" not in config.zulip.email:
            problems.append(f"zulip.email: expected the bot's email address "
                            f"(got {config.zulip.email!r})")
    if config.discord.enabled and not config.discord.guild_id:
        problems.append("discord.guild_id: missing; Roadie serves one guild (server)")
    return problems
