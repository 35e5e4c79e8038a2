"""The pages: their names, titles and the governance read that builds each one's data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from governance.public.audit import audit_page
from governance.public.escalations import escalations_page
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


def pages(*, stuck_after: timedelta, feeds_of: Callable[[str], list[str]]) -> list[Page]:
    return [
        Page("overview", "Overview", lambda s, scope: overview_page(s, scope, stuck_after)),
        Page("escalations", "Escalations", escalations_page),
        Page("votes", "Votes", votes_page),
        Page("projects", "Projects", lambda s, scope: projects_page(s, scope, feeds_of)),
        Page("moderation", "Moderation", moderation_page),
        Page("audit", "Audit", audit_page),
    ]
