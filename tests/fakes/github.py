"""A fake GitHub REST API for PyGithub (`Github(base_url=fake.url)`), with org state in memory.

Covers what Roadie calls: org blocks and members, users, teams and memberships, issues and
comments, the pull requests of a commit, and the org webhook's deliveries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.http import BODY, FakeService, json_response


@dataclass
class FakeIssue:
    repo: str
    number: int
    title: str
    body: str
    state: str = "open"
    assignees: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    creator: str = ""


class FakeGitHub(FakeService):
    def __init__(self, org: str = "jazzband") -> None:
        super().__init__()
        self.org = org
        self.members: set[str] = set()
        self.admins: set[str] = set()
        self.blocked: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, set[str]] = {}
        self.issues: dict[tuple[str, int], FakeIssue] = {}
        self.commit_pulls: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.unassignable: set[str] = set()
        """Logins GitHub refuses as assignees (422), such as people without access."""
        self.lose_created_issues = 0
        """The next n issues are created, but answered with a 502 (an answer lost)."""
        self.hook_deliveries: list[dict[str, Any]] = []
        self.redelivered: list[int] = []
        self.token_login = "roadie-bot"
        self.token_scopes: str | None = "admin:org, repo"
        """X-OAuth-Scopes of the token (a classic token); None for a fine-grained one."""
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1000)

    # --- world building ---------------------------------------------------------------------

    def add_user(self, login: str, *, created_at: str = "2015-01-01T00:00:00Z",
                 public_repos: int = 10, followers: int = 5, member: bool = False,
                 **extra: Any) -> dict[str, Any]:
        user = {"login": login, "id": next(self._ids), "type": "User",
                "created_at": created_at, "public_repos": public_repos, "followers": followers,
                "name": extra.pop("name", login.title()), "bio": extra.pop("bio", None),
                "blog": extra.pop("blog", ""), "company": extra.pop("company", None),
                "avatar_url": f"https://avatars.example/{login}", "gravatar_id": "",
                "html_url": f"https://github.com/{login}", **extra}
        self.users[login.lower()] = user
        if member:
            self.members.add(login.lower())
        return user

    def merged_pull(self, repo: str, sha: str, number: int) -> None:
        """Say that commit `sha` of `repo` arrived through merged pull request `number`."""
        self.commit_pulls.setdefault((repo, sha), []).append(
            {"number": number, "merged_at": "2026-01-01T00:00:00Z", "state": "closed"})

    # --- routes -----------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        org = self.org
        r = app.router
        r.add_route("*", f"/orgs/{org}/blocks/{{login}}", self._block)
        r.add_get(f"/orgs/{org}/blocks", self._blocks)
        r.add_get("/user", self._token_user)
        r.add_get(f"/orgs/{org}/memberships/{{login}}", self._membership)
        r.add_get(f"/orgs/{org}/members/{{login}}", self._is_member)
        r.add_get(f"/orgs/{org}/members", self._members)
        r.add_get(f"/orgs/{org}", self._org)
        r.add_get("/users/{login}", self._user)
        r.add_get(f"/orgs/{org}/teams/{{slug}}", self._team)
        r.add_get(f"/orgs/{org}/teams/{{slug}}/members", self._team_members)
        r.add_put(f"/orgs/{org}/teams/{{slug}}/memberships/{{login}}", self._add_to_team)
        r.add_get(f"/repos/{org}/{{repo}}", self._repo)
        r.add_post(f"/repos/{org}/{{repo}}/issues", self._create_issue)
        r.add_get(f"/repos/{org}/{{repo}}/issues", self._list_issues)
        r.add_route("*", f"/repos/{org}/{{repo}}/issues/{{number}}", self._issue)
        r.add_post(f"/repos/{org}/{{repo}}/issues/{{number}}/comments", self._comment)
        r.add_get(f"/repos/{org}/{{repo}}/issues/{{number}}/comments", self._comments)
        r.add_get(f"/repos/{org}/{{repo}}/commits/{{sha}}/pulls", self._commit_pulls)
        r.add_get(f"/orgs/{org}/hooks", self._hooks)
        r.add_get(f"/orgs/{org}/hooks/{{hook}}/deliveries", self._deliveries)
        r.add_post(f"/orgs/{org}/hooks/{{hook}}/deliveries/{{delivery}}/attempts",
                   self._redeliver)

    async def _block(self, request: web.Request) -> web.Response:
        login = request.match_info["login"].lower()
        if request.method == "GET":
            return web.Response(status=204 if login in self.blocked else 404)
        if request.method == "PUT":
            if login in self.admins:
                return json_response({"message": "Blocking an org admin is not allowed"}, 422)
            self.blocked.add(login)
            return web.Response(status=204)
        if request.method == "DELETE":
            self.blocked.discard(login)
            return web.Response(status=204)
        return web.Response(status=405)

    async def _blocks(self, _request: web.Request) -> web.Response:
        if self.token_login.lower() not in self.admins:
            return json_response({"message": "Must have admin rights"}, 403)
        return json_response([{"login": login} for login in sorted(self.blocked)])

    async def _token_user(self, _request: web.Request) -> web.Response:
        headers = {"X-OAuth-Scopes": self.token_scopes} if self.token_scopes is not None else {}
        return json_response({"login": self.token_login, "id": 1, "type": "User"},
                             headers=headers)

    async def _membership(self, request: web.Request) -> web.Response:
        login = request.match_info["login"].lower()
        if login not in self.members and login not in self.admins:
            return json_response({"message": "Not Found"}, 404)
        return json_response({"state": "active", "role": "admin" if login in self.admins
                              else "member", "user": {"login": login}})

    async def _is_member(self, request: web.Request) -> web.Response:
        return web.Response(status=204 if request.match_info["login"].lower() in self.members
                            else 404)

    async def _members(self, _request: web.Request) -> web.Response:
        return json_response([self.users.get(m, {"login": m}) for m in sorted(self.members)])

    async def _org(self, _request: web.Request) -> web.Response:
        return json_response({"login": self.org, "id": 1, "url": f"{self.url}/orgs/{self.org}"})

    async def _user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["login"].lower())
        if user is None:
            return json_response({"message": "Not Found"}, 404)
        return json_response(user)

    async def _team(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        if slug not in self.teams:
            return json_response({"message": "Not Found"}, 404)
        return json_response({"slug": slug, "name": slug, "id": abs(hash(slug)) % 10**6,
                              "url": f"{self.url}/orgs/{self.org}/teams/{slug}"})

    async def _team_members(self, request: web.Request) -> web.Response:
        members = self.teams.get(request.match_info["slug"])
        if members is None:
            return json_response({"message": "Not Found"}, 404)
        return json_response([{"login": m} for m in sorted(members)])

    async def _add_to_team(self, request: web.Request) -> web.Response:
        slug, login = request.match_info["slug"], request.match_info["login"]
        if slug not in self.teams:
            return json_response({"message": "Not Found"}, 404)
        self.teams[slug].add(login.lower())
        return json_response({"state": "active", "role": "member"})

    async def _repo(self, request: web.Request) -> web.Response:
        repo = request.match_info["repo"]
        return json_response({"name": repo, "full_name": f"{self.org}/{repo}",
                              "default_branch": "main",
                              "url": f"{self.url}/repos/{self.org}/{repo}"})

    def _issue_json(self, issue: FakeIssue) -> dict[str, Any]:
        return {"number": issue.number, "title": issue.title, "body": issue.body,
                "state": issue.state, "id": issue.number + 5000,
                "html_url": f"https://github.com/{self.org}/{issue.repo}/issues/{issue.number}",
                "url": f"{self.url}/repos/{self.org}/{issue.repo}/issues/{issue.number}",
                "assignees": [{"login": a} for a in issue.assignees],
                "labels": [{"name": n} for n in issue.labels], "comments": len(issue.comments),
                "user": {"login": issue.creator}}

    async def _create_issue(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        if not body.get("title"):
            return json_response({"message": "Validation Failed"}, 422)
        assignees = list(body.get("assignees") or [])
        refused = [a for a in assignees if a.lower() in self.unassignable]
        if refused:
            return json_response({"message": "Validation Failed", "errors": [
                {"value": refused[0], "resource": "Issue", "field": "assignees",
                 "code": "invalid"}]}, 422)
        issue = FakeIssue(request.match_info["repo"], next(self._numbers), body["title"],
                          body.get("body") or "", assignees=assignees,
                          labels=list(body.get("labels") or []), creator=self.token_login)
        self.issues[(issue.repo, issue.number)] = issue
        if self.lose_created_issues > 0:
            self.lose_created_issues -= 1
            return json_response({"message": "Bad Gateway"}, 502)
        return json_response(self._issue_json(issue), 201)

    async def _list_issues(self, request: web.Request) -> web.Response:
        repo, query = request.match_info["repo"], request.query
        state, creator = query.get("state", "open"), query.get("creator", "").lower()
        found = [issue for (name, _), issue in sorted(self.issues.items()) if name == repo
                 and state in ("all", issue.state)
                 and (not creator or issue.creator.lower() == creator)]
        return json_response([self._issue_json(issue) for issue in found])

    def _find(self, request: web.Request) -> FakeIssue | None:
        return self.issues.get((request.match_info["repo"], int(request.match_info["number"])))

    async def _issue(self, request: web.Request) -> web.Response:
        issue = self._find(request)
        if issue is None:
            return json_response({"message": "Not Found"}, 404)
        if request.method == "PATCH":
            for key, value in (request[BODY] or {}).items():
                if key in ("title", "body", "state"):
                    setattr(issue, key, value)
        return json_response(self._issue_json(issue))

    async def _comment(self, request: web.Request) -> web.Response:
        issue = self._find(request)
        if issue is None:
            return json_response({"message": "Not Found"}, 404)
        comment = {"id": next(self._ids), "body": (request[BODY] or {}).get("body", "")}
        issue.comments.append(comment)
        return json_response(comment, 201)

    async def _comments(self, request: web.Request) -> web.Response:
        """Oldest first, `per_page` (at most 100) at a time from `page`, with GitHub's Link
        header pointing at the next page."""
        issue = self._find(request)
        if issue is None:
            return json_response({"message": "Not Found"}, 404)
        per_page = min(int(request.query.get("per_page", 30)), 100)
        page = int(request.query.get("page", 1))
        start = (page - 1) * per_page
        headers = {}
        if start + per_page < len(issue.comments):
            headers["Link"] = (f'<{self.url}{request.path}?per_page={per_page}&page={page + 1}>; '
                               'rel="next"')
        return json_response(issue.comments[start:start + per_page], headers=headers)

    async def _commit_pulls(self, request: web.Request) -> web.Response:
        key = (request.match_info["repo"], request.match_info["sha"])
        return json_response(self.commit_pulls.get(key, []))

    async def _hooks(self, _request: web.Request) -> web.Response:
        return json_response([{"id": 1, "name": "web", "active": True,
                               "config": {"url": "http://127.0.0.1/github/webhook"}}])

    async def _deliveries(self, request: web.Request) -> web.Response:
        """Newest first, `per_page` at a time, with a cursor in the Link header as GitHub."""
        per_page = int(request.query.get("per_page", 30))
        start = int(request.query.get("cursor", 0))
        end = start + per_page
        headers = {}
        if end < len(self.hook_deliveries):
            headers["Link"] = (f'<{self.url}{request.path}?per_page={per_page}&cursor={end}>; '
                               'rel="next"')
        return json_response(self.hook_deliveries[start:end], headers=headers)

    async def _redeliver(self, request: web.Request) -> web.Response:
        self.redelivered.append(int(request.match_info["delivery"]))
        return json_response({}, 202)
