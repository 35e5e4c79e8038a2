"""Authenticating as a GitHub App installed on the org, or with a personal token.

As an App, Roadie signs a JWT with the App's private key (PyGithub's `Auth.AppAuth`), finds
the App's installation on the org (`GET /orgs/{org}/installation`, unless the config names
it) and asks for an installation token (`POST /app/installations/{id}/access_tokens`). A
token lasts an hour; a new one is asked for `REFRESH_BEFORE` ahead of its expiry, so that no
call goes out with a token about to lapse.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from github import Auth, GithubIntegration

from bot.config import RoadieConfig

REFRESH_BEFORE = timedelta(minutes=5)


class InstallationAuth(Auth.Auth):
    """An installation token for requests, asked for again shortly before it expires."""

    def __init__(self, app: Auth.AppAuth, org: str, *, api_url: str,
                 installation_id: int | None = None, timeout: int = 15,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.org = org
        self.installation_id = installation_id
        self._integration = GithubIntegration(auth=app, base_url=api_url, timeout=timeout,
                                              retry=None)
        self._now = now
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = datetime.min.replace(tzinfo=UTC)
        self.permissions: dict[str, str] = {}
        """What the current installation token may do, as GitHub granted it."""

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        with self._lock:  # PyGithub calls come from several worker threads
            if self._token is None or self._now() >= self._expires_at - REFRESH_BEFORE:
                self._refresh()
            assert self._token is not None
            return self._token

    def installation(self) -> int:
        if self.installation_id is None:
            self.installation_id = self._integration.get_org_installation(self.org).id
        return self.installation_id

    def _refresh(self) -> None:
        granted = self._integration.get_access_token(self.installation())
        self._token = granted.token
        self._expires_at = granted.expires_at.astimezone(UTC)
        self.permissions = dict(granted.raw_data.get("permissions") or {})

    @property
    def _masked_token(self) -> str:
        return "installation token (removed)"


def app_auth(config: RoadieConfig) -> Auth.AppAuth | None:
    settings = config.github
    key = settings.private_key.value()
    if settings.auth != "app" or settings.app_id is None or key is None:
        return None
    return Auth.AppAuth(settings.app_id, key)


def github_auth(config: RoadieConfig) -> Auth.Auth | None:
    """How Roadie authenticates to GitHub, or None when no credential is configured."""
    settings = config.github
    if settings.auth == "app":
        app = app_auth(config)
        if app is None:
            return None
        return InstallationAuth(app, config.bot.org, api_url=settings.api_url,
                                installation_id=settings.installation_id)
    token = settings.token.value()
    return Auth.Token(token) if token else None
