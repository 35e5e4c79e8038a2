"""The console: every input line is a command; every message Roadie sends is printed.

Messages show their destination, e.g. `[#admins] ...`. `/as <github-login>` switches who is
speaking. Piped input works as well as a terminal; at its end Roadie keeps running until
SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import threading
from collections.abc import Iterable
from typing import TextIO

from sqlmodel import Session

from bot.core.commands import Arg, CommandSpec, Invocation, bound_specs, command
from bot.core.messages import Message, render_text
from bot.core.outbox import DIRECT_PREFIX
from bot.core.ports import ChatMember, Rate
from bot.runtime.dispatcher import Speaker
from bot.transports.base import Hub
from governance.audit import Actor
from governance.people.service import Profile, link_directly, profile_for_chat

log = logging.getLogger("roadie.console")

OPERATOR = "operator"


class ConsoleTransport:
    platform = "console"

    def __init__(self, destinations: Iterable[str], *, stdin: TextIO | None = None,
                 stdout: TextIO | None = None, prompt: bool | None = None) -> None:
        self._destinations = set(destinations)
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._prompt = self._stdin.isatty() if prompt is None else prompt
        self._ids = itertools.count(1)
        self._hub: Hub | None = None
        self._task: asyncio.Task[None] | None = None
        self.speaker = OPERATOR
        self.banned: set[str] = set()
        self.finished = asyncio.Event()

    # --- ChatPort ---------------------------------------------------------------------

    def place_for(self, destination: str) -> str | None:
        if destination in self._destinations or destination.startswith(DIRECT_PREFIX):
            return destination
        return None

    def rates(self) -> tuple[Rate | None, Rate | None]:
        return None, None

    def mention(self, user_id: str) -> str:
        return f"@{user_id}"

    async def send(self, place: str, message: Message, *, key: str,
                   mentions: dict[str, str]) -> str:
        message_id = str(next(self._ids))
        if place.startswith(DIRECT_PREFIX):
            where = "@" + place.removeprefix(DIRECT_PREFIX)
        else:
            where = f"#{place} > {message.topic}" if message.topic else f"#{place}"
        self._print(f"[{where}] " + self._render(message, mentions))
        return message_id

    async def edit(self, place: str, remote_id: str, message: Message, *,
                   mentions: dict[str, str]) -> None:
        self._print(f"[#{place}] (edited message {remote_id}) " + self._render(message, mentions))

    async def ban(self, user_id: str, *, reason: str, delete_message_days: int = 0) -> None:
        self.banned.add(user_id)
        self._print(f"[console] {user_id} is banned from the console: {reason}")

    async def unban(self, user_id: str, *, reason: str) -> None:
        self.banned.discard(user_id)
        self._print(f"[console] {user_id} may use the console again: {reason}")

    async def delete(self, place: str, remote_id: str) -> None:
        self._print(f"[{place}] (message {remote_id} deleted)")

    async def lookup_member(self, user_id: str) -> ChatMember | None:
        return ChatMember(self.platform, user_id, user_id)

    # --- Transport --------------------------------------------------------------------

    def commands(self) -> list[CommandSpec]:
        return bound_specs(self, "console")

    @command("as", "Speak as another GitHub login (console only)",
             Arg("login", "the GitHub login to speak as", kind="login"), platforms=["console"])
    async def speak_as(self, call: Invocation, login: str) -> str:
        assert self._hub is not None
        hub = self._hub
        def link_and_read(session: Session) -> Profile:
            link_directly(session, actor=Actor.chat("console", call.user_id), platform="console",
                          user_id=login.lower(), display_name=login, login=login,
                          now=hub.clock.now())
            return profile_for_chat(session, "console", login.lower())

        profile = await hub.db.run(link_and_read)
        self.speaker = login.lower()
        return f"You are now {login} ({profile.role.label})."

    async def start(self, hub: Hub) -> None:
        self._hub = hub
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:  # a daemon thread: a blocked read never holds up shutdown
            for line in self._stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="console-input", daemon=True).start()
        self._task = asyncio.create_task(self._serve(lines), name="console")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _serve(self, lines: asyncio.Queue[str | None]) -> None:
        assert self._hub is not None
        self._show_prompt()
        while (line := await lines.get()) is not None:
            text = line.strip()
            if text and not text.startswith("#"):
                if not self._prompt:
                    self._print(f"{self.speaker}> {text}")
                if self.speaker in self.banned:
                    self._print("✋ You are banned from this console.")
                else:
                    await self._handle_safely(text)
            self._show_prompt()
        self.finished.set()

    async def _handle_safely(self, text: str) -> None:
        """One line; whatever goes wrong is reported and the next line is still read."""
        try:
            await self.handle(text)
        except Exception:
            log.exception("console: the line %r failed", text[:80])
            self._print("✋ Something went wrong inside Roadie; the log has the details.")

    async def handle(self, text: str) -> None:
        assert self._hub is not None
        speaker = Speaker("console", self.speaker, self.speaker, "console", private=True)
        reply = await self._hub.run_text(speaker, text.removeprefix("/"))
        self._print(reply.as_text())
        await self._hub.settle()

    # --- output -----------------------------------------------------------------------

    def _render(self, message: Message, mentions: dict[str, str]) -> str:
        return render_text(message, mention=lambda login: "@" + mentions.get(login.lower(), login))

    def _print(self, text: str) -> None:
        self._stdout.write(text.replace("\n", "\n    ") + "\n")
        self._stdout.flush()

    def _show_prompt(self) -> None:
        if self._prompt:
            self._stdout.write(f"{self.speaker}> ")
            self._stdout.flush()
