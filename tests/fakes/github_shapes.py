"""Complete GitHub REST objects, in the shapes of the official description.

Each function answers one schema of tests/contracts/github.json with every required field,
and with URLs that point back at the fake (`api`) so that a client following them stays on it.
"""

from __future__ import annotations

import base64
from typing import Any

WEB = "https://github.com"
WHEN = "2020-01-01T00:00:00Z"


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


def simple_user(api: str, login: str, number: int, *, kind: str = "User") -> dict[str, Any]:
    """`simple-user` (also `team-member`, `nullable-simple-user`)."""
    url = f"{api}/users/{login}"
    return {"login": login, "id": number, "node_id": node_id(kind, number),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{number}?v=4",
            "gravatar_id": "", "url": url, "html_url": f"{WEB}/{login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs", "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events", "type": kind,
            "site_admin": False, "user_view_type": "public"}


def public_user(api: str, profile: dict[str, Any]) -> dict[str, Any]:
    """`public-user`, from the fake's profile of a person (login, id and the counts)."""
    return {**simple_user(api, profile["login"], profile["id"], kind=profile.get("type", "User")),
            "name": profile.get("name"), "company": profile.get("company"),
            "blog": profile.get("blog"), "location": profile.get("location"),
            "email": profile.get("email"), "hireable": profile.get("hireable"),
            "bio": profile.get("bio"), "twitter_username": None,
            "public_repos": profile.get("public_repos", 0), "public_gists": 0,
            "followers": profile.get("followers", 0), "following": 0,
            "created_at": profile.get("created_at", WHEN),
            "updated_at": profile.get("updated_at", profile.get("created_at", WHEN)),
            **({"gravatar_id": profile["gravatar_id"]} if "gravatar_id" in profile else {}),
            **({"avatar_url": profile["avatar_url"]} if "avatar_url" in profile else {})}


def organization_simple(api: str, org: str, number: int) -> dict[str, Any]:
    url = f"{api}/orgs/{org}"
    return {"login": org, "id": number, "node_id": node_id("Organization", number), "url": url,
            "repos_url": f"{url}/repos", "events_url": f"{url}/events",
            "hooks_url": f"{url}/hooks", "issues_url": f"{url}/issues",
            "members_url": f"{url}/members{{/member}}",
            "public_members_url": f"{url}/public_members{{/member}}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{number}?v=4",
            "description": f"The {org} cooperative"}


def organization_full(api: str, org: str, number: int, *, public_repos: int = 0
                      ) -> dict[str, Any]:
    """`organization-full` (and `team-organization`)."""
    return {**organization_simple(api, org, number), "html_url": f"{WEB}/{org}",
            "name": org.title(), "has_organization_projects": True,
            "has_repository_projects": True, "public_repos": public_repos, "public_gists": 0,
            "followers": 0, "following": 0, "type": "Organization", "created_at": WHEN,
            "updated_at": WHEN, "archived_at": None}


def team_full(api: str, org: str, org_number: int, slug: str, number: int,
              members: int) -> dict[str, Any]:
    url = f"{api}/orgs/{org}/teams/{slug}"
    return {"id": number, "node_id": node_id("Team", number), "url": url,
            "html_url": f"{WEB}/orgs/{org}/teams/{slug}", "name": slug, "slug": slug,
            "description": None, "privacy": "closed", "notification_setting":
            "notifications_enabled", "permission": "pull",
            "members_url": f"{url}/members{{/member}}", "repositories_url": f"{url}/repos",
            "parent": None, "members_count": members, "repos_count": 0, "created_at": WHEN,
            "updated_at": WHEN, "organization": organization_full(api, org, org_number),
            "type": "organization"}


def team_membership(api: str, org: str, slug: str, login: str, state: str) -> dict[str, Any]:
    return {"url": f"{api}/orgs/{org}/teams/{slug}/memberships/{login}", "role": "member",
            "state": state}


def org_membership(api: str, org: str, org_number: int, user: dict[str, Any], *, state: str,
                   role: str) -> dict[str, Any]:
    return {"url": f"{api}/orgs/{org}/memberships/{user['login']}", "state": state,
            "role": role, "organization_url": f"{api}/orgs/{org}",
            "organization": organization_simple(api, org, org_number), "user": user}


