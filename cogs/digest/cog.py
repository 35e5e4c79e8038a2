"""The daily digest: what every capability says is stuck, due or new, once a day.

Sections come from each loaded cog's `digest_sections`. The digest is sent at `time` in
`timezone`, to the `digest` destination on every platform that maps it, exactly once a
day: the day is claimed in the database in the same transaction that queues the message
(with a key of its own), so neither a second replica nor a restart in the same minute
sends it again. If Roadie was down at that time, it is sent when Roadie comes back, up to
`catch_up_within` later.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from bot.core.cog import Cog, DigestSection, Job
from bot.core.commands import Invocation, command
from bot.core.messages import Message, Reply
from cogs.digest import render
from cogs.digest.settings import DigestSettings
from governance.digest import service
from governance.people.roles import Role

PERIOD = timedelta(days=1)
CATCH_UP_EVERY = timedelta(minutes=5)
FAILED_ORDER = 1000


class DigestCog(Cog):
    name = "digest"
    Settings = DigestSettings
    settings: DigestSettings

    def jobs(self) -> list[Job]:
        return [Job("digest.daily", self.send_scheduled, daily_at=self.settings.at,
                    timezone=self.settings.timezone),
                Job("digest.catch_up", self.catch_up, every=CATCH_UP_EVERY)]

    # --- when ---------------------------------------------------------------------------

    def day_of(self, now: datetime) -> date:
        """The day a moment belongs to, in the digest's timezone."""
        return now.astimezone(self.settings.zone).date()

    def due_at(self, day: date) -> datetime:
        """When the digest of `day` is due, in UTC."""
        local = datetime.combine(day, self.settings.at, tzinfo=self.settings.zone)
        return local.astimezone(UTC)

    async def send_scheduled(self) -> None:
        await self.send(self.ctx.clock.now())

    async def catch_up(self) -> None:
        """Send today's digest if its time has passed (within `catch_up_within`) and it has
        not gone out: Roadie was down, or the scheduled run failed."""
        now = self.ctx.clock.now()
        due = self.due_at(self.day_of(now))
        if due <= now < due + self.settings.catch_up_within:
            day = self.day_of(now)
            if await self.ctx.db.run(lambda session: service.sent_on(session, day)) is None:
                await self.send(now)

    # --- what ---------------------------------------------------------------------------

    async def send(self, now: datetime) -> bool:
        """Queue the digest of the day `now` falls on, unless it went already; True if
        this call queued it (or, on a quiet day with `quiet_day = "skip"`, skipped it)."""
        day = self.day_of(now)
        key = f"digest:{day.isoformat()}"

        def claim_and_post(session: Session) -> list[DigestSection] | None:
            """The day's sections, posted; None when the day was claimed before."""
            claimed = service.claim_day(session, day=day, now=now, outbox_key=key)
            if claimed is None:
                return None
            sections = self.sections(session, now)
            claimed.sections = len(sections)
            if sections or self.settings.quiet_day == "line":
                self.ctx.outbox.post(session, self.settings.destination,
                                     self.render(day, sections), key=key)
            return sections

        sections = await self.ctx.db.run(claim_and_post)
        if sections is None:
            return False
        self.log.info("digest of %s: %d section(s)", day, len(sections))
        return True

    def sections(self, session: Session, now: datetime) -> list[DigestSection]:
        """Every cog's non-empty sections, in order. A cog that fails is named, not fatal."""
        found: list[DigestSection] = []
        for cog in self.ctx.cogs:
            try:
                with session.begin_nested():
                    found.extend(s for s in cog.digest_sections(session, now=now,
                                                                since=now - PERIOD) if s.lines)
            except Exception:
                self.log.exception("the digest section of %s failed", cog.name)
                found.append(DigestSection(f"{cog.name}: this section could not be read",
                                           ("Roadie's log has the error.",), FAILED_ORDER))
        return sorted(found, key=lambda s: (s.order, s.title))

    def render(self, day: date, sections: list[DigestSection]) -> Message:
        """The digest, linking to its public page when the pages have an address."""
        return replace(render.digest(day, sections, max_lines=self.settings.max_lines,
                                     quiet_line=self.settings.quiet_line),
                       url=self.ctx.pages.to("digest"))

    @command("digest", "Today's digest, as of now (only you see it)", role=Role.MEMBER)
    async def show(self, call: Invocation) -> Reply:
        sections = await self.ctx.db.run(lambda session: self.sections(session, call.now))
        return Reply(message=self.render(self.day_of(call.now), sections), private=True)


COG = DigestCog
