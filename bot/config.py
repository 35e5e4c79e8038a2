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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.core.settings import Duration, DurationOrOff, Section
from bot.web.settings import WebSection
from governance.audit.keys import AuditKey, BadKey
from governance.db import database_url

REQUIRED_DESTINATIONS = ("admins", "moderators", "modlog", "digest")
SECRET_KEYS = {"token", "api_key", "secret", "webhook_secret", "password", "key", "private_key"}
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xoxb-", "xoxp-")
SECRET_LOOKALIKE = "env_name_looks_like_a_secret"
"""The pydantic error type of an `*_env` value that looks like a secret: never echoed."""


def _looks_random(value: str) -> bool:
    """A run of letters and digits without separators, long and mixed like a generated key."""
    if len(value) < 20 or "_" in value.strip("_"):
        return False
    kinds = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                 any(c.isdigit() for c in value)))
    return kinds >= 2


def _env_name(value: str) -> str:
    if (not _ENV_NAME.fullmatch(value) or value.lower().startswith(_TOKEN_PREFIXES)
            or _looks_random(value)):
        raise PydanticCustomError(
            SECRET_LOOKALIKE,
            "expected the NAME of an environment variable (such as ROADIE_GITHUB_TOKEN), and "
            "this looks like a secret itself; it is not repeated here. Remove it from the "
            "config, revoke it if the file was shared, and put the secret in the variable")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


def _empty_or(pattern: str, expected: str) -> AfterValidator:
    """A field that is empty or matches `pattern` whole; else "expected <expected>"."""
    whole = re.compile(pattern)

    def check(value: str) -> str:
        if value and not whole.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value
    return AfterValidator(check)


_SNOWFLAKE = r"\d{15,21}"
DEFAULT_COGS = ["cogs.people", "cogs.projects", "cogs.github_feed", "cogs.escalation",
                "cogs.moderation", "cogs.onboarding", "cogs.voting", "cogs.digest",
                "cogs.audit"]
DECISIONS = ["vote.close", "moderation.block", "moderation.lift", "role.grant", "role.revoke"]


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

    def file_problem(self) -> str | None:
        """Why the named file cannot give the secret, or None (no file named, or it can)."""
        if not self.file:
            return None
        try:
            text = Path(self.file).read_text()
        except FileNotFoundError:
            return f"{self.file} does not exist"
        except IsADirectoryError:
            return f"{self.file} is a directory, not a file"
        except PermissionError:
            return f"{self.file} cannot be read by this user (permission denied)"
        except (OSError, UnicodeDecodeError) as error:
            return f"{self.file} cannot be read ({getattr(error, 'strerror', None) or error})"
        return f"{self.file} is empty" if not text.strip() else None

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
    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = "text"
    log_levels: dict[str, LogLevel] = Field(default_factory=dict)
    """Per-logger levels, such as {"discord" = "INFO"}; library chatter is at WARNING."""
    instance: str = Field(default="", max_length=100)


class DatabaseSection(SecretHolder):
    url: str = "roadie.db"
    url_env: EnvName | None = None
    url_file: str | None = None

    @property
    def url_secret(self) -> Secret | None:
        """Where the URL comes from when it holds a password: a variable or a file."""
        if self.url_env is None and self.url_file is None:
            return None
        return Secret(self.url_env or "", self.url_file)


