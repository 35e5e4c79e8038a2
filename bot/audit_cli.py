"""`roadie audit ...`: the key, the export, and verification from outside the database."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bot.config import RoadieConfig, load_config
from governance.audit.checkpoints import Checkpoint
from governance.audit.keys import AuditKey, BadKey, PublicKey
from governance.audit.outside import BadExport, export_line, file_rows
from governance.audit.proofs import prove
from governance.audit.rows import database_rows
from governance.audit.verification import Verdict, verify_database, verify_rows
from governance.db import Database
from governance.errors import Refusal

DEFAULT_CONFIG = os.environ.get("ROADIE_CONFIG", "roadie.toml")


class Failure(Exception):
    """A reason to stop with exit status 2, said on standard error."""


def _config(args: argparse.Namespace) -> RoadieConfig:
    return load_config(args.config or DEFAULT_CONFIG)


def _key(config: RoadieConfig) -> AuditKey:
    key = config.audit_key()
    if key is None:
        raise Failure(f"no audit key in {config.audit.key.source()}; `roadie audit keygen "
                      "--out FILE` writes one, and `[audit] key_file` names it")
    return key


def cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise Failure(f"{out} exists; a new key would orphan every checkpoint and sealed "
                      "ballot of the old one (pass --force to replace it anyway)")
    key = AuditKey.generate()
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key.text() + "\n")
    print(f"wrote the audit key to {out} (readable by you alone); name it in `[audit] "
          "key_file`.\nThe public key, for members to keep:\n" + key.public.text())
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    key = _key(_config(args))
    print(key.public.text())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    db = Database(_config(args).database_url)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    count = 0
    try:
        with db.transaction() as session:
            for row in database_rows(session):
                out.write(export_line(row) + "\n")
                count += 1
    finally:
        if args.out:
            out.close()
        db.dispose()
    print(f"exported {count} entries" + (f" to {args.out}" if args.out else ""),
          file=sys.stderr)
    return 0


def _read(source: str, token: str | None = None) -> str:
    if not source.startswith(("http://", "https://")):
        try:
            return Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise Failure(f"cannot read {source}: {error.strerror}") from None
    texts, url = [], source
    while url:
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "roadie-audit"}
        if token and "api.github" in url:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=30) as answer:
                body = answer.read().decode("utf-8", errors="replace")
                link = answer.headers.get("Link", "")
        except (urllib.error.URLError, OSError) as error:
            raise Failure(f"cannot fetch {url}: {getattr(error, 'reason', error)}") from None
        texts.append(_comment_bodies(body))
        url = next((part.split(";")[0].strip(" <>") for part in link.split(",")
                    if 'rel="next"' in part), "")
    return "\n".join(texts)


def _comment_bodies(body: str) -> str:
    """GitHub's comments come as a JSON list; anything else is read as it is."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, list):
        return "\n".join(str(c.get("body", "")) for c in data if isinstance(c, dict))
    return body


def _checkpoints(args: argparse.Namespace, config: RoadieConfig | None) -> list[Checkpoint]:
    sources = list(args.checkpoints or [])
    token = None
    if config is not None:
        if config.audit.checkpoints_file:
            sources.append(config.audit.checkpoints_file)
        if config.audit.github_repo and config.audit.github_issue:
            sources.append(f"{config.github.api_url}/repos/{config.bot.org}/"
                           f"{config.audit.github_repo}/issues/{config.audit.github_issue}/"
                           "comments?per_page=100")
            token = config.github.token.value()
    found: dict[str, Checkpoint] = {}
    for source in sources:
        for checkpoint in Checkpoint.parse_all(_read(source, token)):
            found.setdefault(checkpoint.signature, checkpoint)
    return list(found.values())


def _public_key(args: argparse.Namespace, config: RoadieConfig | None) -> PublicKey | None:
    if args.key:
        text = args.key
        if not text.startswith("roadie-audit-pub:") and Path(text).exists():
            text = Path(text).read_text()
        try:
            return PublicKey.from_text(text)
        except BadKey as error:
            raise Failure(f"--key: {error}") from None
    if config is not None and config.audit_key() is not None:
        return _key(config).public
    return None


