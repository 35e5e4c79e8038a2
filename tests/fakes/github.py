"""A fake GitHub REST API for PyGithub (`Github(base_url=fake.url)`), with org state in memory.

Covers what Roadie calls: org blocks and members, users, teams and memberships, issues and
comments, the pull requests of a commit, and the org webhook's deliveries.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
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
        self.org_hook_events: list[str] = ["*"]
        self.org_hook_secret = True
        self.app: FakeApp | None = None
        """The GitHub App installed on the org (`install_app`); None: token access only."""
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
        r.add_get(f"/repos/{org}/{{repo}}/commits/{{sha}}/pulls", self._commit_pulls)
        r.add_get(f"/orgs/{org}/hooks", self._hooks)
        r.add_get(f"/orgs/{org}/hooks/{{hook}}/deliveries", self._deliveries)
        r.add_post(f"/orgs/{org}/hooks/{{hook}}/deliveries/{{delivery}}/attempts",
                   self._redeliver)
        self._app_routes(app)

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

    async def _commit_pulls(self, request: web.Request) -> web.Response:
        key = (request.match_info["repo"], request.match_info["sha"])
        return json_response(self.commit_pulls.get(key, []))

    async def _hooks(self, _request: web.Request) -> web.Response:
        config = {"url": "http://127.0.0.1/github/webhook", "content_type": "json",
                  "insecure_ssl": "0", **({"secret": "********"} if self.org_hook_secret else {})}
        return json_response([{"id": 1, "name": "web", "active": True, "type": "Organization",
                               "events": self.org_hook_events, "config": config}])

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

    # --- the GitHub App -----------------------------------------------------------------------

    def install_app(self, public_key: str, *, app_id: int = 4242, slug: str = "roadie-test",
                    permissions: dict[str, str] | None = None, events: list[str] | None = None,
                    token_lifetime: timedelta = timedelta(hours=1)) -> FakeApp:
        """A GitHub App, whose JWTs verify with `public_key` (PEM), installed on the org."""
        self.app = FakeApp(app_id=app_id, slug=slug, public_key=public_key,
                           installation_id=next(self._ids), permissions=dict(
                               permissions or {}), events=list(events or []),
                           token_lifetime=token_lifetime)
        return self.app

    def _app_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/app", self._the_app)
        r.add_get("/app/hook/config", self._app_hook_config)
        r.add_get("/app/installations", self._app_installations)
        r.add_get("/app/installations/{installation}", self._app_installation)
        r.add_get(f"/orgs/{self.org}/installation", self._org_installation)
        r.add_post("/app/installations/{installation}/access_tokens", self._access_token)

    def _jwt_refusal(self, request: web.Request) -> web.Response | None:
        """GitHub's answer to a request whose JWT is missing, malformed, badly signed,
        expired, issued for more than ten minutes, or by another App; None when it is good."""
        app = self.app
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        refusal = json_response({"message": "A JSON web token could not be decoded",
                                 "documentation_url": "https://docs.github.com/rest"}, 401)
        if app is None or scheme.lower() != "bearer" or not token:
            return refusal
        try:
            claims = jwt.decode(token, app.public_key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"]}, leeway=60)
        except jwt.PyJWTError:
            return refusal
        if str(claims["iss"]) != str(app.app_id) or claims["exp"] - claims["iat"] > 660:
            return json_response({"message": "'Expiration time' claim ('exp') is too far in "
                                  "the future", "documentation_url":
                                  "https://docs.github.com/rest"}, 401)
        return None

    def _installation_json(self, app: FakeApp) -> dict[str, Any]:
        return {"id": app.installation_id, "app_id": app.app_id, "app_slug": app.slug,
                "client_id": f"Iv1.{app.app_id:016x}", "target_id": 1,
                "target_type": "Organization", "repository_selection": "all",
                "account": {"login": self.org, "id": 1, "type": "Organization"},
                "access_tokens_url":
                    f"{self.url}/app/installations/{app.installation_id}/access_tokens",
                "repositories_url": f"{self.url}/installation/repositories",
                "html_url": f"https://github.com/organizations/{self.org}/settings/"
                            f"installations/{app.installation_id}",
                "permissions": app.permissions, "events": app.events,
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                "single_file_name": None, "suspended_by": None, "suspended_at": None}

    async def _the_app(self, request: web.Request) -> web.Response:
        refused = self._jwt_refusal(request)
        if refused is not None or self.app is None:
            return refused or json_response({"message": "Not Found"}, 404)
        app = self.app
        return json_response({
            "id": app.app_id, "slug": app.slug, "node_id": f"A_{app.app_id}",
            "client_id": f"Iv1.{app.app_id:016x}", "name": app.slug.title(),
            "owner": {"login": self.org, "id": 1, "type": "Organization"},
            "description": "", "external_url": "https://example.org",
            "html_url": f"https://github.com/apps/{app.slug}",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "permissions": app.permissions, "events": app.events, "installations_count": 1})

    async def _app_hook_config(self, request: web.Request) -> web.Response:
        refused = self._jwt_refusal(request)
        if refused is not None or self.app is None:
            return refused or json_response({"message": "Not Found"}, 404)
        app = self.app
        config: dict[str, Any] = {"content_type": "json", "insecure_ssl": "0",
                                  "url": app.hook_url}
        if app.hook_secret:
            config["secret"] = "********"
        return json_response(config)

    async def _app_installations(self, request: web.Request) -> web.Response:
        refused = self._jwt_refusal(request)
        if refused is not None or self.app is None:
            return refused or json_response({"message": "Not Found"}, 404)
        return json_response([self._installation_json(self.app)] if self.app.installed else [])

    def _installation(self, request: web.Request, key: str) -> FakeApp | None:
        app = self.app
        if app is None or not app.installed:
            return None
        if key and request.match_info[key] != str(app.installation_id):
            return None
        return app

    async def _app_installation(self, request: web.Request) -> web.Response:
        refused = self._jwt_refusal(request)
        if refused is not None:
            return refused
        app = self._installation(request, "installation")
        return json_response(self._installation_json(app)) if app else json_response(
            {"message": "Not Found"}, 404)

    async def _org_installation(self, request: web.Request) -> web.Response:
        refused = self._jwt_refusal(request)
        if refused is not None:
            return refused
        app = self._installation(request, "")
        return json_response(self._installation_json(app)) if app else json_response(
            {"message": "Not Found"}, 404)

    async def _access_token(self, request: web.Request) -> web.Response:
        refused = self._jwt_refusal(request)
        if refused is not None:
            return refused
        app = self._installation(request, "installation")
        if app is None:
            return json_response({"message": "Not Found"}, 404)
        token = "ghs_" + secrets.token_hex(18)
        expires = datetime.now(UTC).replace(microsecond=0) + app.token_lifetime
        app.tokens[token] = expires
        return json_response({"token": token, "expires_at": expires.strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "permissions": app.permissions,
            "repository_selection": "all"}, 201)


@dataclass
class FakeApp:
    app_id: int
    slug: str
    public_key: str
    installation_id: int
    permissions: dict[str, str]
    events: list[str]
    token_lifetime: timedelta
    installed: bool = True
    hook_url: str = ""
    """The App's own webhook URL; empty: the App has none (the org webhook is used)."""
    hook_secret: bool = True
    tokens: dict[str, datetime] = field(default_factory=dict)
    """Installation tokens issued, with their expiry."""
