"""Running commands: who is asking, may they, and what to answer.

Every refusal says why and how to do it right; an unexpected error is logged with an id that
the reply names, so that nothing fails silently.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.core.commands import (
    CommandRegistry,
    CommandSpec,
    Invocation,
    UsageError,
    Withdrawn,
    bind_values,
)
from bot.core.messages import Message, Reply
from bot.core.outbox import outbox_scope
from bot.runtime.metrics import Metrics
from governance.clock import Clock
from governance.db import Database
from governance.errors import Refusal
from governance.people.roles import Role
from governance.people.service import Profile, speaker_profile

log = logging.getLogger("roadie.commands")


@dataclass(frozen=True)
class Speaker:
    """Who typed a command, and where."""

    platform: str
    user_id: str
    display_name: str = ""
    place: str = ""
    private: bool = False
    """Nobody but the speaker sees what they typed (see `Invocation.private`)."""


def refusal_reply(reason: str, hint: str = "", *, withdraw: bool = False) -> Reply:
    return Reply(text=f"✋ {reason} {hint}".strip(), private=True, refused=True,
                 withdraw=withdraw)


def error_reply(what: str) -> Reply:
    """The answer to a bug of Roadie's: logged (with the traceback) under an id it names."""
    error_id = uuid.uuid4().hex[:8]
    log.exception("%s failed (error %s)", what, error_id)
    return refusal_reply(f"Something went wrong inside Roadie (error {error_id}); nothing was "
                         "changed.", "The operators can find the error id in Roadie's log.")


def as_reply(result: Any) -> Reply:
    if isinstance(result, Reply):
        return result
    if isinstance(result, Message):
        return Reply(message=result)
    if result is None:
        return Reply(text="Done.")
    return Reply(text=str(result))


class Dispatcher:
    def __init__(self, db: Database, clock: Clock, registry: CommandRegistry,
                 metrics: Metrics) -> None:
        self.db = db
        self.clock = clock
        self.registry = registry
        self.metrics = metrics

    async def run_text(self, speaker: Speaker, text: str) -> Reply:
        """Run a text command such as `escalation ack 5` (no leading slash or mention).

        Never raises: whatever goes wrong becomes an answer, so that a transport's reading
        loop keeps going and every command is answered."""
        return await self._guarded("command", lambda: self._run_text(speaker, text))

    async def run_values(self, speaker: Speaker, path: tuple[str, ...],
                         raw: dict[str, Any]) -> Reply:
        """Run a command whose values arrive already separated (a Discord slash command)."""
        return await self._guarded(f"/{' '.join(path)}",
                                   lambda: self._run_values(speaker, path, raw))

    async def _guarded(self, what: str, work: Callable[[], Awaitable[Reply]]) -> Reply:
        try:
            return await work()
        except Exception:
            return error_reply(what)

    async def _run_text(self, speaker: Speaker, text: str) -> Reply:
        try:
            parsed = self.registry.parse(text)
        except UsageError as error:
            name = error.spec.name if error.spec else "unknown"
            self.metrics.commands.labels(name, "usage_error").inc()
            return refusal_reply(error.reason, error.hint)
        return await self.invoke(speaker, parsed.spec, parsed.values)

    async def _run_values(self, speaker: Speaker, path: tuple[str, ...],
                          raw: dict[str, Any]) -> Reply:
        spec = self.registry.get(path)
        if spec is None:
            return refusal_reply(f"There is no command /{' '.join(path)[:60]}.",
                                 "`/help` lists the commands.")
        try:
            values = bind_values(spec, raw)
        except UsageError as error:
            self.metrics.commands.labels(spec.name, "usage_error").inc()
            return refusal_reply(error.reason, error.hint)
        return await self.invoke(speaker, spec, values)

    async def profile(self, speaker: Speaker) -> Profile:
        now = self.clock.now()
        return await self.db.autocommit(lambda session: speaker_profile(
            session, speaker.platform, speaker.user_id, speaker.display_name, now))

    async def invoke(self, speaker: Speaker, spec: CommandSpec, values: dict[str, Any]) -> Reply:
        if not spec.available_on(speaker.platform):
            where = ", ".join(sorted(spec.platforms or ()))
            self.metrics.commands.labels(spec.name, "refused").inc()
            return refusal_reply(f"/{spec.name} works only on: {where}.")
        profile = await self.profile(speaker)
        if profile.role < spec.role:
            self.metrics.commands.labels(spec.name, "refused").inc()
            return refusal_reply(*self._role_refusal(spec, profile))
        call = Invocation(speaker.platform, speaker.user_id, speaker.display_name, speaker.place,
                          profile, self.clock.now(), speaker.private)
        assert spec.handler is not None
        try:
            with outbox_scope(f"cmd:{uuid.uuid4().hex}"):
                result = await spec.handler(call, **values)
        except Refusal as refusal:
            self.metrics.commands.labels(spec.name, "refused").inc()
            return refusal_reply(refusal.reason, refusal.hint,
                                 withdraw=isinstance(refusal, Withdrawn))
        except Exception:
            self.metrics.commands.labels(spec.name, "error").inc()
            return error_reply(f"command /{spec.name}")
        self.metrics.commands.labels(spec.name, "ok").inc()
        return as_reply(result)

    @staticmethod
    def _role_refusal(spec: CommandSpec, profile: Profile) -> tuple[str, str]:
        who = profile.login or "an unlinked chat account"
        reason = (f"/{spec.name} needs the {spec.role.label} role; Roadie knows you as {who} "
                  f"({profile.role.label}).")
        if not profile.linked:
            return reason, "Link your GitHub account first: `/link <github-login>`."
        if spec.role >= Role.MODERATOR:
            return reason, "Ask an admin if you should have it."
        return reason, "Ask an admin to grant it with `/grant`."


def help_text(registry: CommandRegistry, role: Role, platform: str,
              words: list[str] | None = None) -> str:
    """The commands a role may use here, or the usage of one command."""
    if words and tuple(w.lower() for w in words) in registry.groups():
        group = tuple(w.lower() for w in words)
        lines = [f"/{' '.join(group)}:"]
        for spec in registry:
            if spec.path[:len(group)] == group:
                lines.append(f"- `{spec.usage()}`: {spec.help}")
        return "\n".join(lines)
    if words:
        try:
            spec, _ = registry.resolve(words)
        except UsageError as error:
            return f"{error.reason} {error.hint}"
        note = "" if spec.role <= role else "\n(You may not use this one yet.)"
        return spec.describe() + note
    lines = ["Commands you may use (`/help <command>` for details):"]
    for spec in registry.visible(role, platform):
        words = spec.path[:-1] if spec.group_default else spec.path
        lines.append(f"- `/{' '.join(words)}`: {spec.help}")
    return "\n".join(lines)
