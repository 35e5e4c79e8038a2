"""Which onboarding checklists count as stuck: the daily digest and the public pages agree."""

from __future__ import annotations

from datetime import timedelta

from governance.clock import FakeClock
from governance.db import Database
from governance.onboarding import service
from governance.onboarding.models import OPEN, OPENING
from governance.onboarding.tasklist import ItemSpec
from governance.public import projects
from governance.public.scope import Scope

STUCK_AFTER = timedelta(days=14)
TEMPLATE = service.Template(title="Onboarding", body="- [ ] readme",
                            items=(ItemSpec("readme", "Add a README badge", "lead"),))
TIMING = service.Timing(admin_wait=timedelta(days=3), checkin_after=timedelta(days=7))


def test_a_checklist_whose_issue_never_opened_is_stuck_too(db: Database,
                                                            clock: FakeClock) -> None:
    with db.transaction() as session:
        for project, with_github in (("waiting-for-github", True), ("tracked", False)):
            service.start_checklist(session, project=project, repo=project, sender="carol",
                                    template=TEMPLATE, timing=TIMING, now=clock.now(),
                                    with_github=with_github)
    with db.transaction() as session:
        states = {c.project: c.state for c in service.active_checklists(session)}
        assert states == {"waiting-for-github": OPENING, "tracked": OPEN}
        later = clock.now() + STUCK_AFTER + timedelta(hours=1)
        in_digest = [c.project for c in service.stuck_checklists(session, later, STUCK_AFTER)]
        on_page = [row["project"] for row in projects.stuck(session, Scope(now=later),
                                                            STUCK_AFTER)]
        assert sorted(in_digest) == sorted(on_page) == ["tracked", "waiting-for-github"]
        too_soon = clock.now() + STUCK_AFTER - timedelta(hours=1)
        assert service.stuck_checklists(session, too_soon, STUCK_AFTER) == []
