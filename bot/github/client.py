"""GitHubPort on PyGithub. PyGithub is synchronous, so every call runs in a worker thread.

Errors become PlatformError: 5xx, timeouts and rate limits are worth retrying (with the
wait GitHub asked for, `rate_limit_wait`); other 4xx answers are permanent. Lists follow
GitHub's `Link` pagination (PyGithub's PaginatedList).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException
from github.Issue import Issue
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest

from bot.core.ports import GitHubIssue, GitHubUser, PlatformError, TeamMembership

T = TypeVar("T")


def rate_limit_wait(status: int, headers: dict[str, Any] | None, message: str, *,
                    now: float | None = None) -> float | None:
    """How long GitHub asked to wait, or None when the answer is no rate limit.

    As GitHub documents it, for 403 and 429 alike: `retry-after` first; else, when
    `x-ratelimit-remaining` is 0, until `x-ratelimit-reset`; else (a secondary limit that
    names no time) at least a minute.
    """
    if status not in (403, 429):
        return None
    lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    retry_after = lowered.get("retry-after", "")
    if retry_after.strip().isdigit():
        return max(float(retry_after), 1.0)
    reset = lowered.get("x-ratelimit-reset", "")
    if lowered.get("x-ratelimit-remaining") == "0":
        now = datetime.now(UTC).timestamp() if now is None else now
        return max(float(reset) - now, 1.0) if reset.strip().isdigit() else 60.0
    if status == 429 or "rate limit" in message.lower():
        return 60.0
    return None


def _error(error: Exception) -> PlatformError:
    if isinstance(error, GithubException):
        message = error.data.get("message") if isinstance(error.data, dict) else error.data
        wait = rate_limit_wait(error.status, error.headers, str(message or ""))
        if wait is not None:
            return PlatformError("github", f"rate limited ({error.status}): wait {wait:.0f} s",
                                 retry_after=wait, status=error.status)
        permanent = 400 <= error.status < 500 and error.status not in (408, 429)
        return PlatformError("github", f"{error.status} {message}", permanent=permanent,
                             status=error.status)
    return PlatformError("github", f"unreachable: {error}")


def _issue(repo: str, issue: Issue) -> GitHubIssue:
    return GitHubIssue(repo=repo, number=issue.number, title=issue.title or "",
                       body=issue.body or "", state=issue.state or "", url=issue.html_url or "",
                       assignees=tuple(a.login for a in issue.assignees or ()))


class PyGithubPort:
    def __init__(self, *, org: str, token: str | None = None,
                 api_url: str = "https://api.github.com", timeout: int = 15,
                 throttle: bool = True, auth: Auth.Auth | None = None) -> None:
        """Authenticated by `auth` (an App installation, see bot.github.app) or `token`."""
        self.org = org
        spacing: dict[str, Any] = {} if throttle else {"seconds_between_requests": None,
                                                       "seconds_between_writes": None}
        auth = auth or (Auth.Token(token) if token else None)
        self._gh = Github(auth=auth, base_url=api_url,
                          timeout=timeout, retry=None, lazy=True, **spacing)

    async def _call(self, func: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(func, *args)
        except (GithubException, requests.RequestException) as error:
            raise _error(error) from error

    def _request(self, verb: str, url: str, body: Any = None) -> Any:
        """The JSON answer of a REST call (PyGithub answers headers and data)."""
        _headers, data = self._gh.requester.requestJsonAndCheck(verb, url, input=body)
        return data

    async def check_auth(self) -> None:
        """Raise PlatformError unless GitHub accepts the credentials for the org."""
        await self._call(self._request, "GET", f"/orgs/{self.org}")

    # --- people -----------------------------------------------------------------------

    async def block_user(self, login: str) -> None:
        await self._call(self._request, "PUT", f"/orgs/{self.org}/blocks/{login}")

    async def unblock_user(self, login: str) -> None:
        await self._call(self._request, "DELETE", f"/orgs/{self.org}/blocks/{login}")

    async def is_blocked(self, login: str) -> bool:
        return await self._call(self._status_is_204, f"/orgs/{self.org}/blocks/{login}")

    async def is_org_member(self, login: str) -> bool:
        return await self._call(self._status_is_204, f"/orgs/{self.org}/members/{login}")

    def _status_is_204(self, url: str) -> bool:
        try:
            self._request("GET", url)
            return True
        except GithubException as error:
            if error.status == 404:
                return False
            raise

    async def get_user(self, login: str) -> GitHubUser | None:
        def fetch() -> GitHubUser | None:
            try:
                user = self._gh.get_user(login)
                user.login  # noqa: B018 - a lazy object: reading it loads the user
                created = user.created_at
            except GithubException as error:
                if error.status == 404:
                    return None
                raise
            return GitHubUser(
                login=user.login, created_at=created.astimezone(UTC) if created else None,
                public_repos=user.public_repos or 0, followers=user.followers or 0,
                name=user.name or "", bio=user.bio or "", blog=user.blog or "",
                company=user.company or "", type=user.type or "User",
                avatar_is_default="gravatar_id" not in user.raw_data
                or not user.raw_data.get("avatar_url"))

        return await self._call(fetch)

    async def org_members(self) -> list[str]:
        return await self._call(
            lambda: [m.login for m in self._gh.get_organization(self.org).get_members()])

    async def team_members(self, team_slug: str) -> list[str]:
        def fetch() -> list[str]:
            team = self._gh.get_organization(self.org).get_team_by_slug(team_slug)
            return [m.login for m in team.get_members()]

        return await self._call(fetch)

    async def add_team_member(self, team_slug: str, login: str) -> TeamMembership:
        data = await self._call(self._request, "PUT",
                                f"/orgs/{self.org}/teams/{team_slug}/memberships/{login}")
        return "pending" if (data or {}).get("state") == "pending" else "active"

    async def team_membership(self, team_slug: str, login: str) -> TeamMembership | None:
        def fetch() -> TeamMembership | None:
            try:
                data = self._request("GET",
                                     f"/orgs/{self.org}/teams/{team_slug}/memberships/{login}")
            except GithubException as error:
                if error.status == 404:
                    return None
                raise
            return "pending" if (data or {}).get("state") == "pending" else "active"

        return await self._call(fetch)

    # --- issues -----------------------------------------------------------------------

    def _full(self, repo: str) -> str:
        """A repository of the org by its name, or any by its full name (`owner/name`)."""
        return repo if "/" in repo else f"{self.org}/{repo}"

    def _repo(self, repo: str):  # type: ignore[no-untyped-def]
        return self._gh.get_repo(self._full(repo))

    async def create_issue(self, repo: str, title: str, body: str, *,
                           assignees: tuple[str, ...] = (),
                           labels: tuple[str, ...] = ()) -> GitHubIssue:
        def create() -> GitHubIssue:
            issue = self._repo(repo).create_issue(title=title, body=body,
                                                  assignees=list(assignees), labels=list(labels))
            return _issue(repo, issue)

        return await self._call(create)

    async def get_issue(self, repo: str, number: int) -> GitHubIssue:
        return await self._call(lambda: _issue(repo, self._repo(repo).get_issue(number)))

    async def list_issues(self, repo: str, *, creator: str = "",
                          state: str = "all") -> list[GitHubIssue]:
        def fetch() -> list[GitHubIssue]:
            filters: dict[str, Any] = {"state": state}
            if creator:
                filters["creator"] = creator
            return [_issue(repo, issue) for issue in self._repo(repo).get_issues(**filters)
                    if issue.pull_request is None]

        return await self._call(fetch)

    async def edit_issue(self, repo: str, number: int, *, body: str | None = None,
                         title: str | None = None, state: str | None = None) -> GitHubIssue:
        def edit() -> GitHubIssue:
            changes = {k: v for k, v in (("body", body), ("title", title), ("state", state))
                       if v is not None}
            data = self._request("PATCH", f"/repos/{self._full(repo)}/issues/{number}",
                                    changes)
            return GitHubIssue(repo=repo, number=data["number"], title=data.get("title") or "",
                               body=data.get("body") or "", state=data.get("state") or "",
                               url=data.get("html_url") or "",
                               assignees=tuple(a["login"] for a in data.get("assignees") or ()))

        return await self._call(edit)

    async def comment_issue(self, repo: str, number: int, body: str) -> None:
        await self._call(self._request, "POST",
                         f"/repos/{self._full(repo)}/issues/{number}/comments", {"body": body})

    async def pulls_for_commit(self, repo: str, sha: str) -> list[int]:
        def fetch() -> list[int]:
            pulls = PaginatedList(PullRequest, self._gh.requester,
                                  f"/repos/{self._full(repo)}/commits/{sha}/pulls", None)
            return [p.number for p in pulls if p.merged_at is not None]

        return await self._call(fetch)


