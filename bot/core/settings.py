"""Types for config sections: durations as people write them, and the base settings model."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from governance.durations import DURATION_HINT, format_duration, parse_duration


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_HINT}, as a quoted string")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration), PlainSerializer(format_duration)]


class DestinationName:
    """Marks a setting that names a destination: the runtime checks it against
    `[destinations]` at load, so that a misspelt name is refused instead of posting nowhere."""


DESTINATION = DestinationName()
Destination = Annotated[str, Field(min_length=1), DESTINATION]


def _duration_or_off(value: Any) -> timedelta:
    if isinstance(value, str) and value.strip().lower() in ("off", "0", "0s"):
        return timedelta(0)
    return _duration(value)


DurationOrOff = Annotated[timedelta, BeforeValidator(_duration_or_off),
                          PlainSerializer(format_duration)]
"""A duration, or "off" (zero) for a waiting time that can be switched off."""


def duration_default(default: str) -> Any:
    """A Duration field's default, written as in the config (`"72h"`) and validated as such."""
    return Field(default=default, validate_default=True)


class Section(BaseModel):
    """A config section: unknown keys are errors, so that typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSettings(Section):
    pass
