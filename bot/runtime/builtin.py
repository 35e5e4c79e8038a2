"""Commands of the runtime itself."""

from __future__ import annotations

from bot.core.commands import CommandRegistry, Invocation, Text, command
from bot.runtime.dispatcher import help_text


class Builtins:
    def __init__(self, registry: CommandRegistry) -> None:
        self._registry = registry

    @command("help", "List the commands you may use, or explain one",
             Text("command", "the command to explain, such as `escalation ack`", optional=True))
    async def help(self, call: Invocation, command: str) -> str:
        words = command.removeprefix("/").split() if command else None
        return help_text(self._registry, call.profile.role, call.platform, words)
