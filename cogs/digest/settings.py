"""The `[digest]` section of the config."""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bot.core.settings import Destination, Duration, Section, duration_default

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class DigestSettings(Section):
    time: str = "09:00"
    timezone: str = "UTC"
    destination: Destination = "digest"
    quiet_day: Literal["line", "skip"] = "line"
    quiet_line: str = Field(default="A quiet day: nothing is stuck, overdue or new.",
                            min_length=1, max_length=300)
    max_lines: int = Field(default=10, ge=1, le=50)
    catch_up_within: Duration = duration_default("6h")

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.fullmatch(value):
            raise ValueError("expected a time of day as HH:MM, such as 09:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA timezone name, such as UTC or "
                             "Europe/Berlin") from None
        return value

    @property
    def at(self) -> time:
        hour, minute = self.time.split(":")
        return time(int(hour), int(minute))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
