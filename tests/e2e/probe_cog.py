"""A cog for tests (load it by dotted name, `tests.e2e.probe_cog`): it remembers the member
joins Roadie reports, has a command that answers only when the test releases it, and
announces GitHub's `ping` event in the feed."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import Session

from bot.config import DEFAULT_COGS
from bot.core.cog import Cog, on_github, on_member_join
from bot.core.commands import Arg, Invocation, command
from bot.core.events import GitHubEvent, MemberJoined
from bot.core.messages import Message, Reply


class Probe(Cog):
    name = "probe"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.joined: list[MemberJoined] = []
        self.release = asyncio.Event()

    @on_member_join
    async def remember(self, joined: MemberJoined) -> None:
        self.joined.append(joined)

    @command("probe wait", "Answer when the test says so",
             Arg("answer", "how to answer", choices=("public", "private")))
    async def wait(self, call: Invocation, answer: str) -> Reply:
        await self.release.wait()
        return Reply(text=f"Released ({answer}).", private=answer == "private")

    @on_github("ping")
    async def ping(self, event: GitHubEvent) -> bool:
        def transact(session: Session) -> None:
            self.ctx.outbox.post(session, "feed", Message(
                title=f"GitHub says hello to {event.text('organization', 'login')}",
                body=event.text("zen"), url=event.text("hook", "url")))
        await self.ctx.db.run(transact)
        return True


COG = Probe
CONFIG = {"bot": {"cogs": [*DEFAULT_COGS, "tests.e2e.probe_cog"]}}
"""Config to merge (`make_world(CONFIG)`) to load this cog next to the default ones."""


def probe_of(roadie: Any) -> Probe:
    return next(c for c in roadie.cogs if isinstance(c, Probe))
