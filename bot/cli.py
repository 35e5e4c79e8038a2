"""The `roadie` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import ConfigError, RoadieConfig, load_config
from bot.core.ports import PlatformError
from bot.doctor import diagnose, platform_problems
from bot.runtime.app import Roadie, StartupError
from governance.audit import verify
from governance.db import Database
from governance.migrate import schema_state, upgrade

DEFAULT_CONFIG = os.environ.get("ROADIE_CONFIG", "roadie.toml")


def _load(path: str) -> RoadieConfig:
    return load_config(path)


def _print_problems(path: str, error: ConfigError) -> None:
    print(f"{path}: the config has {len(error.problems)} problem(s):", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)


def _logging(config: RoadieConfig) -> None:
    logging.basicConfig(level=config.bot.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLogger().level))


# --- run -------------------------------------------------------------------------------------


async def _serve(roadie: Roadie) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await roadie.start()
    except BaseException:
        await roadie.stop()
        raise
    try:
        await stop.wait()
    finally:
        logging.getLogger("roadie").info("shutting down")
        await roadie.stop()


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if args.console:
        config = config.model_copy(update={"console": config.console.model_copy(
            update={"enabled": "always"})})
    _logging(config)
    try:
        asyncio.run(_serve(Roadie(config)))
    except (StartupError, PlatformError) as error:
        print(f"roadie: {error}", file=sys.stderr)
        return 2
    return 0


# --- check-config ----------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.path)
    roadie = Roadie(config, transports=[], use_config_github=True)
    platforms = config.chat_platforms + (["console"] if config.console_enabled else [])
    print(f"{args.path} is valid.")
    print(f"  org: {config.bot.org}")
    print(f"  platforms: {', '.join(platforms)}")
    print(f"  database: {roadie.db.describe()}")
    print(f"  web server: {'http://' + config.server.bind if config.server.enabled else 'off'}")
    receiver = ("on at " + config.github.webhook_path) if roadie.receiver else (
        f"off (no secret in {config.github.webhook_secret.source()})")
    print(f"  GitHub webhooks: {receiver}")
    token = config.github.token.source()
    github = f"token from {token}" if roadie.github else f"off (no token in {token})"
    print(f"  GitHub API: {github}")
    print("  destinations:")
    for name, dest in sorted(config.destinations.items()):
        places = [f"discord #{dest.discord_channel}" if dest.discord_channel else "",
                  f"zulip {dest.zulip_stream} > {dest.zulip_topic}" if dest.zulip_stream else ""]
        mapped = ", ".join(p for p in places if p) or "console only"
        print(f"    {name}: {mapped}")
    print(f"  cogs: {', '.join(c.name for c in roadie.cogs)}")
    print(f"  commands: {len(roadie.registry)}; scheduled jobs: {len(roadie.jobs)}")
    roadie.db.dispose()
    problems = platform_problems(config)
    if problems:
        print(f"{args.path}: {len(problems)} problem(s) with the chat platforms:",
              file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    if config.chat_platforms:
        print("  (`roadie doctor` connects and checks the bot's permissions on each platform)")
    return 0


# --- doctor ----------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    config = _load(args.config)
    report = asyncio.run(diagnose(config))
    print(report.render())
    return 1 if report.problems else 0


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


def cmd_audit_verify(args: argparse.Namespace) -> int:
    db = _database(args)
    with db.transaction() as session:
        report = verify(session)
    if report.ok:
        print(f"audit log OK: {report.checked} entries, chain intact")
        return 0
    print(f"audit log BROKEN at entry {report.first_bad}: {report.problem} "
          f"({report.checked} entries before it are intact)", file=sys.stderr)
    return 1


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadie", description=(
        "Roadie: the governance and moderation bot for open-source cooperatives."))
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
    check = add("check-config", cmd_check_config, "validate a config and summarise it",
                config=False)
    check.add_argument("path", nargs="?", default=DEFAULT_CONFIG, help="the config file")
    add("doctor", cmd_doctor, "connect to Discord, Zulip and GitHub and say what Roadie may "
        "not do there")

    db = sub.add_parser("db", help="the database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION")
    add("upgrade", cmd_db_upgrade, "bring the schema up to date", parent=db)
    add("status", cmd_db_status, "say whether the schema is up to date", parent=db)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION")
    add("verify", cmd_audit_verify, "check the audit log's hash chain", parent=audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    needs_config = hasattr(args, "config") and args.command != "check-config"
    if needs_config and not Path(args.config).exists():
        print(f"roadie: no config at {args.config}; pass --config PATH "
              "(config.example.toml runs as is)", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except ConfigError as error:
        _print_problems(error.path or getattr(args, "config", "the config"), error)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
