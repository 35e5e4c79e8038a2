"""The `[github_feed]` section of the config. Routing itself lives in `[[feeds]]`."""

from __future__ import annotations

from pydantic import Field

from bot.core.settings import Destination, Duration, Section


class DirectPushSettings(Section):
    enabled: bool = True
    exempt_bots: bool = True
    exempt_tags: bool = True
    exempt_logins: list[str] = Field(default_factory=list)


class Settings(Section):
    burst_window: Duration = Field(default="10s", validate_default=True)  # type: ignore[assignment]
    flap_window: Duration = Field(default="1h", validate_default=True)  # type: ignore[assignment]
    max_commits: int = Field(default=5, ge=1, le=50)
    excerpt_length: int = Field(default=300, ge=40, le=2000)
    org_destination: Destination = "admins"
    block_destination: Destination = "modlog"
    ping_destination: Destination = "admins"
    security_destination: Destination = "admins"
    direct_push: DirectPushSettings = DirectPushSettings()