class ServerSection(Section):
    bind: str = "127.0.0.1:8080"
    enabled: bool = True
    idle_timeout: Duration = Field(default="15s", validate_default=True)  # type: ignore[assignment]
    max_connections: int = Field(default=2048, ge=16)

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
    auth: Literal["token", "app"] = "token"
    token_env: EnvName = "ROADIE_GITHUB_TOKEN"
    token_file: str | None = None
    app_id: int | None = Field(default=None, ge=1)
    private_key_env: EnvName = "ROADIE_GITHUB_APP_PRIVATE_KEY"
    private_key_file: str | None = None
    installation_id: int | None = Field(default=None, ge=1)
    """The App's installation on the org; found by asking GitHub when left out."""
    webhook_secret_env: EnvName = "ROADIE_WEBHOOK_SECRET"
    webhook_secret_file: str | None = None
    webhook_path: str = "/github/webhook"
    max_body: int = Field(default=25 * 1024 * 1024, ge=1024)
    body_memory: int = Field(default=64 * 1024 * 1024, ge=1024)
    read_timeout: Duration = Field(default="10s", validate_default=True)  # type: ignore[assignment]
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

    @property
    def private_key(self) -> Secret:
        return Secret(self.private_key_env, self.private_key_file)

    @property
    def credential(self) -> Secret:
        """The secret GitHub access needs: the App's private key, or the token."""
        return self.private_key if self.auth == "app" else self.token


class DiscordSection(SecretHolder):
    enabled: bool = False
    guild_id: Annotated[str, _empty_or(
        _SNOWFLAKE, "a Discord id: 15 to 21 digits, as a quoted string")] = ""
    token_env: EnvName = "ROADIE_DISCORD_TOKEN"
    token_file: str | None = None

    @property
    def token(self) -> Secret:
        return Secret(self.token_env, self.token_file)


class ZulipSection(SecretHolder):
    enabled: bool = False
    site: str = ""
    email: str = ""
    api_key_env: EnvName = "ROADIE_ZULIP_API_KEY"
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
    discord_channel: Annotated[str, _empty_or(
        _SNOWFLAKE, "a Discord channel id: 15 to 21 digits, as a quoted string")] = ""
    zulip_stream: str = ""
    zulip_topic: str = ""


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