def cmd_verify(args: argparse.Namespace) -> int:
    config = None if args.log and not args.config else _config(args)
    checkpoints = _checkpoints(args, config)
    key = _public_key(args, config)
    if args.log:
        try:
            with open(args.log, encoding="utf-8") as lines:
                verdict = verify_rows(file_rows(lines), checkpoints, key)
        except OSError as error:
            raise Failure(f"cannot read {args.log}: {error.strerror}") from None
        except BadExport as error:
            raise Failure(f"{args.log}: {error}") from None
    else:
        assert config is not None
        db = Database(config.database_url)
        try:
            with db.transaction() as session:
                verdict = verify_database(session, checkpoints, key)
        finally:
            db.dispose()
    return _say(verdict, len(checkpoints), from_file=bool(args.log))


def _say(verdict: Verdict, published: int, *, from_file: bool) -> int:
    for note in verdict.log.notes:
        print(f"note: {note}", file=sys.stderr)
    problems = verdict.problems()
    if verdict.log.bad_signatures:
        problems.append(f"{verdict.log.bad_signatures} checkpoint(s) do not hold with the "
                        "public key given: the wrong key, or forged checkpoints")
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        good = verdict.log.last_good
        if good is not None and verdict.first_bad is not None:
            print(f"the last good checkpoint covers {good.size} entries (signed "
                  f"{good.at:%Y-%m-%d %H:%M:%S} UTC); the first entry after it is "
                  f"{good.size + 1}", file=sys.stderr)
        return 1
    log = verdict.log
    print(f"audit log OK: {log.entries} entries, chain intact, {log.checkpoints_good} of "
          f"{published} published checkpoint(s) hold")
    if not published:
        print("note: no published checkpoint given (--checkpoints): a log rewritten with "
              "recomputed hashes would pass the chain check alone", file=sys.stderr)
    if verdict.replay is not None:
        print(f"tables OK: {verdict.replay.rows_checked} decision rows replayed from the log, "
              "all equal" + (f" ({verdict.replay.unchecked} older than the replayable log)"
                             if verdict.replay.unchecked else ""))
    if not from_file:
        print(f"votes OK: {verdict.votes_checked} closed vote(s) counted again from the log, "
              "same results")
    return 0


def cmd_proof(args: argparse.Namespace) -> int:
    db = Database(_config(args).database_url)
    try:
        with db.transaction() as session:
            proof = prove(session, args.entry)
    except Refusal as refusal:
        raise Failure(f"{refusal.reason} {refusal.hint}".strip()) from None
    finally:
        db.dispose()
    print(json.dumps({"entry": proof.entry.seq, "entry_hash": proof.entry.hash,
                      "leaf_index": proof.entry.seq - 1, "tree_size": proof.checkpoint.size,
                      "path": list(proof.path), "checkpoint": json.loads(
                          proof.checkpoint.line())}, indent=2))
    if not proof.holds():
        print(f"the path does NOT lead to the signed root: the first {proof.checkpoint.size} "
              "entries changed since they were signed", file=sys.stderr)
        return 1
    return 0


def add_commands(parent: argparse._SubParsersAction,  # type: ignore[type-arg]
                 add_command: Callable[..., argparse.ArgumentParser]) -> None:
    def add(name: str, func: Callable[[argparse.Namespace], int], help: str,
            **options: object) -> argparse.ArgumentParser:
        return add_command(name, lambda args: run(func, args), help, **options)

    keygen = add("keygen", cmd_keygen, "make a new audit key (signs checkpoints, seals secret "
                 "ballots)", parent=parent, config=False)
    keygen.add_argument("--out", required=True, help="the key file to write (mode 0600)")
    keygen.add_argument("--force", action="store_true", help="replace an existing key file")
    add("key", cmd_key, "show the public key that members keep", parent=parent)
    export = add("export", cmd_export, "write the audit log as JSON lines", parent=parent)
    export.add_argument("--out", help="the file to write (default: standard output)")
    verify = add("verify", cmd_verify, "check the audit log's chain, its published "
                 "checkpoints and every decision table", parent=parent, config=False)
    verify.add_argument("--config", "-c", default=None,
                        help=f"the config file (default: {DEFAULT_CONFIG}; not needed with "
                             "--log)")
    verify.add_argument("--log", help="an exported log (`roadie audit export`) instead of the "
                                      "database")
    verify.add_argument("--checkpoints", action="append", metavar="FILE|URL",
                        help="published checkpoints: a file or a URL (GitHub comments too); "
                             "may be repeated")
    verify.add_argument("--key", help="the public key (roadie-audit-pub:...) or a file holding "
                                      "it (default: the configured key's)")
    proof = add("proof", cmd_proof, "print the inclusion proof of an entry", parent=parent)
    proof.add_argument("entry", type=int, help="the entry's number")


def run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return func(args)
    except Failure as failure:
        print(f"roadie: {failure}", file=sys.stderr)
        return 2
