"""The pages: their names, titles and the governance read that builds each one's data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta, tzinfo
from typing import Any

from sqlmodel import Session

from governance.public.audit import audit_page
from governance.public.digest import digest_page
from governance.public.escalations import escalations_page, monthly
from governance.public.moderation import moderation_page
from governance.public.overview import overview_page
from governance.public.projects import projects_page
from governance.public.scope import Scope
from governance.public.votes import votes_page

Read = Callable[[Session, Scope], dict[str, Any]]


@dataclass(frozen=True)
class Page:
    name: str  # the path segment, and the template's name
    title: str
    read: Read


class Kept:
    """A page part that is costly and changes slowly (the monthly figures scan a year of
    tickets), computed again at most every `seconds`; the first reader after that pays."""

    def __init__(self, read: Callable[[Session, Scope], Any], seconds: float) -> None:
        self._read, self._seconds = read, seconds
        self._lock = threading.Lock()
        self._value: Any = None
        self._until = 0.0

    def get(self, session: Session, scope: Scope) -> Any:
        with self._lock:
            if time.monotonic() < self._until:
                return self._value
        value = self._read(session, scope)
        with self._lock:
            self._value, self._until = value, time.monotonic() + self._seconds
        return value


def pages(*, stuck_after: timedelta, feeds_of: Callable[[str], list[str]],
          digest_zone: tzinfo = UTC, figures_every: float = 60.0) -> list[Page]:
    figures = Kept(monthly, figures_every)
    return [
        Page("overview", "Overview", lambda s, scope: overview_page(s, scope, stuck_after)),
        Page("digest", "Digest", lambda s, scope: digest_page(s, scope, stuck_after=stuck_after,
                                                               zone=digest_zone)),
        Page("escalations", "Escalations",
             lambda s, scope: escalations_page(s, scope, figures=figures.get(s, scope))),
        Page("votes", "Votes", votes_page),
        Page("projects", "Projects", lambda s, scope: projects_page(s, scope, feeds_of)),
        Page("moderation", "Moderation", moderation_page),
        Page("audit", "Audit", audit_page),
    ]