def invitation(api: str, org: str, number: int, login: str, inviter: dict[str, Any],
               created_at: str, teams: int) -> dict[str, Any]:
    return {"id": number, "login": login, "email": None, "role": "direct_member",
            "created_at": created_at, "failed_at": None, "failed_reason": None,
            "inviter": inviter, "team_count": teams, "node_id": node_id("Invitation", number),
            "invitation_teams_url": f"{api}/organizations/{number}/invitations/{number}/teams",
            "invitation_source": "member"}


REPOSITORY_URLS = {
    "archive": "/{archive_format}{/ref}", "assignees": "/assignees{/user}",
    "blobs": "/git/blobs{/sha}", "branches": "/branches{/branch}",
    "collaborators": "/collaborators{/collaborator}", "comments": "/comments{/number}",
    "commits": "/commits{/sha}", "compare": "/compare/{base}...{head}",
    "contents": "/contents/{+path}", "contributors": "/contributors",
    "deployments": "/deployments", "downloads": "/downloads", "events": "/events",
    "forks": "/forks", "git_commits": "/git/commits{/sha}", "git_refs": "/git/refs{/sha}",
    "git_tags": "/git/tags{/sha}", "hooks": "/hooks",
    "issue_comment": "/issues/comments{/number}", "issue_events": "/issues/events{/number}",
    "issues": "/issues{/number}", "keys": "/keys{/key_id}", "labels": "/labels{/name}",
    "languages": "/languages", "merges": "/merges", "milestones": "/milestones{/number}",
    "notifications": "/notifications{?since,all,participating}", "pulls": "/pulls{/number}",
    "releases": "/releases{/id}", "stargazers": "/stargazers", "statuses": "/statuses/{sha}",
    "subscribers": "/subscribers", "subscription": "/subscription", "tags": "/tags",
    "teams": "/teams", "trees": "/git/trees{/sha}"}


def repository(api: str, org: str, name: str, number: int, owner: dict[str, Any], *,
               full: bool = True) -> dict[str, Any]:
    """`full-repository`, or `repository` when `full` is False."""
    url = f"{api}/repos/{org}/{name}"
    urls = {f"{key}_url": url + suffix for key, suffix in REPOSITORY_URLS.items()}
    repo: dict[str, Any] = {
        "id": number, "node_id": node_id("Repository", number), "name": name,
        "full_name": f"{org}/{name}", "owner": owner, "private": False,
        "html_url": f"{WEB}/{org}/{name}", "description": None, "fork": False, "url": url,
        **urls, "git_url": f"git://github.com/{org}/{name}.git",
        "ssh_url": f"git@github.com:{org}/{name}.git",
        "clone_url": f"{WEB}/{org}/{name}.git", "mirror_url": None,
        "svn_url": f"{WEB}/{org}/{name}", "homepage": None, "language": "Python",
        "forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0,
        "watchers": 0, "size": 0, "default_branch": "main", "open_issues_count": 0,
        "open_issues": 0, "is_template": False, "topics": [], "has_issues": True,
        "has_projects": True, "has_wiki": True, "has_pages": False, "has_downloads": True,
        "has_discussions": False, "archived": False, "disabled": False,
        "visibility": "public", "pushed_at": WHEN, "created_at": WHEN, "updated_at": WHEN,
        "license": None, "allow_forking": True, "web_commit_signoff_required": False}
    if full:
        repo.update(network_count=0, subscribers_count=0)
    return repo


