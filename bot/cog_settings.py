"""The cogs' sections of a config: loaded by dotted name, checked by the cogs' own models,
with every setting that names a destination checked against `[destinations]`."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.config import DEFAULT_COGS, ConfigError, RoadieConfig, describe_errors, unknown_destination
from bot.core.cog import Cog
from bot.core.settings import DESTINATION


def cog_class(dotted: str) -> type[Cog]:
    try:
        module = importlib.import_module(dotted)
    except ImportError as error:
        raise ConfigError([f"bot.cogs: cannot import {dotted!r} ({error})"]) from None
    cls = getattr(module, "COG", None)
    if not (isinstance(cls, type) and issubclass(cls, Cog)):
        raise ConfigError([f"bot.cogs: {dotted!r} does not export a cog as COG"])
    return cls


def destination_settings(model: BaseModel, prefix: str) -> Iterator[tuple[str, str]]:
    """(key, name) of every setting of `model`, nested ones included, naming a destination."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = f"{prefix}.{name}"
        if DESTINATION in field.metadata and isinstance(value, str):
            yield key, value
        elif isinstance(value, BaseModel):
            yield from destination_settings(value, key)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from destination_settings(item, f"{key}[{index}]")


def validate_cogs(cogs: list[str], sections: dict[str, Any], config: RoadieConfig | None
              ) -> tuple[list[tuple[type[Cog], Any]], list[str]]:
    problems: list[str] = []
    loaded: list[tuple[type[Cog], Any]] = []
    classes: list[type[Cog]] = []
    for dotted in cogs:
        try:
            classes.append(cog_class(dotted))
        except ConfigError as error:
            problems.extend(error.problems)
    known = {cls.config_section() for cls in classes}
    # The sections of built-in cogs that are left out are kept for later, not errors.
    builtin = {cog_class(dotted).config_section() for dotted in DEFAULT_COGS}
    for key in sections:
        if key not in known | builtin:
            problems.append(f"{key}: unknown section (no cog reads it; check its spelling; "
                            f"configured cogs: {', '.join(sorted(known))})")
    for cls in classes:
        section = cls.config_section()
        if section in RoadieConfig.model_fields:
            core = getattr(config, section, None)
            if isinstance(core, cls.Settings):
                loaded.append((cls, core))
                continue
            if config is None:  # a core section: the config's own model reported it
                continue
        try:
            loaded.append((cls, cls.Settings.model_validate(sections.get(section, {}))))
        except ValidationError as error:
            problems.extend(f"{section}.{p}" for p in describe_errors(error))
    return loaded, problems


def cog_problems(raw: dict[str, Any], config: RoadieConfig | None,
                 destinations: set[str]) -> list[str]:
    """What is wrong with the cogs' sections of a config file, even when its core is wrong."""
    if config is not None:
        cogs, sections = config.bot.cogs, config.cog_sections
    else:
        bot = raw.get("bot")
        cogs = bot.get("cogs") if isinstance(bot, dict) else None
        cogs = cogs if isinstance(cogs, list) and all(isinstance(c, str) for c in cogs) \
            else list(DEFAULT_COGS)
        sections = {k: v for k, v in raw.items() if k not in RoadieConfig.model_fields}
    loaded, problems = validate_cogs(cogs, sections, config)
    for cls, settings in loaded:
        if not isinstance(settings, BaseModel):
            continue
        for key, name in destination_settings(settings, cls.config_section()):
            if name not in destinations:
                problems.append(unknown_destination(key, name, destinations))
    return problems
