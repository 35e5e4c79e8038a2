"""A cog for tests of the scheduler: each tick it runs, it appends a line to a file."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from sqlmodel import Session, select

from bot.core.cog import Cog, every
from bot.core.settings import Section
from governance.scheduling.models import JobTick


class TickerSettings(Section):
    path: str


class TickerCog(Cog):
    name = "ticker"
    Settings = TickerSettings
    settings: TickerSettings

    @every("1s")
    async def tick(self) -> None:
        def transact(session: Session) -> Any:
            row = session.exec(select(JobTick).where(JobTick.job == "ticker.tick")).one()
            return row
        row = await self.ctx.db.run(transact)
        await asyncio.to_thread(self._append, f"{os.getpid()} {row.last_tick.timestamp():.0f}\n")

    def _append(self, line: str) -> None:
        with open(self.settings.path, "a") as out:
            out.write(line)


COG = TickerCog
