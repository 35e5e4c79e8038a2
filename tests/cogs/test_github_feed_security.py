"""Security-relevant repository and org events go to the admins.

The payloads are the octokit repository example with the fields that GitHub's webhook
schemas (the `x-webhooks` of the REST API description) require for each event.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from governance.db import Database
from tests.cogs.feed_support import feed_roadie
from tests.support import github_payload

BASE = github_payload("repository/created")  # repository Octocoders/Hello-World, sender


def event(action: str, **fields: Any) -> dict[str, Any]:
    data = {"action": action, "repository": copy.deepcopy(BASE["repository"]),
            "sender": copy.deepcopy(BASE["sender"]),
            "organization": copy.deepcopy(BASE["organization"])}
    data.update(fields)
    return data


CASES = [
    ("repository", event("privatized"), "🔒 Hello-World was made private by Codertocat"),
    ("repository", event("publicized"), "🌍 Hello-World was made public by Codertocat"),
    ("repository", event("deleted"), "🗑️ Hello-World was deleted by Codertocat"),
    ("branch_protection_rule",
     event("deleted", rule={"id": 1, "name": "main", "repository_id": 118}),
     "🔒 Branch protection for `main` removed in Hello-World by Codertocat"),
    ("branch_protection_rule",
     event("edited", rule={"id": 1, "name": "release/*", "repository_id": 118}),
     "🔒 Branch protection for `release/*` changed in Hello-World by Codertocat"),
    ("deploy_key",
     event("created", key={"id": 7, "key": "ssh-ed25519 AAAA", "title": "deploy bot",
                           "read_only": False, "verified": True,
                           "url": "https://api.github.com/keys/7",
                           "created_at": "2026-01-05T09:00:00Z"}),
     "🔑 Deploy key “deploy bot” (read-write) added to Hello-World by Codertocat"),
    ("dependabot_alert",
     event("created", alert={
         "number": 2, "state": "open", "html_url":
             "https://github.com/Octocoders/Hello-World/security/dependabot/2",
         "dependency": {"package": {"ecosystem": "pip", "name": "django"}},
         "security_advisory": {"summary": "SQL injection in QuerySet.values()",
                               "severity": "high"}}),
     "🚨 Dependabot alert in Hello-World: django [high]"),
    ("secret_scanning_alert",
     event("publicly_leaked", alert={
         "number": 3, "secret_type": "pypi_upload_token",
         "secret_type_display_name": "PyPI API Token",
         "html_url": "https://github.com/Octocoders/Hello-World/security/secret-scanning/3"}),
     "🚨 Secret found in Hello-World: PyPI API Token [critical]"),
    ("code_scanning_alert",
     event("created", ref="refs/heads/main", commit_oid="6113728f27ae82c7b1a1",
           alert={"number": 4, "html_url": "https://github.com/Octocoders/Hello-World/"
                                           "security/code-scanning/4",
                  "rule": {"id": "py/sql-injection", "severity": "error",
                           "security_severity_level": "high",
                           "description": "SQL query built from user-controlled sources"}}),
     "🚨 Code scanning alert in Hello-World [high]"),
]


@pytest.mark.parametrize(("name", "data", "title"), CASES, ids=[f"{c[0]}-{c[1]['action']}"
                                                               for c in CASES])
async def test_security_events_reach_the_admins(tmp_path: Path, sqlite_db: Database, name: str,
                                                data: dict[str, Any], title: str) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        assert await feed.deliver(name, data, delivery="d-1") == 202
        admins = feed.texts("admins")
        assert len(admins) == 1, admins
        assert admins[0].startswith(f"**{title}**")
        assert feed.texts("feed") == []
        assert await feed.deliver(name, data, delivery="d-1") == 200  # GitHub redelivers
        assert len(feed.texts("admins")) == 1


async def test_security_events_go_where_the_config_says(tmp_path: Path,
                                                        sqlite_db: Database) -> None:
    config = {"github_feed": {"security_destination": "security"}}
    async with feed_roadie(tmp_path, sqlite_db, config=config) as feed:
        await feed.deliver("repository", event("publicized"))
        assert feed.texts("admins") == []
        (told,) = feed.texts("security")
        assert "Everything in it, its history included, is now visible to anyone." in told


async def test_ordinary_repository_news_is_not_a_security_event(tmp_path: Path,
                                                                 sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        await feed.deliver("repository", event("edited"))
        await feed.deliver("dependabot_alert", event("dismissed", alert={"number": 1}))
        assert feed.texts("admins") == []
