"""A fake GitHub REST API for PyGithub (`Github(base_url=fake.url)`), with org state in memory.

Covers what Roadie calls: org blocks and members, users, teams and memberships, invitations,
issues and comments, the pull requests of a commit, and the org webhook's deliveries. Its
answers are complete objects of the official description (tests/fakes/github_shapes.py), and
it keeps GitHub's rules that the description does not carry:

- adding someone who is not an org member to a team invites them: the membership answers
  `state: "pending"` until `accept_invitation(login)`; `expire_invitation(login)` ends it;
- every list is paginated with a `Link` header, at most `max_per_page` items a page (3 by
  default, far below GitHub's 100, so that every test's lists have several pages);
- every answer carries the `x-ratelimit-*` headers of the primary rate limit; when
  `rate_limit_remaining` reaches 0 requests get a 403 (or `rate_limit_status`) until
  `rate_limit_reset`; `secondary_limit(...)` answers 403/429 with `retry-after`;
- refused input gets a 422 with `message`, `errors` and `documentation_url`.
"""

from __future__ import annotations

import itertools
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web

from tests.fakes import github_shapes as shapes
from tests.fakes.http import BODY, FakeService, json_response

DOCS = "https://docs.github.com/rest"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    closed_at: str | None = None


@dataclass
class Invitation:
    """An invitation to join the org, made by adding a non-member to teams."""

    id: int
    login: str
    teams: set[str]
    created_at: str = field(default_factory=_now)


def not_found() -> web.Response:
    return json_response({"message": "Not Found", "documentation_url": DOCS,
                          "status": "404"}, 404)


def validation_failed(errors: list[dict[str, Any]], *, message: str = "Validation Failed",
                      docs: str = DOCS) -> web.Response:
    """A 422 as GitHub gives it."""
    return json_response({"message": message, "errors": errors, "documentation_url": docs,
                          "status": "422"}, 422)


