"""Helpers for tests: configs, a recording chat platform, and a running Roadie."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import RoadieConfig, load_config
from bot.core.commands import CommandSpec
from bot.core.messages import Message, Reply, render_text
from bot.core.outbox import DIRECT_PREFIX
from bot.core.ports import ChatMember, GitHubPort, PlatformError, Rate
from bot.runtime.app import Roadie
from bot.runtime.dispatcher import Speaker
from bot.runtime.webhooks import signature_for
from bot.transports.base import Hub
from bot.transports.console import ConsoleTransport
from governance.clock import Clock
from governance.db import Database

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
DESTINATIONS = ("admins", "moderators", "modlog", "digest", "feed")


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def to_toml(data: dict[str, Any]) -> str:
    """Enough TOML for test configs: tables, arrays of tables, strings, numbers, lists."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(i) for i in v) + "]"
        raise TypeError(v)

    lines: list[str] = []

    def table(prefix: str, data: dict[str, Any]) -> None:
        scalars = {k: v for k, v in data.items()
                   if not isinstance(v, dict) and not (isinstance(v, list) and v
                                                       and isinstance(v[0], dict))}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f'"{k}" = {value(v)}' for k, v in scalars.items())
        for k, v in data.items():
            name = f'{prefix}."{k}"' if prefix else f'"{k}"'
            if isinstance(v, dict):
                table(name, v)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"[[{name}]]")
                    lines.extend(f'"{ik}" = {value(iv)}' for ik, iv in item.items())

    table("", data)
    return "\n".join(lines) + "\n"


def write_config(directory: Path, overrides: dict[str, Any] | None = None, *,
                 database: str = "roadie.db") -> Path:
    """config.example.toml with overrides merged in, written to `directory`."""
    base = tomllib.loads(EXAMPLE.read_text())
    base = deep_merge(base, {"database": {"url": database},
                             "server": {"bind": "127.0.0.1:0"}})
    data = deep_merge(base, overrides or {})
    path = directory / "roadie.toml"
    path.write_text(to_toml(data))
    return path


def audit_key_file(directory: Path) -> str:
    """A fresh audit key in a file of `directory` (signs checkpoints, seals secret ballots)."""
    from governance.audit.keys import AuditKey

    path = directory / "audit.key"
    if not path.exists():
        path.write_text(AuditKey.generate().text() + "\n")
    return str(path)


def make_config(directory: Path, overrides: dict[str, Any] | None = None, *,
                database: str = "roadie.db") -> RoadieConfig:
    return load_config(write_config(directory, overrides, database=database))


@dataclass
class Sent:
    place: str
    message: Message
    key: str
    remote_id: str
    edits: list[Message] = field(default_factory=list)

    @property
    def text(self) -> str:
        return render_text(self.edits[-1] if self.edits else self.message)


class RecordingChat:
    """A chat platform that records what it is sent, and fails when told to.

    `fail_next(n, error)` makes the next n calls (sends, edits, bans, unbans) raise `error`;
    `fail_next(n, error, only=("ban",))` fails only the next n calls of those kinds.
    """

    def __init__(self, platform: str = "recording", destinations: Iterable[str] = DESTINATIONS,
                 rates: tuple[Rate | None, Rate | None] = (None, None)) -> None:
        self.platform = platform
        self._destinations = set(destinations)
        self._rates = rates
        self.sent: list[Sent] = []
        self.bans: list[tuple[str, str, int]] = []
        self.unbans: list[tuple[str, str]] = []
        self.members: dict[str, ChatMember] = {}
        self._failures: list[tuple[PlatformError, tuple[str, ...]]] = []
        self.send_times: list[float] = []
        self.hub: Hub | None = None

    def fail_next(self, count: int, error: PlatformError,
                  only: tuple[str, ...] = ("send", "edit", "ban", "unban")) -> None:
        self._failures.extend([(error, only)] * count)

    def _maybe_fail(self, call: str) -> None:
        for index, (error, only) in enumerate(self._failures):
            if call in only:
                del self._failures[index]
                raise error

    def place_for(self, destination: str) -> str | None:
        if destination in self._destinations or destination.startswith(DIRECT_PREFIX):
            return destination
        return None

    def rates(self) -> tuple[Rate | None, Rate | None]:
        return self._rates

    def mention(self, user_id: str) -> str:
        return f"<@{user_id}>"

    async def send(self, place: str, message: Message, *, key: str,
                   mentions: dict[str, str]) -> str:
        self._maybe_fail("send")
        self.send_times.append(asyncio.get_running_loop().time())
        remote_id = str(len(self.sent) + 1)
        self.sent.append(Sent(place, message, key, remote_id))
        return remote_id

    async def edit(self, place: str, remote_id: str, message: Message, *,
                   mentions: dict[str, str]) -> None:
        self._maybe_fail("edit")
        self.sent[int(remote_id) - 1].edits.append(message)

    async def ban(self, user_id: str, *, reason: str, delete_message_days: int = 0) -> None:
        self._maybe_fail("ban")
        self.bans.append((user_id, reason, delete_message_days))

    async def unban(self, user_id: str, *, reason: str) -> None:
        self._maybe_fail("unban")
        self.unbans.append((user_id, reason))

    async def lookup_member(self, user_id: str) -> ChatMember | None:
        return self.members.get(user_id)

    def commands(self) -> list[CommandSpec]:
        return []

    async def start(self, hub: Hub) -> None:
        self.hub = hub

    async def stop(self) -> None:
        pass

    def at(self, place: str) -> list[Sent]:
        return [s for s in self.sent if s.place == place]

    def texts(self, place: str | None = None) -> list[str]:
        return [s.text for s in self.sent if place is None or s.place == place]


