"""Loading cogs by dotted name, with their settings checked by their own models."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from bot.config import DEFAULT_COGS, ConfigError, RoadieConfig, describe_errors
from bot.core.cog import Cog


def cog_class(dotted: str) -> type[Cog]:
    try:
        module = importlib.import_module(dotted)
    except ImportError as error:
        raise ConfigError([f"bot.cogs: cannot import {dotted!r} ({error})"]) from None
    cls = getattr(module, "COG", None)
    if not (isinstance(cls, type) and issubclass(cls, Cog)):
        raise ConfigError([f"bot.cogs: {dotted!r} does not export a cog as COG"])
    return cls


def load_cog_settings(config: RoadieConfig) -> list[tuple[type[Cog], Any]]:
    """Each configured cog with its validated settings; every problem reported at once."""
    problems: list[str] = []
    loaded: list[tuple[type[Cog], Any]] = []
    classes: list[type[Cog]] = []
    for dotted in config.bot.cogs:
        try:
            classes.append(cog_class(dotted))
        except ConfigError as error:
            problems.extend(error.problems)
    sections = config.cog_sections
    known = {cls.config_section() for cls in classes}
    # The sections of built-in cogs that are left out are kept for later, not errors.
    builtin = {cog_class(dotted).config_section() for dotted in DEFAULT_COGS}
    for key in sections:
        if key not in known | builtin:
            problems.append(f"{key}: unknown section (no cog reads it; check its spelling; "
                            f"configured cogs: {', '.join(sorted(known))})")
    for cls in classes:
        section = cls.config_section()
        core = getattr(config, section, None) if section in RoadieConfig.model_fields else None
        if isinstance(core, cls.Settings):
            loaded.append((cls, core))
            continue
        try:
            loaded.append((cls, cls.Settings.model_validate(sections.get(section, {}))))
        except ValidationError as error:
            problems.extend(f"{section}.{p}" for p in describe_errors(error))
    if problems:
        raise ConfigError(problems)
    return loaded
