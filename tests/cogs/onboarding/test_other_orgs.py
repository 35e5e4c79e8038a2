"""Deliveries about another org are ignored, and counted."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from governance.db import Database
from governance.onboarding import service
from tests.cogs.moderation.world import fake_github
from tests.cogs.onboarding.world import transferred, world
from tests.fakes.github import FakeGitHub


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with fake_github() as fake:
        yield fake


async def test_a_repository_of_another_org_starts_no_checklist(
        tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch,
        github: FakeGitHub) -> None:
    overrides = {"github": {"org": "jazzband"}}
    async with world(tmp_path, db, monkeypatch, github, overrides) as w:
        elsewhere = transferred("Hello-World")  # owned by Octocoders
        assert elsewhere["repository"]["owner"]["login"] == "Octocoders"
        assert await w.deliver("repository", elsewhere) == 202
        assert await w.roadie.db.run(
            lambda session: service.find_checklist(session, "Hello-World")) is None
        assert w.texts("feed") == []

        ours = transferred("pip-tools-demo")
        ours["repository"]["owner"]["login"] = "jazzband"
        await w.deliver("repository", ours)
        assert await w.roadie.db.run(
            lambda session: service.find_checklist(session, "pip-tools-demo")) is not None

        assert w.roadie.server is not None
        url = f"http://127.0.0.1:{w.roadie.server.port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as answer:
            page = await answer.text()
        match = re.search(r'roadie_webhook_processed_total\{event="repository",'
                          r'outcome="other_org"\} (\S+)', page)
        assert match is not None
        assert float(match.group(1)) == 1.0