class AuditSection(SecretHolder):
    """Signed checkpoints of the audit log, and where they are published."""

    key_env: str = "ROADIE_AUDIT_KEY"
    key_file: str | None = None
    origin: str = ""
    checkpoint_every: Duration = Field(default="1h", validate_default=True)  # type: ignore[assignment]
    decisions: list[str] = Field(default_factory=lambda: list(DECISIONS))
    destination: str = "audit"
    checkpoints_file: str = ""
    github_repo: Annotated[str, _empty_or(
        r"[A-Za-z0-9._-]{1,100}", "the name of a repository of the org, such as governance")] = ""
    github_issue: int = Field(default=0, ge=0)

    @property
    def key(self) -> Secret:
        return Secret(self.key_env, self.key_file)


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
    audit: AuditSection = AuditSection()
    web: WebSection = WebSection()

    base_dir: Path = Path(".")

    @property
    def cog_sections(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def database_url(self) -> str:
        secret = self.database.url_secret
        url = (secret.value() or "") if secret is not None else self.database.url
        return database_url(url, self.base_dir)

    def audit_key(self) -> AuditKey | None:
        """The audit key, when one is set (`check_secrets` has said whether it reads)."""
        text = self.audit.key.value()
        return AuditKey.from_text(text) if text else None

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
        elif item["type"] == SECRET_LOOKALIKE:
            problems.append(f"{key}: {message}")
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


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(["no such file (`roadie init PATH` writes a starter config)"],
                          str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError([f"cannot be read: {reason}"], str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"not valid TOML: {error}"], str(path)) from None


def validate_config(path: str | Path) -> tuple[RoadieConfig | None, dict[str, Any], list[str]]:
    """Every problem of a config file at once: its keys, its references (destinations,
    also in the cogs' sections), its secrets. The config is None when its keys are wrong."""
    from bot.cog_settings import cog_problems  # it reads this module's models

    path = Path(path)
    raw = read_toml(path)
    if "base_dir" in raw:
        return None, raw, ["base_dir: unknown key"]
    problems: list[str] = []
    config: RoadieConfig | None
    try:
        config = RoadieConfig.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as error:
        config = None
        problems += describe_errors(error)
    destinations = raw.get("destinations")
    names = set(destinations) if isinstance(destinations, dict) else set()
    problems += cog_problems(raw, config, names)
    if config is not None:
        problems += check_references(config) + check_secrets(config)
    return config, raw, problems


def load_config(path: str | Path) -> RoadieConfig:
    """Read and validate a config file; raise ConfigError listing every problem found."""
    config, _raw, problems = validate_config(path)
    if problems or config is None:
        raise ConfigError(problems, str(path))
    return config


def unknown_destination(key: str, name: str, known: set[str] | frozenset[str]) -> str:
    listed = ", ".join(sorted(known)) or "none"
    return (f"{key}: {name!r} is not a destination; known: {listed} (add a "
            f"[destinations.{name}] table, or use one of those)")


def check_references(config: RoadieConfig) -> list[str]:
    problems = []
    for name in REQUIRED_DESTINATIONS:
        if name not in config.destinations:
            problems.append(f"destinations.{name}: missing; Roadie posts there "
                            f"(add a [destinations.{name}] table)")
    known = set(config.destinations)
    for index, feed in enumerate(config.feeds):
        if feed.destination not in known:
            problems.append(unknown_destination(f"feeds[{index}].destination",
                                                feed.destination, known))
    return problems


def _secrets(config: RoadieConfig) -> list[tuple[str, str, Secret]]:
    """(section, key, secret) of every secret the config names."""
    github, database = config.github, config.database
    named = [("github", "token", github.token), ("github", "webhook_secret",
                                                 github.webhook_secret),
             ("github", "private_key", github.private_key),
             ("discord", "token", config.discord.token),
             ("zulip", "api_key", config.zulip.api_key)]
    if database.url_secret is not None:
        named.append(("database", "url", database.url_secret))
    return named


def check_secrets(config: RoadieConfig) -> list[str]:
    """Every named secret file must be readable; every enabled service needs its secret."""
    problems = []
    for section, key, secret in _secrets(config):
        problem = secret.file_problem()
        if problem is not None:
            problems.append(f"{section}.{key}_file: {problem}; fix the path or the file's "
                            "permissions, or remove the key")
    database = config.database
    if database.url_env is not None and database.url_file is not None:
        problems.append("database: url_env and url_file both set; keep one")
    elif database.url_env is not None and not os.environ.get(database.url_env):
        problems.append(f"database.url_env: ${database.url_env} is not set; set it to the "
                        "database URL, such as postgresql://roadie:PASSWORD@db/roadie")
    github = config.github
    if github.auth == "app":
        if github.app_id is None:
            problems.append("github.app_id: missing; auth = \"app\" needs the App's id (the "
                            "App's settings page shows it)")
        if github.private_key.file_problem() is None and github.private_key.value() is None:
            problems.append(f"github: auth = \"app\", but the App's private key is not set; "
                            f"set {github.private_key.source()}")
    needed = [("discord", config.discord.enabled, config.discord.token),
              ("zulip", config.zulip.enabled, config.zulip.api_key)]
    for section, enabled, secret in needed:
        if enabled and secret.file_problem() is None and secret.value() is None:
            problems.append(f"{section}: enabled, but its secret is not set; set {secret.source()}")
    if config.zulip.enabled:
        if not config.zulip.site.startswith(("http://", "https://")):
            problems.append(f"zulip.site: expected the server's URL, such as "
                            f"https://chat.example.org (got {config.zulip.site!r})")
        if "@" not in config.zulip.email:
            problems.append(f"zulip.email: expected the bot's email address "
                            f"(got {config.zulip.email!r})")
    key = config.audit.key.value()
    if key is not None:
        try:
            AuditKey.from_text(key)
        except BadKey as error:
            problems.append(f"audit: the key in {config.audit.key.source()} is {error}; "
                            "`roadie audit keygen` writes one")
    if config.audit.github_issue and not config.audit.github_repo:
        problems.append("audit.github_issue: set, but audit.github_repo is not")
    if config.discord.enabled and not config.discord.guild_id:
        problems.append("discord.guild_id: missing; Roadie serves one guild (server)")
    return problems
