"""The `roadie` command."""

from __future__ import annotations

import argparse
import asyncio
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

from bot.config import ConfigError, RoadieConfig, load_config
from bot.core.ports import PlatformError
from bot.doctor import diagnose, platform_problems
from bot.runtime.app import Roadie, StartupError
from bot.runtime.webhooks import signature_for
from governance.audit import verify
from governance.db import Database
from governance.durations import parse_duration
from governance.inbox.service import find_delivery
from governance.migrate import schema_state, upgrade
from governance.votes.integrity import verify_votes

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
        votes, problems = verify_votes(session)
    if not report.ok:
        print(f"audit log BROKEN at entry {report.first_bad}: {report.problem} "
              f"({report.checked} {'entry' if report.checked == 1 else 'entries'} before it "
              f"{'is' if report.checked == 1 else 'are'} intact)", file=sys.stderr)
        return 1
    print(f"audit log OK: {report.checked} entries, chain intact")
    if problems:
        for problem in problems:
            print(f"vote count WRONG: {problem}", file=sys.stderr)
        return 1
    print(f"votes OK: {votes} closed vote(s) counted again from the log, same results")
    return 0


# --- webhook --------------------------------------------------------------------------------


def _webhook_url(config: RoadieConfig) -> str:
    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}{config.github.webhook_path}"


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
    from bot.github.hooks import OrgHooks

    config = _load(args.config)
    token = config.github.token.value()
    if token is None:
        print(f"roadie: redelivering needs a GitHub token with admin:org_hook; set "
              f"{config.github.token.source()}", file=sys.stderr)
        return 2
    try:
        since = datetime.now(UTC) - parse_duration(args.since)
    except ValueError as error:
        print(f"roadie: --since: {error}", file=sys.stderr)
        return 2
    hooks = OrgHooks(org=config.bot.org, token=token, api_url=config.github.api_url)
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