class Console:
    """A console transport writing to memory, driven line by line from a test."""

    def __init__(self, destinations: Iterable[str] = DESTINATIONS) -> None:
        self.output = io.StringIO()
        self.transport = ConsoleTransport(destinations, stdin=io.StringIO(""), stdout=self.output,
                                          prompt=False)

    async def say(self, line: str) -> str:
        """Run one line as the current speaker; return everything printed because of it."""
        start = len(self.output.getvalue())
        self.transport._print(f"{self.transport.speaker}> {line}")
        await self.transport.handle(line)
        return self.output.getvalue()[start:]

    @property
    def text(self) -> str:
        return self.output.getvalue()


@asynccontextmanager
async def running(config: RoadieConfig, *, db: Database | None = None, clock: Clock | None = None,
                  transports: list[Any] | None = None,
                  github: GitHubPort | None = None) -> AsyncIterator[Roadie]:
    """A started Roadie; stopped at the end of the block."""
    roadie = Roadie(config, db=db, clock=clock, transports=transports or [], github=github,
                    use_config_github=False)
    await roadie.start()
    try:
        yield roadie
    finally:
        await roadie.stop()


async def say(roadie: Roadie, platform: str, user_id: str, text: str) -> Reply:
    """Run a command as a chat user, and wait until what it queued has been sent."""
    reply = await roadie.run_text(Speaker(platform, user_id, user_id, "test"), text)
    await roadie.settle()
    return reply


async def eventually(predicate: Callable[[], bool | Awaitable[bool]],
                     timeout: float = 5.0) -> None:
    """Wait until `predicate` (a function, or a coroutine function) holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await _holds(predicate):
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def _holds(predicate: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = predicate()
    return await result if inspect.isawaitable(result) else result


FIXTURES = ROOT / "tests" / "fixtures"


def github_payload(name: str) -> dict[str, Any]:
    """A GitHub webhook payload example from tests/fixtures/github, such as `issues/opened`
    (the file issues/opened.payload.json) or `push/payload`."""
    path = FIXTURES / "github" / f"{name}.payload.json"
    if not path.exists():
        path = path.with_name(f"{Path(name).name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


async def post_webhook(
    roadie: Roadie, event: str, payload: dict[str, Any] | bytes, *, secret: str | None,
    delivery: str | None = None, headers: dict[str, str | None] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST a delivery to the running Roadie's webhook path, signed when `secret` is given;
    return the status and the JSON answer (or `{"text": ...}`). A header given as None is
    left out."""
    assert roadie.server is not None, "the server is off in this config"
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent: dict[str, str | None] = {"Content-Type": "application/json", "X-GitHub-Event": event,
                                   "X-GitHub-Delivery": delivery or uuid.uuid4().hex}
    if secret is not None:
        sent["X-Hub-Signature-256"] = signature_for(secret.encode(), body)
    sent.update(headers or {})
    url = f"http://127.0.0.1:{roadie.server.port}{roadie.config.github.webhook_path}"
    async with aiohttp.ClientSession() as session, session.post(
            url, data=body, headers={k: v for k, v in sent.items() if v is not None}) as answer:
        text = await answer.text()
    try:
        return answer.status, json.loads(text)
    except ValueError:
        return answer.status, {"text": text}


async def deliver(roadie: Roadie, event: str, payload: dict[str, Any], *, secret: str,
                  delivery: str | None = None) -> int:
    """POST a signed delivery, wait until it is handled and what it queued is sent; return the
    HTTP status."""
    status, _ = await post_webhook(roadie, event, payload, secret=secret, delivery=delivery)
    await roadie.settle()
    return status