class FakeGitHub(FakeService):
    contract_name = "github"

    def __init__(self, org: str = "jazzband") -> None:
        super().__init__()
        self.org = org
        self.org_id = 1
        self.members: set[str] = set()
        self.admins: set[str] = set()
        self.blocked: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, set[str]] = {}
        """Team slug -> logins of its active members."""
        self.invitations: dict[str, Invitation] = {}
        """Login -> the pending invitation to the org (and to the teams it was added to)."""
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
        self.max_per_page = 3
        self.rate_limit = 5000
        self.rate_limit_remaining = 5000
        self.rate_limit_reset = int(time.time()) + 3600
        self.rate_limit_status = 403
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1000)

    # --- world building ---------------------------------------------------------------------

    def add_user(self, login: str, *, created_at: str = "2015-01-01T00:00:00Z",
                 public_repos: int = 10, followers: int = 5, member: bool = False,
                 **extra: Any) -> dict[str, Any]:
        """A person's profile (`public-user` fields); `member` makes them an org member."""
        user = {"login": login, "id": next(self._ids), "type": "User",
                "created_at": created_at, "public_repos": public_repos, "followers": followers,
                "name": extra.pop("name", login.title()), "bio": extra.pop("bio", None),
                "blog": extra.pop("blog", ""), "company": extra.pop("company", None), **extra}
        self.users[login.lower()] = user
        if member:
            self.members.add(login.lower())
        return user

    def profile(self, login: str) -> dict[str, Any]:
        """The profile of `login`, made up on first sight (GitHub knows everyone)."""
        found = self.users.get(login.lower())
        return found if found is not None else self.add_user(login)

    def simple_user(self, login: str) -> dict[str, Any]:
        user = self.profile(login)
        return shapes.simple_user(self.url, user["login"], user["id"], kind=user["type"])

    def merged_pull(self, repo: str, sha: str, number: int) -> None:
        """Say that commit `sha` of `repo` arrived through merged pull request `number`."""
        self.commit_pulls.setdefault((repo, sha), []).append(
            {"number": number, "merged_at": "2026-01-01T00:00:00Z", "state": "closed"})

    def accept_invitation(self, login: str) -> list[str]:
        """The invited person accepts: they join the org and the teams they were added to.
        Returns those teams' slugs (a test then sends the `membership` webhooks)."""
        invitation = self.invitations.pop(login.lower())
        self.members.add(login.lower())
        for slug in invitation.teams:
            self.teams.setdefault(slug, set()).add(login.lower())
        return sorted(invitation.teams)

    def expire_invitation(self, login: str) -> None:
        """The invitation lapses unanswered (GitHub's invitations expire after 7 days)."""
        del self.invitations[login.lower()]

    def secondary_limit(self, method: str, path_prefix: str, *, retry_after: int = 60,
                        status: int = 403, times: int = 1) -> None:
        """The next `times` matching requests hit a secondary rate limit."""
        self.fail(method, path_prefix, status=status, times=times,
                  headers={"retry-after": str(retry_after)},
                  body={"message": "You have exceeded a secondary rate limit. Please wait a "
                        "few minutes before you try again.",
                        "documentation_url": f"{DOCS}/using-the-rest-api/rate-limits-for-the-"
                        "rest-api#about-secondary-rate-limits", "status": str(status)})

    # --- the rules around every route ---------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": str(self.rate_limit),
                "x-ratelimit-remaining": str(max(self.rate_limit_remaining, 0)),
                "x-ratelimit-reset": str(self.rate_limit_reset),
                "x-ratelimit-used": str(self.rate_limit - max(self.rate_limit_remaining, 0)),
                "x-ratelimit-resource": "core", "x-github-api-version-selected": "2022-11-28"}

    @web.middleware
    async def _rules(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.rate_limit_remaining <= 0 and time.time() >= self.rate_limit_reset:
            self.rate_limit_remaining = self.rate_limit
            self.rate_limit_reset = int(time.time()) + 3600
        if self.rate_limit_remaining <= 0:
            return json_response(
                {"message": "API rate limit exceeded for user ID 1.",
                 "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                 "status": str(self.rate_limit_status)}, self.rate_limit_status)
        self.rate_limit_remaining -= 1
        return await handler(request)

    def decorate(self, response: web.StreamResponse) -> None:
        for name, value in self._rate_headers().items():
            response.headers.setdefault(name, value)

    def _page(self, request: web.Request, items: list[Any]) -> web.Response:
        """One page of a list, with GitHub's `Link` header to the others."""
        def number(name: str, default: int) -> int:  # GitHub ignores what is no number
            value = request.query.get(name, "")
            return max(int(value), 1) if value.isdigit() else default

        per_page = min(number("per_page", 30), 100, self.max_per_page)
        page = number("page", 1)
        last = max((len(items) + per_page - 1) // per_page, 1)

        def link(number: int, rel: str) -> str:
            query = {**request.query, "per_page": str(per_page), "page": str(number)}
            return f'<{self.url}{request.path}?{urllib.parse.urlencode(query)}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        return json_response(items[(page - 1) * per_page:page * per_page], headers=headers)

    # --- routes -----------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._rules)
        org = self.org
        r = app.router
        r.add_route("*", f"/orgs/{org}/blocks/{{login}}", self._block)
        r.add_get(f"/orgs/{org}/blocks", self._blocks)
        r.add_get("/user", self._token_user)
        r.add_get(f"/orgs/{org}/memberships/{{login}}", self._membership)
        r.add_get(f"/orgs/{org}/members/{{login}}", self._is_member)
        r.add_get(f"/orgs/{org}/members", self._members)
        r.add_get(f"/orgs/{org}/invitations", self._invitations)
        r.add_get(f"/orgs/{org}", self._org)
        r.add_get("/users/{login}", self._user)
        r.add_get(f"/orgs/{org}/teams/{{slug}}", self._team)
        r.add_get(f"/orgs/{org}/teams/{{slug}}/members", self._team_members)
        r.add_get(f"/orgs/{org}/teams/{{slug}}/memberships/{{login}}", self._team_membership)
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
        self._app_routes(app)

    async def _block(self, request: web.Request) -> web.Response:
        login = request.match_info["login"].lower()
        if request.method == "GET":
            return web.Response(status=204) if login in self.blocked else not_found()
        if request.method == "PUT":
            if login in self.admins:
                return validation_failed(
                    [{"resource": "User", "field": "username", "code": "invalid",
                      "message": "Blocking an organization admin is not allowed"}],
                    message="Blocking an org admin is not allowed")
            self.blocked.add(login)
            return web.Response(status=204)
        if request.method == "DELETE":
            self.blocked.discard(login)
            return web.Response(status=204)
        return web.Response(status=405)

    async def _blocks(self, request: web.Request) -> web.Response:
        if self.token_login.lower() not in self.admins:
            return json_response({"message": "Must have admin rights to Repository.",
                                  "documentation_url": DOCS, "status": "403"}, 403)
        return self._page(request, [self.simple_user(login) for login in sorted(self.blocked)])

    async def _token_user(self, _request: web.Request) -> web.Response:
        headers = {"X-OAuth-Scopes": self.token_scopes} if self.token_scopes is not None else {}
        user = shapes.public_user(self.url, self.profile(self.token_login))
        user.update(private_gists=0, total_private_repos=0, owned_private_repos=0,
                    disk_usage=0, collaborators=0, two_factor_authentication=True)
        return json_response(user, headers=headers)

    async def _membership(self, request: web.Request) -> web.Response:
        login = request.match_info["login"].lower()
        if login in self.members or login in self.admins:
            state = "active"
        elif login in self.invitations:
            state = "pending"
        else:
            return not_found()
        return json_response(shapes.org_membership(
            self.url, self.org, self.org_id, self.simple_user(login), state=state,
            role="admin" if login in self.admins else "member"))

    async def _is_member(self, request: web.Request) -> web.Response:
        return web.Response(status=204 if request.match_info["login"].lower() in self.members
                            else 404)

    async def _members(self, request: web.Request) -> web.Response:
        return self._page(request, [self.simple_user(m) for m in sorted(self.members)])

    async def _invitations(self, request: web.Request) -> web.Response:
        inviter = self.simple_user(self.token_login)
        return self._page(request, [
            shapes.invitation(self.url, self.org, i.id, self.profile(i.login)["login"], inviter,
                              i.created_at, len(i.teams))
            for i in sorted(self.invitations.values(), key=lambda i: i.id)])

    async def _org(self, _request: web.Request) -> web.Response:
        return json_response(shapes.organization_full(self.url, self.org, self.org_id))

    async def _user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["login"].lower())
        if user is None:
            return not_found()
        return json_response(shapes.public_user(self.url, user))

    def _team_id(self, slug: str) -> int:
        return sorted(self.teams).index(slug) + 100

    async def _team(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        if slug not in self.teams:
            return not_found()
        return json_response(shapes.team_full(self.url, self.org, self.org_id, slug,
                                              self._team_id(slug), len(self.teams[slug])))

    async def _team_members(self, request: web.Request) -> web.Response:
        members = self.teams.get(request.match_info["slug"])
        if members is None:
            return not_found()
        return self._page(request, [self.simple_user(m) for m in sorted(members)])

    def _team_state(self, slug: str, login: str) -> str | None:
        if login in self.teams.get(slug, set()):
            return "active"
        invitation = self.invitations.get(login)
        return "pending" if invitation is not None and slug in invitation.teams else None

    async def _team_membership(self, request: web.Request) -> web.Response:
        slug, login = request.match_info["slug"], request.match_info["login"].lower()
        state = self._team_state(slug, login)
        if slug not in self.teams or state is None:
            return not_found()
        return json_response(shapes.team_membership(self.url, self.org, slug, login, state))

    async def _add_to_team(self, request: web.Request) -> web.Response:
        slug, login = request.match_info["slug"], request.match_info["login"].lower()
        if slug not in self.teams or login not in self.users:
            return not_found()
        if login in self.members or login in self.admins:
            self.teams[slug].add(login)
        else:  # GitHub invites a non-member to the org; the membership waits for an answer
            invitation = self.invitations.setdefault(
                login, Invitation(next(self._ids), login, set()))
            invitation.teams.add(slug)
        return json_response(shapes.team_membership(self.url, self.org, slug, login,
                                                    self._team_state(slug, login) or "pending"))

    def _repository(self, repo: str, *, full: bool = True) -> dict[str, Any]:
        owner = shapes.simple_user(self.url, self.org, self.org_id, kind="Organization")
        return shapes.repository(self.url, self.org, repo, abs(hash(repo)) % 10**8, owner,
                                 full=full)

    async def _repo(self, request: web.Request) -> web.Response:
        return json_response(self._repository(request.match_info["repo"]))

    def _issue_json(self, issue: FakeIssue) -> dict[str, Any]:
        return shapes.issue(
            self.url, self.org, issue.repo, number=issue.number, issue_id=issue.number + 5000,
            title=issue.title, body=issue.body, state=issue.state,
            user=self.simple_user(issue.creator or self.token_login),
            assignees=[self.simple_user(a) for a in issue.assignees], labels=issue.labels,
            comments=len(issue.comments), created_at=issue.created_at,
            updated_at=issue.updated_at, closed_at=issue.closed_at)

    async def _create_issue(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        if not body.get("title"):
            return validation_failed([{"resource": "Issue", "field": "title",
                                       "code": "missing_field"}])
        assignees = list(body.get("assignees") or [])
        refused = [a for a in assignees if a.lower() in self.unassignable]
        if refused:
            return validation_failed([{"value": refused[0], "resource": "Issue",
                                       "field": "assignees", "code": "invalid"}])
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
        return self._page(request, [self._issue_json(issue) for issue in found])

    def _find(self, request: web.Request) -> FakeIssue | None:
        return self.issues.get((request.match_info["repo"], int(request.match_info["number"])))

    async def _issue(self, request: web.Request) -> web.Response:
        issue = self._find(request)
        if issue is None:
            return not_found()
        if request.method == "PATCH":
            changes = request[BODY] or {}
            if changes.get("state") not in (None, "open", "closed"):
                return validation_failed([{"resource": "Issue", "field": "state",
                                           "code": "invalid"}])
            for key, value in changes.items():
                if key in ("title", "body", "state"):
                    setattr(issue, key, value)
            issue.updated_at = _now()
            issue.closed_at = issue.updated_at if issue.state == "closed" else None
        return json_response(self._issue_json(issue))

    async def _comment(self, request: web.Request) -> web.Response:
        issue = self._find(request)
        if issue is None:
            return not_found()
        text = (request[BODY] or {}).get("body", "")
        if not text:
            return validation_failed([{"resource": "IssueComment", "field": "body",
                                       "code": "missing_field"}])
        comment = shapes.issue_comment(self.url, self.org, issue.repo, issue.number,
                                       next(self._ids), text,
                                       self.simple_user(self.token_login), _now())
        issue.comments.append(comment)
        return json_response(comment, 201)

    async def _comments(self, request: web.Request) -> web.Response:
        """Oldest first, a page at a time, as every list."""
        issue = self._find(request)
        if issue is None:
            return json_response({"message": "Not Found"}, 404)
        return self._page(request, issue.comments)

    async def _commit_pulls(self, request: web.Request) -> web.Response:
        repo, sha = request.match_info["repo"], request.match_info["sha"]
        repository = self._repository(repo, full=False)
        return self._page(request, [
            shapes.pull_request_simple(self.url, self.org, repository, number=pull["number"],
                                       pull_id=pull["number"] + 9000,
                                       user=self.simple_user(self.token_login),
                                       state=pull["state"], merged_at=pull.get("merged_at"),
                                       sha=sha)
            for pull in self.commit_pulls.get((repo, sha), [])])

    async def _hooks(self, request: web.Request) -> web.Response:
        hook = shapes.org_hook(self.url, self.org, 1, "http://127.0.0.1/github/webhook")
        hook["events"] = list(self.org_hook_events)
        if self.org_hook_secret:
            hook["config"]["secret"] = "********"  # GitHub's answer when one is set
        return self._page(request, [hook])

    async def _deliveries(self, request: web.Request) -> web.Response:
        """Newest first, `per_page` at a time, with a cursor in the Link header as GitHub."""
        per_page = int(request.query.get("per_page", 30))
        start = int(request.query.get("cursor", 0))
        end = start + per_page
        headers = {}
        if end < len(self.hook_deliveries):
            headers["Link"] = (f'<{self.url}{request.path}?per_page={per_page}&cursor={end}>; '
                               'rel="next"')
        return json_response([shapes.hook_delivery(item)
                              for item in self.hook_deliveries[start:end]], headers=headers)

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
                "account": shapes.simple_user(self.url, self.org, 1, kind="Organization"),
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
            "owner": shapes.simple_user(self.url, self.org, 1, kind="Organization"),
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
