"""Slash commands built from the command registry: groups, subcommands, typed options,
choices and autocomplete, for one guild.

discord.py reads a command's options from its callback's signature; each generated callback
gets a signature with one keyword per parameter (named `p0`, `p1`, ... and renamed to the
parameter's own name, which need not be a Python identifier).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from bot.core.commands import CommandRegistry, CommandSpec, Param
from bot.transports.common import clip

log = logging.getLogger("roadie.discord")

PLATFORM = "discord"
DESCRIPTION = 100
TOP_LEVEL = 100
CHOICES = 25
AUTOCOMPLETE_RESULTS = 25
AUTOCOMPLETE_WAIT = 2.0
"""Suggestions cannot be deferred: later than Discord's 3 s, none are shown (and the
interaction fails), so a slow lookup gives up first and offers none."""

Run = Callable[[discord.Interaction, tuple[str, ...], dict[str, Any]], Awaitable[None]]
Complete = Callable[[str, str], Awaitable[list[tuple[str, str]]]]


def option_type(param: Param) -> type:
    kind = param.value_kind
    if kind == "flag":
        return bool
    if kind == "int":
        return int
    return str


def _autocomplete(param: Param, complete: Complete) -> Callable[..., Awaitable[Any]]:
    as_int = param.value_kind == "int"

    async def suggest(interaction: discord.Interaction,
                      current: str) -> list[app_commands.Choice[Any]]:
        found: list[app_commands.Choice[Any]] = []
        try:
            pairs = await asyncio.wait_for(complete(param.autocomplete, str(current or "")),
                                           AUTOCOMPLETE_WAIT)
        except TimeoutError:
            log.warning("Discord: suggestions for %s took over %ss; none offered",
                        param.autocomplete, AUTOCOMPLETE_WAIT)
            return []
        for label, value in pairs:
            if as_int:
                digits = value.removeprefix("#")
                if not digits.isdigit():
                    continue
                found.append(app_commands.Choice(name=clip(label, 100) or digits,
                                                 value=int(digits)))
            else:
                found.append(app_commands.Choice(name=clip(label, 100) or value[:100],
                                                 value=value[:100]))
        return found[:AUTOCOMPLETE_RESULTS]

    return suggest


def build_command(spec: CommandSpec, run: Run,
                  complete: Complete) -> app_commands.Command[Any, ..., Any]:
    params = {f"p{index}": param for index, param in enumerate(spec.params)}
    signature = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                   annotation=discord.Interaction)]
    choices: dict[str, list[app_commands.Choice[str]]] = {}
    suggesters: dict[str, Callable[..., Awaitable[Any]]] = {}
    for ident, param in params.items():
        required = param.positional and param.required
        signature.append(inspect.Parameter(
            ident, inspect.Parameter.KEYWORD_ONLY, annotation=option_type(param),
            default=inspect.Parameter.empty if required else None))
        if param.choices and len(param.choices) <= CHOICES:
            choices[ident] = [app_commands.Choice(name=c, value=c) for c in param.choices]
        elif param.autocomplete:
            suggesters[ident] = _autocomplete(param, complete)
    path = spec.path

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        raw = {params[ident].name: value for ident, value in values.items() if value is not None}
        await run(interaction, path, raw)

    callback.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    marks: dict[str, Any] = {
        "__discord_app_commands_param_description__": {
            ident: clip(p.help or p.name, DESCRIPTION) for ident, p in params.items()},
        "__discord_app_commands_param_rename__": {ident: p.name for ident, p in params.items()},
        "__discord_app_commands_param_choices__": choices,
        "__discord_app_commands_param_autocomplete__": suggesters,
    }
    for attr, value in marks.items():
        setattr(callback, attr, value)
    return app_commands.Command(name=spec.path[-1], description=clip(spec.help, DESCRIPTION),
                                callback=callback)


def build_tree(tree: app_commands.CommandTree[Any], registry: CommandRegistry,
               guild: discord.abc.Snowflake, run: Run, complete: Complete) -> int:
    """Add every command available on Discord to the tree, for `guild`; return how many."""
    groups: dict[tuple[str, ...], app_commands.Group] = {}
    top: list[app_commands.Command[Any, ..., Any] | app_commands.Group] = []

    def group_for(prefix: tuple[str, ...]) -> app_commands.Group:
        if prefix not in groups:
            group = app_commands.Group(name=prefix[-1],
                                       description=clip(f"/{' '.join(prefix)} commands",
                                                        DESCRIPTION))
            if len(prefix) > 1:
                group_for(prefix[:-1]).add_command(group)
            else:
                top.append(group)
            groups[prefix] = group
        return groups[prefix]

    count = 0
    for spec in registry:
        if not spec.available_on(PLATFORM):
            continue
        try:
            command = build_command(spec, run, complete)
            if len(spec.path) == 1:
                top.append(command)
            else:
                group_for(spec.path[:-1]).add_command(command)
        except (TypeError, ValueError) as error:  # beyond a Discord limit: say which one
            log.error("/%s cannot be a Discord slash command: %s", spec.name, error)
            continue
        count += 1
    for item in top[:TOP_LEVEL]:
        tree.add_command(item, guild=guild)
    for item in top[TOP_LEVEL:]:
        log.error("/%s left out: Discord allows %d top-level commands", item.name, TOP_LEVEL)
    return count
