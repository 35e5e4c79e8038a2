"""What `roadie doctor` asks GitHub.

With a token: may it block users in the org? Blocking (`PUT /orgs/{org}/blocks/{user}`) needs
an org owner's token: a classic token with the admin:org scope, or a fine-grained one with the
"Blocking users" organization permission. As an App: is the private key accepted, is the App
installed on the org, and does the installation grant the permissions and events that the
enabled capabilities need? Either way: does the webhook send what Roadie handles, signed?
"""

from __future__ import annotations

import asyncio
from typing import Any

import requests
from github import Auth, Github, GithubException

from bot.config import RoadieConfig
from bot.doctor import Finding, good, missing
from bot.github.app import InstallationAuth, app_auth
from bot.github.client import rate_limit_wait
from bot.github.needs import Needs, missing_events, missing_permissions


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


def _message(error: GithubException) -> str:
    data = error.data if isinstance(error.data, dict) else {}
    return f"{error.status} {data.get('message', '')}".strip()


def _hook_findings(hook: dict[str, Any], where: str, webhook_path: str, needs: Needs,
                   events: list[str]) -> list[Finding]:
    config = hook.get("config") or {}
    url = str(config.get("url") or "")
    findings = [good(f"{where} posts to {url}") if url.endswith(webhook_path) else
                missing(f"{where} posts to {url or 'nowhere'}, not to Roadie's "
                        f"{webhook_path}: set its URL to https://<your host>{webhook_path}")]
    findings.append(good(f"{where} has a secret") if config.get("secret") else
                    missing(f"{where} has no secret, so Roadie refuses its deliveries: set "
                            "one there, and the same in github.webhook_secret_env (or _file)"))
    if str(config.get("content_type", "json")) != "json":
        findings.append(missing(f"{where} sends {config.get('content_type')}: set its content "
                                "type to application/json"))
    lacking = missing_events(needs, events)
    findings.append(good(f"{where} sends every event Roadie handles") if not lacking else
                    missing(f"{where} does not send: {'; '.join(lacking)}: tick them in its "
                            "events"))
    return findings


def _probe_org_hook(gh: Github, org: str, webhook_path: str, needs: Needs) -> list[Finding]:
    try:
        _, hooks = gh.requester.requestJsonAndCheck("GET", f"/orgs/{org}/hooks")
    except GithubException as error:
        return [missing(f"cannot read {org}'s webhooks ({_message(error)}): a token needs "
                        "admin:org_hook, an App organization_hooks: read")]
    ours = [h for h in hooks or () if str((h.get("config") or {}).get("url", "")).endswith(
        webhook_path)]
    if not ours:
        return [missing(f"{org} has no webhook posting to {webhook_path}: add one (Settings > "
                        f"Webhooks) with the URL https://<your host>{webhook_path}, content "
                        "type application/json and the secret")]
    hook = ours[0]
    return _hook_findings(hook, f"the org webhook {hook.get('id')}", webhook_path, needs,
                          list(hook.get("events") or []))


def _probe_app(config: RoadieConfig, needs: Needs) -> list[Finding]:
    settings, org = config.github, config.bot.org
    app = app_auth(config)
    assert app is not None
    gh = Github(auth=app, base_url=settings.api_url, retry=None, timeout=15)
    request = gh.requester.requestJsonAndCheck
    try:
        _, about = request("GET", "/app")
    except GithubException as error:
        return [missing(f"GitHub refused the App's key ({_message(error)}): check github.app_id "
                        f"({settings.app_id}) and the private key in "
                        f"{settings.private_key.source()}")]
    slug = about.get("slug") or about.get("name") or settings.app_id
    findings = [good(f"the key is the App {slug}'s")]
    installations = InstallationAuth(app, org, api_url=settings.api_url,
                                     installation_id=settings.installation_id)
    try:
        installed = installations.installation()
        _, installation = request("GET", f"/app/installations/{installed}")
    except GithubException as error:
        return [*findings, missing(
            f"the App is not installed on {org} ({_message(error)}): install it from "
            f"https://github.com/apps/{slug}/installations/new")]
    findings.append(good(f"the App is installed on {org} (installation {installed})"))
    try:
        installations.token  # noqa: B018 - asks GitHub for an installation token
        findings.append(good("GitHub issues installation tokens to Roadie"))
    except GithubException as error:
        findings.append(missing(f"GitHub refused an installation token ({_message(error)})"))
    granted = dict(installation.get("permissions") or {})
    for lack in missing_permissions(needs, granted):
        findings.append(missing(f"the App lacks the permission {lack}: add it in the App's "
                                f"settings (Permissions & events), then accept it in {org}'s "
                                "installed GitHub Apps"))
    if not missing_permissions(needs, granted):
        findings.append(good("the App has every permission the enabled capabilities need"))
    try:
        _, hook = request("GET", "/app/hook/config")
    except GithubException:
        hook = {}
    if hook.get("url"):
        findings += _hook_findings({"config": hook}, "the App's webhook",
                                   settings.webhook_path, needs,
                                   list(installation.get("events") or []))
    else:
        org_gh = Github(auth=installations, base_url=settings.api_url, retry=None, timeout=15)
        findings += _probe_org_hook(org_gh, org, settings.webhook_path, needs)
    return findings


def _probe_token_hook(config: RoadieConfig, token: str, needs: Needs) -> list[Finding]:
    gh = Github(auth=Auth.Token(token), base_url=config.github.api_url, retry=None, timeout=15)
    return _probe_org_hook(gh, config.bot.org, config.github.webhook_path, needs)


async def check_github(config: RoadieConfig, needs: Needs) -> list[Finding]:
    """The whole GitHub side of `roadie doctor`, for a token or an App."""
    settings = config.github
    try:
        if settings.auth == "app":
            if app_auth(config) is None:
                return [missing(f"auth = \"app\" but no App key in "
                                f"{settings.private_key.source()} (or no github.app_id)")]
            return await asyncio.to_thread(_probe_app, config, needs)
        token = settings.token.value()
        findings = await check(config.bot.org, token, settings.api_url,
                               settings.token.source())
        if token is not None:
            findings += await asyncio.to_thread(_probe_token_hook, config, token, needs)
        return findings
    except requests.RequestException as error:
        return [missing(f"cannot reach {settings.api_url}: {error}")]
