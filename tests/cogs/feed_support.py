"""A Roadie with the webhook receiver on, a recording chat, and a fake clock, for feed tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.config import DEFAULT_COGS
from bot.core.ports import GitHubPort
from bot.runtime.app import Roadie
from governance.clock import FakeClock
from governance.db import Database
from governance.inbox.models import WebhookDelivery
from tests.support import RecordingChat, deep_merge, make_config, post_webhook, running

SECRET = "it's a secret to everybody"
DESTINATIONS = ("admins", "moderators", "modlog", "digest", "feed", "releases", "security")


def feed_config_overrides(tmp_path: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    secret = tmp_path / "webhook-secret"
    secret.write_text(SECRET)
    base = {"github": {"webhook_secret_file": str(secret)},
            "destinations": {"releases": {"description": "releases"},
                             "security": {"description": "security"}},
            # Onboarding adds notices of its own to repository events; leave it out here.
            "bot": {"cogs": [c for c in DEFAULT_COGS if c != "cogs.onboarding"]}}
    return deep_merge(base, extra or {})


class Feed:
    """Deliver signed payloads to a running Roadie and read what reached chat."""

    def __init__(self, roadie: Roadie, chat: RecordingChat, clock: FakeClock) -> None:
        self.roadie = roadie
        self.chat = chat
        self.clock = clock

    async def deliver(self, event: str, payload: dict[str, Any], *,
                      delivery: str | None = None) -> int:
        status, _ = await post_webhook(self.roadie, event, payload, secret=SECRET,
                                       delivery=delivery)
        await self.roadie.settle()
        return status

    async def later(self, seconds: float = 11) -> None:
        """Let time pass (bursts close) and send what became due."""
        self.clock.advance(timedelta(seconds=seconds))
        await self.roadie.settle()

    def texts(self, place: str | None = None) -> list[str]:
        return self.chat.texts(place)

    async def statuses(self) -> list[str]:
        return await self.roadie.db.run(lambda session: [row.status for row in session.exec(
            select(WebhookDelivery).order_by(WebhookDelivery.id)).all()])


@asynccontextmanager
async def feed_roadie(tmp_path: Path, db: Database, *, config: dict[str, Any] | None = None,
                      github: GitHubPort | None = None) -> AsyncIterator[Feed]:
    clock = FakeClock()
    chat = RecordingChat(destinations=DESTINATIONS)
    async with running(make_config(tmp_path, feed_config_overrides(tmp_path, config)), db=db,
                       clock=clock, transports=[chat], github=github) as roadie:
        yield Feed(roadie, chat, clock)
