"""The `roadie` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import roadie_version
from bot.audit_cli import add_commands as add_audit_commands
from bot.config import (
    ConfigError,
    DestinationSection,
    DiscordSection,
    RoadieConfig,
    ZulipSection,
    load_config,
    validate_config,
)
from bot.core.ports import PlatformError
from bot.doctor import diagnose, platform_problems
from bot.runtime import eventloop
from bot.runtime.app import Roadie, StartupError
from bot.runtime.logs import configure_logging
from bot.runtime.webhooks import signature_for
from governance.db import Database
from governance.durations import parse_duration
from governance.inbox.service import find_delivery
from governance.migrate import schema_state, upgrade

DEFAULT_CONFIG = os.environ.get("ROADIE_CONFIG", "roadie.toml")


def _load(path: str) -> RoadieConfig:
    return load_config(path)


def _print_problems(path: str, problems: Sequence[str]) -> None:
    print(f"{path}: {len(problems)} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


def _logging(config: RoadieConfig) -> list[str]:
    bot = config.bot
    return configure_logging(bot.log_level, bot.log_format, bot.log_levels)


# --- run -------------------------------------------------------------------------------------

log = logging.getLogger("roadie")


async def _reload(roadie: Roadie, path: str) -> None:
    """SIGHUP: read the config again and apply what can change while running."""
    try:
        config = await asyncio.to_thread(load_config, path)
    except ConfigError as error:
        log.error("SIGHUP: %s not reloaded, %d problem(s): %s; still running as before",
                  path, len(error.problems), "; ".join(error.problems))
        return
    levels = _logging(config)
    try:
        done = await asyncio.to_thread(roadie.reload, config)
    except Exception:
        log.exception("SIGHUP: reloading %s failed; still running", path)
        return
    if levels:
        done.append(f"log levels: {', '.join(levels)}")
    log.info("SIGHUP: reloaded %s: %s", path, "; ".join(done))


async def _serve(roadie: Roadie, config_path: str | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()
    if config_path is not None:
        def on_hangup() -> None:
            task = loop.create_task(_reload(roadie, config_path))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    try:
        await roadie.start(before_serving=freeze_what_start_up_made)
    except BaseException:
        await roadie.stop()
        raise
    freeze_what_the_platforms_made()
    try:
        await stop.wait()
    finally:
        logging.getLogger("roadie").info("shutting down")
        await roadie.stop()


FULL_COLLECTION_EVERY = 100
"""Collections of the middle generation between two full ones (Python's default: 10)."""


def freeze_what_start_up_made() -> None:
    """Leave the objects made at start-up (modules, the ORM's mappings, the cogs: most of
    what the process holds, and kept to its end) out of the garbage collector's full
    collections, and make those rarer. Called before the server accepts requests: the
    collection that precedes the freeze takes about 0.1 s, which no request should wait
    for.

    A full collection stops the event loop for as long as it takes: over everything, 0.1-0.3
    s; without what start-up made, still 30-60 ms with a thousand connections open, which
    it did every ten seconds or so while connections came and went by the hundred. What it
    finds (cycles that lived long) is little: a tenth as many full collections cost little
    memory."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def freeze_what_the_platforms_made() -> None:
    """The same for what connecting to the chat platforms made, once the server already
    serves: only the young generations are collected first, which takes milliseconds (a
    cycle of start-up that outlived them stays, once)."""
    gc.collect(1)
    gc.freeze()


def _stop_before_start(_signal: int, _frame: object) -> None:
    raise SystemExit(0)  # nothing has started yet: nothing to finish


def cmd_run(args: argparse.Namespace) -> int:
    # Until the event loop takes the signals over: SIGTERM ends cleanly, SIGHUP never kills.
    signal.signal(signal.SIGTERM, _stop_before_start)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config = _load(args.config)
    if args.console:
        config = config.model_copy(update={"console": config.console.model_copy(
            update={"enabled": "always"})})
    _logging(config)
    try:
        eventloop.run(_serve(Roadie(config), args.config))
    except (StartupError, PlatformError) as error:
        print(f"roadie: {error}", file=sys.stderr)
        return 2
    return 0


# --- check-config ----------------------------------------------------------------------------


def _partial_config(raw: dict[str, Any]) -> RoadieConfig | None:
    """The chat platforms' sections alone, when the rest of the file is wrong."""
    try:
        destinations = raw.get("destinations") or {}
        return RoadieConfig.model_construct(
            discord=DiscordSection.model_validate(raw.get("discord") or {}),
            zulip=ZulipSection.model_validate(raw.get("zulip") or {}),
            destinations={name: DestinationSection.model_validate(value)
                          for name, value in destinations.items()})
    except (ValidationError, AttributeError, TypeError):
        return None


def _github_summary(config: RoadieConfig, github: object) -> str:
    settings = config.github
    if settings.auth == "app":
        installation = settings.installation_id or f"found for {config.bot.org}"
        return (f"App {settings.app_id} (key from {settings.private_key.source()}, "
                f"installation {installation})")
    token = settings.token.source()
    return f"token from {token}" if github else f"off (no token in {token})"


def cmd_check_config(args: argparse.Namespace) -> int:
    path = args.path or args.config
    try:
        config, raw, problems = validate_config(path)
    except ConfigError as error:
        _print_problems(path, error.problems)
        return 1
    platform_config = config or _partial_config(raw)
    if platform_config is not None:
        problems += platform_problems(platform_config)
    if problems or config is None:
        _print_problems(path, problems)
        return 1
    roadie = Roadie(config, transports=[], use_config_github=True)
    platforms = config.chat_platforms + (["console"] if config.console_enabled else [])
    print(f"{path} is valid.")
    print(f"  org: {config.bot.org}")
    print(f"  platforms: {', '.join(platforms)}")
    print(f"  database: {roadie.db.describe()}")
    print(f"  web server: {'http://' + config.server.bind if config.server.enabled else 'off'}")
    receiver = ("on at " + config.github.webhook_path) if roadie.receiver else (
        f"off (no secret in {config.github.webhook_secret.source()})")
    print(f"  GitHub webhooks: {receiver}")
    print(f"  GitHub API: {_github_summary(config, roadie.github)}")
    key = config.audit_key()
    audit = (f"checkpoints signed by {key.public.text()} (key from {config.audit.key.source()})"
             if key else f"no checkpoints, no secret ballots (no key in "
                         f"{config.audit.key.source()})")
    print(f"  audit: {audit}")
    print("  destinations:")
    for name, dest in sorted(config.destinations.items()):
        places = [f"discord #{dest.discord_channel}" if dest.discord_channel else "",
                  f"zulip {dest.zulip_stream} > {dest.zulip_topic}" if dest.zulip_stream else ""]
        mapped = ", ".join(p for p in places if p) or "console only"
        print(f"    {name}: {mapped}")
    print(f"  cogs: {', '.join(c.name for c in roadie.cogs)}")
    print(f"  commands: {len(roadie.registry)}; scheduled jobs: {len(roadie.jobs)}")
    roadie.db.dispose()
    if config.chat_platforms:
        print("  (`roadie doctor` connects and checks the bot's permissions on each platform)")
    return 0


# --- doctor ----------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    config = _load(args.config)
    report = asyncio.run(diagnose(config))
    print(report.render())
    return 1 if report.problems else 0


def cmd_app_manifest(args: argparse.Namespace) -> int:
    """A GitHub App manifest asking for what the enabled capabilities need."""
    from bot.github.needs import manifest, needs_of
    from bot.runtime.loader import load_cog_settings

    config = _load(args.config)
    needs = needs_of(cls for cls, _ in load_cog_settings(config))
    base = args.url.rstrip("/")
    print(json.dumps(manifest(args.name or f"{config.bot.org}-roadie", base,
                              base + config.github.webhook_path, needs), indent=2))
    return 0


# --- db, audit -------------------------------------------------------------------------------


def _database(args: argparse.Namespace) -> Database:
    return Database(_load(args.config).database_url)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    db = _database(args)
    state = upgrade(db)
    print(f"{db.describe()}: schema at {', '.join(sorted(state.current))}")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    db = _database(args)
    state = schema_state(db)
    status = "up to date" if state.up_to_date else "behind: run `roadie db upgrade`"
    print(f"{db.describe()}: {status} (at {', '.join(sorted(state.current)) or 'nothing'}; "
          f"code has {', '.join(sorted(state.heads))})")
    return 0 if state.up_to_date else 1


def cmd_db_backup(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, backup

    config = _load(args.config)
    try:
        made = backup(config.database_url, Path(args.target))
    except BackupError as error:
        print(f"roadie: {error}", file=sys.stderr)
        return 1
    print(f"backed up {Database(config.database_url).describe()} to {made.path} "
          f"({made.size:,} bytes; {made.how})")
    return 0


# --- init ------------------------------------------------------------------------------------


def example_config() -> str:
    """config.example.toml: from the installed wheel, or from the source tree."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        for file in distribution("roadie").files or ():
            if file.name == "config.example.toml":
                return Path(str(file.locate())).read_text(encoding="utf-8")
    except (PackageNotFoundError, OSError):
        pass
    return (Path(__file__).resolve().parent.parent / "config.example.toml").read_text(
        encoding="utf-8")


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.target)
    if target.exists() and not args.force:
        print(f"roadie: {target} exists; pass --force to replace it", file=sys.stderr)
        return 2
    text = example_config()
    if args.org:
        text = text.replace('org = "jazzband"', f'org = "{args.org}"', 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}: a starter config (SQLite next to it, the console as chat, the web "
          "server on 127.0.0.1:8080).\nNext: set [bot] org and [people] admins, then "
          f"`roadie check-config {target}` and `roadie run --config {target}`.")
    return 0


# --- webhook --------------------------------------------------------------------------------


def _server_url(config: RoadieConfig) -> str:
    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}"


def _webhook_url(config: RoadieConfig) -> str:
    return _server_url(config) + config.github.webhook_path


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """For a container's HEALTHCHECK: ask the running Roadie's /healthz (or /readyz)."""
    config = _load(args.config)
    url = _server_url(config) + ("/readyz" if args.ready else "/healthz")
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as answer:
            print(f"{url}: {answer.status} {answer.read().decode(errors='replace').strip()}")
            return 0
    except urllib.error.HTTPError as error:
        print(f"{url}: {error.code} {error.read().decode(errors='replace').strip()}",
              file=sys.stderr)
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: no answer ({getattr(error, 'reason', error)})", file=sys.stderr)
    return 1


def cmd_webhook_send(args: argparse.Namespace) -> int:
    config = _load(args.config)
    secret = config.github.webhook_secret.value()
    if secret is None and not config.github.insecure_allow_unsigned_webhooks:
        print(f"roadie: no webhook secret in {config.github.webhook_secret.source()}; set it to "
              "the secret Roadie runs with, so that the delivery can be signed",
              file=sys.stderr)
        return 2
    try:
        body = Path(args.file).read_bytes()
        json.loads(body)
    except OSError as error:
        print(f"roadie: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"roadie: {args.file} is not JSON; give a webhook payload such as "
              "tests/fixtures/github/issues/opened.payload.json", file=sys.stderr)
        return 2
    delivery = args.delivery or str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "User-Agent": "roadie-webhook-send",
               "X-GitHub-Event": args.event, "X-GitHub-Delivery": delivery}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signature_for(secret.encode(), body)
    url = args.url or _webhook_url(config)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, text = answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        print(f"roadie: cannot reach {url}: {getattr(error, 'reason', error)}; is Roadie "
              "running with its server on?", file=sys.stderr)
        return 1
    print(f"{args.event} delivery {delivery} to {url}: {status} {text.strip()}")
    return 0 if status in (200, 202) else 1


def cmd_webhook_redeliver(args: argparse.Namespace) -> int:
    from bot.github.app import github_auth
    from bot.github.hooks import OrgHooks

    config = _load(args.config)
    auth = github_auth(config)
    if auth is None:
        print(f"roadie: redelivering needs a GitHub token with admin:org_hook (or an App with "
              f"organization_hooks: write); set {config.github.credential.source()}",
              file=sys.stderr)
        return 2
    try:
        since = datetime.now(UTC) - parse_duration(args.since)
    except ValueError as error:
        print(f"roadie: --since: {error}", file=sys.stderr)
        return 2
    hooks = OrgHooks(org=config.bot.org, auth=auth, api_url=config.github.api_url)
    db = Database(config.database_url)
    try:
        hook = args.hook or hooks.find_hook(config.github.webhook_path)
        failed = hooks.failed_since(hook, since)
        redelivered, known = 0, 0
        for delivery in reversed(failed):  # oldest first, as they happened
            with db.transaction() as session:
                if find_delivery(session, delivery.guid) is not None:
                    known += 1
                    continue
            if not args.dry_run:
                hooks.redeliver(hook, delivery.id)
            redelivered += 1
            print(f"{'would redeliver' if args.dry_run else 'redelivered'} {delivery.guid} "
                  f"({delivery.event}{'.' + delivery.action if delivery.action else ''}, "
                  f"{delivery.delivered_at:%Y-%m-%d %H:%M} UTC, answered "
                  f"{delivery.status_code or 'nothing'})")
    except PlatformError as error:
        print(f"roadie: GitHub: {error.detail}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"hook {hook}: {len(failed)} failed deliveries since {since:%Y-%m-%d %H:%M} UTC; "
          f"{'would redeliver' if args.dry_run else 'redelivered'} {redelivered}, "
          f"{known} already stored by Roadie")
    return 0


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadie", description=(
        "Roadie: the governance and moderation bot for open-source cooperatives."))
    parser.add_argument("--version", action="version", version=f"roadie {roadie_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str,
            parent: argparse._SubParsersAction = sub,  # type: ignore[type-arg]
            config: bool = True) -> argparse.ArgumentParser:
        command = parent.add_parser(name, help=help, description=help)
        if config:
            command.add_argument("--config", "-c", default=DEFAULT_CONFIG,
                                 help=f"the config file (default: {DEFAULT_CONFIG}, or "
                                      "$ROADIE_CONFIG)")
        command.set_defaults(func=func)
        return command

    run = add("run", cmd_run, "run the bot")
    run.add_argument("--console", action="store_true",
                     help="also speak on the terminal, even with chat platforms configured")
    check = add("check-config", cmd_check_config, "validate a config and summarise it")
    check.add_argument("path", nargs="?", help="the config file (the same as --config)")
    health = add("healthcheck", cmd_healthcheck, "ask the running Roadie whether it is alive "
                 "(/healthz) or ready (/readyz); for container health checks")
    health.add_argument("--ready", action="store_true", help="ask /readyz instead")
    health.add_argument("--timeout", type=float, default=5.0, help="seconds (default: 5)")
    add("doctor", cmd_doctor, "connect to Discord, Zulip and GitHub and say what Roadie may "
        "not do there")

    app_manifest = add("app-manifest", cmd_app_manifest, "print a GitHub App manifest with "
                       "the permissions and events the enabled capabilities need")
    app_manifest.add_argument("--url", required=True,
                              help="where Roadie is reached, such as https://roadie.example.org")
    app_manifest.add_argument("--name", help="the App's name (default: <org>-roadie)")

    db = sub.add_parser("db", help="the database schema, backups").add_subparsers(
        dest="db_command", required=True, metavar="ACTION")
    add("upgrade", cmd_db_upgrade, "bring the schema up to date", parent=db)
    add("status", cmd_db_status, "say whether the schema is up to date", parent=db)
    backup = add("backup", cmd_db_backup, "copy the database, consistently, while Roadie "
                 "runs (SQLite: online backup; PostgreSQL: pg_dump)", parent=db)
    backup.add_argument("target", metavar="PATH", help="the backup file to write (new)")

    init = add("init", cmd_init, "write a starter config", config=False)
    init.add_argument("target", metavar="PATH", help="where to write it, such as roadie.toml")
    init.add_argument("--org", help="the GitHub organisation Roadie looks after")
    init.add_argument("--force", action="store_true", help="replace an existing file")

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION")
    add_audit_commands(audit, add)

    webhook = sub.add_parser("webhook", help="GitHub webhook deliveries").add_subparsers(
        dest="webhook_command", required=True, metavar="ACTION")
    send = add("send", cmd_webhook_send, "sign a payload with the webhook secret and post it "
               "to a running Roadie", parent=webhook)
    send.add_argument("event", help="the event name, such as issues or push")
    send.add_argument("file", help="a JSON payload, such as one of tests/fixtures/github")
    send.add_argument("--url", help="where Roadie listens (default: from the config's server "
                                    "bind and github.webhook_path)")
    send.add_argument("--delivery", help="the X-GitHub-Delivery id (default: a new one)")
    redeliver = add("redeliver", cmd_webhook_redeliver, "ask GitHub to redeliver the org "
                    "hook's failed deliveries", parent=webhook)
    redeliver.add_argument("--since", default="1h",
                           help="how far back to look, such as 1h or 2d (default: 1h)")
    redeliver.add_argument("--hook", type=int, help="the org hook's id (default: the hook "
                                                    "whose URL ends with github.webhook_path)")
    redeliver.add_argument("--dry-run", action="store_true",
                           help="list what would be redelivered, and redeliver nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_path = getattr(args, "path", None) or getattr(args, "config", None)
    if config_path is not None and not Path(config_path).exists():
        print(f"roadie: no config at {config_path}; pass --config PATH, or write a starter "
              "config with `roadie init PATH`", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except ConfigError as error:
        _print_problems(error.path or config_path or "the config", error.problems)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
