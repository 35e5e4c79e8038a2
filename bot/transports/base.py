"""What a transport is given (a Hub) and what it must provide (a ChatPort that starts)."""

from __future__ import annotations

from typing import Any, Protocol

from bot.core.commands import CommandRegistry, CommandSpec
from bot.core.events import MemberJoined
from bot.core.messages import Reply
from bot.core.ports import ChatPort
from bot.runtime.dispatcher import Speaker
from governance.clock import Clock
from governance.db import Database


class Hub(Protocol):
    """The runtime as transports see it."""

    registry: CommandRegistry
    db: Database
    clock: Clock

    async def run_text(self, speaker: Speaker, text: str) -> Reply: ...

    async def run_values(self, speaker: Speaker, path: tuple[str, ...],
                         raw: dict[str, Any]) -> Reply: ...

    async def member_joined(self, joined: MemberJoined) -> None: ...

    async def complete(self, source: str, prefix: str) -> list[tuple[str, str]]: ...

    async def settle(self) -> None:
        """Wait until what the last command queued has been sent."""
        ...


class Transport(ChatPort, Protocol):
    def commands(self) -> list[CommandSpec]:
        """Commands that only make sense on this transport."""
        ...

    async def start(self, hub: Hub) -> None: ...

    async def stop(self) -> None: ...
