"""One checklist on the console, from the transfer to done: each admin item and its
escalation are one thread, escalated once and closed once, from whichever side."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.github.client import PyGithubPort
from governance.clock import FakeClock
from governance.db import Database
from governance.escalations import service as escalations
from tests.cogs.moderation.world import fake_github
from tests.cogs.onboarding.world import BASE, REPO, SECRET, issue_event, transferred
from tests.fakes.github import FakeGitHub
from tests.support import Console, deep_merge, deliver, make_config, running

MEMBER_AND_LEAD = ("links", "badge", "contributing", "ci", "docs", "project-url", "services")


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with fake_github() as fake:
        yield fake


def ticked(body: str, *keys: str) -> str:
    for key in keys:
        body = body.replace(f"- [ ] `{key}`", f"- [x] `{key}`")
    return body


async def test_one_checklist_from_transfer_to_done(tmp_path: Path, db: Database,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   github: FakeGitHub) -> None:
    monkeypatch.setenv("ROADIE_TEST_ONBOARDING_SECRET", SECRET)
    config = make_config(tmp_path, deep_merge(BASE, {"people": {"admins": ["alice"]}}))
    port = PyGithubPort(org="jazzband", token="t", api_url=github.url, throttle=False)
    clock, console = FakeClock(), Console()
    async with running(config, db=db, clock=clock, transports=[console.transport],
                       github=port) as roadie:
        async def edit(body: str, sender: str = "Codertocat") -> None:
            github.issues[(REPO, 1)].body = body
            await deliver(roadie, "issues", issue_event("edited", 1, body=body, sender=sender),
                          secret=SECRET)

        await deliver(roadie, "repository", transferred(), secret=SECRET)
        await console.say("/as alice")
        # The members and the lead do their part on GitHub: the five admin items are
        # escalated, each once, each in one message to the admins and in people's words.
        await edit(ticked(github.issues[(REPO, 1)].body, *MEMBER_AND_LEAD))
        await roadie.settle()
        out = console.text
        for number, (kind, key) in enumerate([("required-checks", "required-checks"),
                                              ("pypi", "pypi"), ("webhook", "webhook"),
                                              ("permissions", "lead"),
                                              ("release", "release")], start=1):
            assert out.count(f"**Escalation #{number}: {kind} for Hello-World**") == 1
            assert (f"- **From**: item `{key}` of the onboarding checklist of Hello-World"
                    in out)
        assert re.findall(r"\[#(\w+)\] \*\*Escalation #\d+:", out) == ["admins"] * 5
        assert "onboarding:hello-world" not in out
        assert "was opened for you" not in out

        # 1: the admin resolves the escalation; the item is ticked with it.
        start = len(console.text)
        out = await console.say("/escalation resolve 1 made the test job required")
        assert out.startswith("alice> /escalation resolve 1")
        assert "Resolved escalation #1" in out
        await roadie.settle()
        told = console.text[start:]
        assert told.count("[#feed]") == 1
        assert ("`required-checks` is ticked with it on the onboarding checklist of "
                "Hello-World: 8 of 12 done.") in told

        # 2: the admin ticks the item in chat; its escalation is resolved with it.
        start = len(console.text)
        out = await console.say("/onboarding Hello-World done pypi")
        assert "Escalation #2 is resolved with it." in out
        await roadie.settle()
        told = console.text[start:]
        assert told.count("[#feed]") == 1
        assert "**Onboarding of Hello-World: `pypi` is done**" in told

        # 3: someone ticks the item on GitHub.
        start = len(console.text)
        await edit(ticked(github.issues[(REPO, 1)].body, "webhook"), sender="frank")
        told = console.text[start:]
        assert told.count("[#feed]") == 1
        assert "ticked by frank on GitHub. Escalation #3 is resolved with it." in told

        # 4: appointing a lead ticks the lead item.
        start = len(console.text)
        out = await console.say("/grant dave lead Hello-World")
        assert ("dave is now lead of Hello-World. `lead` is ticked on the onboarding checklist "
                "of Hello-World, and escalation #4 is resolved with it.") in out
        await roadie.settle()
        told = console.text[start:]
        assert told.count("[#feed]") == 1
        assert "ticked by alice with `/grant dave lead Hello-World`." in told

        # 5: resolved from the escalation side again: the checklist is complete.
        start = len(console.text)
        await console.say("/escalation resolve 5 release workflow set up")
        await roadie.settle()
        told = console.text[start:]
        assert told.count("[#feed]") == 2
        assert "**Onboarding of Hello-World is complete**" in told

        # Each escalation was closed once, and none reminds or breaches afterwards.
        states = await roadie.db.run(lambda session: [
            escalations.require_ticket(session, n).state for n in range(1, 6)])
        histories = await roadie.db.run(lambda session: [
            [e.kind for e in escalations.history(session, n)] for n in range(1, 6)])
        assert states == ["resolved"] * 5
        assert all(kinds.count("resolved") == 1 for kinds in histories)
        start = len(console.text)
        clock.advance(timedelta(days=30))
        for cog in roadie.cogs:
            sweep = getattr(cog, "sweep", None)
            if sweep is not None and cog.name in ("escalation", "onboarding"):
                await sweep()
        await roadie.settle()
        assert "Escalation #" not in console.text[start:]
        assert "- [x] `release`" in github.issues[(REPO, 1)].body
        assert github.issues[(REPO, 1)].state == "closed"
        # Closing the issue on GitHub afterwards changes nothing.
        closed = issue_event("closed", 1, body=github.issues[(REPO, 1)].body, sender="alice")
        await deliver(roadie, "issues", closed, secret=SECRET)
        assert "Escalation #" not in console.text[start:]