def issue(api: str, org: str, repo: str, *, number: int, issue_id: int, title: str, body: str,
          state: str, user: dict[str, Any], assignees: list[dict[str, Any]],
          labels: list[str], comments: int, created_at: str, updated_at: str,
          closed_at: str | None) -> dict[str, Any]:
    repo_url = f"{api}/repos/{org}/{repo}"
    url = f"{repo_url}/issues/{number}"
    return {"id": issue_id, "node_id": node_id("Issue", issue_id), "url": url,
            "repository_url": repo_url, "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments", "events_url": f"{url}/events",
            "html_url": f"{WEB}/{org}/{repo}/issues/{number}", "number": number,
            "state": state, "state_reason": "completed" if state == "closed" else None,
            "title": title, "body": body, "user": user,
            "labels": [{"id": abs(hash((repo, name))) % 10**8, "node_id": node_id("Label", 1),
                        "url": f"{repo_url}/labels/{name}", "name": name, "description": None,
                        "color": "ededed", "default": False} for name in labels],
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "milestone": None, "locked": False, "active_lock_reason": None,
            "comments": comments, "closed_at": closed_at, "created_at": created_at,
            "updated_at": updated_at, "closed_by": None, "author_association": "MEMBER"}


def issue_comment(api: str, org: str, repo: str, number: int, comment_id: int, body: str,
                  user: dict[str, Any], at: str) -> dict[str, Any]:
    issue_url = f"{api}/repos/{org}/{repo}/issues/{number}"
    return {"id": comment_id, "node_id": node_id("IssueComment", comment_id),
            "url": f"{api}/repos/{org}/{repo}/issues/comments/{comment_id}",
            "html_url": f"{WEB}/{org}/{repo}/issues/{number}#issuecomment-{comment_id}",
            "body": body, "user": user, "created_at": at, "updated_at": at,
            "issue_url": issue_url, "author_association": "MEMBER"}


def pull_request_simple(api: str, org: str, repo: dict[str, Any], *, number: int,
                        pull_id: int, user: dict[str, Any], state: str,
                        merged_at: str | None, sha: str) -> dict[str, Any]:
    repo_url = repo["url"]
    url = f"{repo_url}/pulls/{number}"
    html = f"{WEB}/{org}/{repo['name']}/pull/{number}"
    issue_url = f"{repo_url}/issues/{number}"
    links = {"self": url, "html": html, "issue": issue_url,
             "comments": f"{issue_url}/comments",
             "review_comments": f"{url}/comments",
             "review_comment": f"{repo_url}/pulls/comments{{/number}}",
             "commits": f"{url}/commits", "statuses": f"{repo_url}/statuses/{sha}"}

    def end(ref: str) -> dict[str, Any]:
        return {"label": f"{org}:{ref}", "ref": ref, "sha": sha, "user": user, "repo": repo}

    return {"url": url, "id": pull_id, "node_id": node_id("PullRequest", pull_id),
            "html_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
            "issue_url": issue_url, "commits_url": links["commits"],
            "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"], "comments_url": links["comments"],
            "statuses_url": links["statuses"], "number": number, "state": state,
            "locked": False, "title": f"Pull request {number}", "user": user, "body": None,
            "labels": [], "milestone": None, "active_lock_reason": None, "created_at": WHEN,
            "updated_at": merged_at or WHEN, "closed_at": merged_at, "merged_at": merged_at,
            "merge_commit_sha": sha if merged_at else None, "assignee": None,
            "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "head": end(f"change-{number}"), "base": end("main"),
            "_links": {key: {"href": href} for key, href in links.items()},
            "author_association": "MEMBER", "auto_merge": None, "draft": False}


def org_hook(api: str, org: str, number: int, target: str) -> dict[str, Any]:
    url = f"{api}/orgs/{org}/hooks/{number}"
    return {"id": number, "url": url, "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries", "name": "web",
            "events": ["*"], "active": True,
            "config": {"url": target, "content_type": "json", "insecure_ssl": "0"},
            "updated_at": WHEN, "created_at": WHEN, "type": "Organization"}


def hook_delivery(item: dict[str, Any]) -> dict[str, Any]:
    """`hook-delivery-item`, filled in around what a test gave (id, guid, time, status)."""
    code = int(item.get("status_code") or 0)
    return {"redelivery": False, "duration": 0.2, "status": "OK" if 200 <= code < 300 else
            "Invalid HTTP Response: " + str(code), "event": "push", "action": None,
            "installation_id": None, "repository_id": None, "throttled_at": None, **item}
