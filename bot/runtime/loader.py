"""Loading cogs by dotted name, with their settings checked by their own models."""

from __future__ import annotations

from typing import Any

from bot.cog_settings import cog_class, validate_cogs
from bot.config import ConfigError, RoadieConfig
from bot.core.cog import Cog

__all__ = ["cog_class", "load_cog_settings"]


def load_cog_settings(config: RoadieConfig) -> list[tuple[type[Cog], Any]]:
    """Each configured cog with its validated settings; every problem reported at once."""
    loaded, problems = validate_cogs(config.bot.cogs, config.cog_sections, config)
    if problems:
        raise ConfigError(problems)
    return loaded
