"""What `roadie doctor` asks GitHub: may this token block users in the org?

Blocking (`PUT /orgs/{org}/blocks/{user}`) needs an org owner's token: a classic token with
the admin:org scope, or a fine-grained one with the "Blocking users" organization permission.
"""

from __future__ import annotations

import asyncio

import requests
from github import Auth, Github, GithubException

from bot.doctor import Finding, good, missing
from bot.github.client import rate_limit_wait


def _probe(org: str, token: str, api_url: str) -> list[Finding]:
    gh = Github(auth=Auth.Token(token), base_url=api_url, retry=None, timeout=15)
    request = gh.requester.requestJsonAndCheck
    try:
        headers, user = request("GET", "/user")
    except GithubException as error:
        message = error.data.get("message") if isinstance(error.data, dict) else error.data
        wait = rate_limit_wait(error.status, error.headers, str(message or ""))
        if wait is not None:
            return [missing(f"GitHub is rate limiting this token ({error.status}): run "
                            f"`roadie doctor` again in {wait:.0f} s")]
        return [missing(f"the token was refused ({error.status}): make a new one")]
    login = user.get("login", "?")
    findings = [good(f"the token is {login}'s")]
    scopes = headers.get("x-oauth-scopes")
    if scopes is not None:
        granted = {s.strip() for s in scopes.split(",") if s.strip()}
        findings.append(good("the token has the admin:org scope") if "admin:org" in granted
                        else missing("the token lacks the admin:org scope, needed to block "
                                     f"users (it has: {', '.join(sorted(granted)) or 'none'})"))
    try:
        _, membership = request("GET", f"/orgs/{org}/memberships/{login}")
        role = membership.get("role")
    except GithubException:
        role = None
    findings.append(good(f"{login} is an owner of {org}") if role == "admin" else
                    missing(f"{login} is not an owner of {org}; only owners may block users"))
    try:
        request("GET", f"/orgs/{org}/blocks")
        findings.append(good(f"the token may read {org}'s blocked users"))
    except GithubException as error:
        findings.append(missing(f"the token may not use {org}'s blocks ({error.status}): it "
                                "needs admin:org, or the \"Blocking users\" permission"))
    return findings


async def check(org: str, token: str | None, api_url: str, source: str) -> list[Finding]:
    if token is None:
        return [missing(f"no token in {source}: without one Roadie cannot block on GitHub")]
    try:
        return await asyncio.to_thread(_probe, org, token, api_url)
    except requests.RequestException as error:
        return [missing(f"cannot reach {api_url}: {error}")]
