"""A stand-in for the voting capability's digest sections (load it as
`tests.cogs.digest.votes_stand_in`): fixed lines, to show how another cog's sections join."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.core.cog import Cog, DigestSection


class VotesStandIn(Cog):
    name = "votes-stand-in"

    def digest_sections(self, session: Session, *, now: datetime,
                        since: datetime) -> list[DigestSection]:
        return [DigestSection("Votes closing within 24h",
                              ("#4 lead of pip-tools-demo: carol, closes in 5h (3 for, 0 "
                               "against)",), order=30),
                DigestSection("Votes decided in the last day",
                              ("#2 revert the push to main of django-sample: accepted, 5 to 1",),
                              order=31),
                DigestSection("Nothing to say", (), order=32)]


COG = VotesStandIn
