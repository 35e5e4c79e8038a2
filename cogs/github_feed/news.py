"""Repository and organisation news: releases, forks, stars, repositories, collaborators,
org membership, teams and blocks, and the webhook's ping.

Each renderer returns None for an action the feed does not show.
"""

from __future__ import annotations

from bot.core.events import GitHubEvent
from bot.core.messages import Message
from cogs.github_feed import formatting as fmt


def render_repo_news(event: GitHubEvent, excerpt_length: int) -> Message | None:
    repo = fmt.repo_name(event)
    if not repo:
        return None
    who, action = fmt.sender(event), event.action
    home = fmt.url(event.get("repository", "html_url"))
    if event.event == "release" and action == "published":
        tag = fmt.one_line(event.get("release", "tag_name"), 80)
        name = fmt.one_line(event.get("release", "name"), 120) or tag
        if not name:
            return None
        kind = "pre-release" if event.get("release", "prerelease") is True else "release"
        author = fmt.login(event.get("release", "author", "login") or event.sender)
        return Message(title=f"{repo} {name}: {kind} published by {author}",
                       body=fmt.excerpt(event.get("release", "body"), excerpt_length),
                       url=fmt.url(event.get("release", "html_url")) or home, topic=repo,
                       tone="success")
    if event.event == "fork":
        fork = fmt.one_line(event.get("forkee", "full_name"), 140)
        return Message(title=f"{who} forked {repo}" + (f" to {fork}" if fork else ""),
                       url=fmt.url(event.get("forkee", "html_url")) or home, topic=repo)
    if event.event == "star" and action == "created":
        stars = event.get("repository", "stargazers_count")
        count = f" ({fmt.plural(stars, 'star')})" if isinstance(stars, int) and stars > 0 else ""
        return Message(title=f"⭐ {who} starred {repo}{count}", url=home, topic=repo)
    if event.event == "repository":
        return _repository(event, repo, who, home)
    if event.event == "member" and action in ("added", "removed"):
        member = fmt.login(event.get("member", "login"))
        if action == "added":
            return Message(title=f"{member} is now a collaborator on {repo}",
                           body=f"Added by {who}.", url=home, topic=repo)
        return Message(title=f"{member} is no longer a collaborator on {repo}",
                       body=f"Removed by {who}.", url=home, topic=repo, tone="warning")
    return None


def _repository(event: GitHubEvent, repo: str, who: str, home: str) -> Message | None:
    action = event.action
    if action == "created":
        description = fmt.one_line(event.get("repository", "description"), 200)
        return Message(title=f"New repository {repo}, created by {who}", body=description,
                       url=home, topic=repo, tone="success")
    if action == "transferred":
        origin = fmt.login(event.get("changes", "owner", "from", "user", "login")
                           or event.get("changes", "owner", "from", "organization", "login"))
        source = f" from {origin}" if origin != "someone" else ""
        return Message(title=f"{repo} was transferred{source} by {who}", url=home, topic=repo,
                       tone="success")
    if action == "renamed":
        old = fmt.one_line(event.get("changes", "repository", "name", "from"), 100)
        return Message(title=f"{old or 'A repository'} was renamed to {repo} by {who}",
                       url=home, topic=repo)
    if action == "archived":
        return Message(title=f"{repo} was archived by {who}", url=home, topic=repo,
                       tone="warning")
    return None


def render_org_news(event: GitHubEvent) -> Message | None:
    org = fmt.one_line(event.get("organization", "login"), 60) or "the org"
    who, action = fmt.sender(event), event.action
    if event.event == "organization" and action in ("member_added", "member_removed"):
        member = fmt.login(event.get("membership", "user", "login"))
        if member == "someone":
            return None
        if action == "member_added":
            role = fmt.one_line(event.get("membership", "role"), 30)
            return Message(title=f"{member} joined the {org} organization"
                                 + (f" as {role}" if role else ""), body=f"Added by {who}.",
                           tone="success")
        return Message(title=f"{member} left the {org} organization", body=f"Removed by {who}.",
                       tone="warning")
    if event.event == "membership" and action in ("added", "removed"):
        member = fmt.login(event.get("member", "login"))
        team = fmt.one_line(event.get("team", "name"), 80)
        if member == "someone" or not team:
            return None
        verb = "was added to" if action == "added" else "was removed from"
        return Message(title=f"{member} {verb} the {team} team", body=f"By {who}.",
                       url=fmt.url(event.get("team", "html_url")))
    if event.event == "org_block" and action in ("blocked", "unblocked"):
        blocked = fmt.login(event.get("blocked_user", "login"))
        if blocked == "someone":
            return None
        return Message(title=f"{blocked} was {action} in {org} on GitHub", body=f"By {who}.",
                       tone="danger" if action == "blocked" else "info")
    return None


def render_ping(event: GitHubEvent) -> Message:
    hook = event.get("hook_id") or event.get("hook", "id")
    kind = fmt.one_line(event.get("hook", "type"), 30)
    events = event.get("hook", "events")
    names = [fmt.one_line(e, 40) for e in events if isinstance(e, str)] if isinstance(
        events, list) else []
    where = (fmt.one_line(event.get("organization", "login"), 60)
             or fmt.one_line(event.get("repository", "full_name"), 140))
    lines = [f"GitHub reached Roadie: the {kind.lower() or 'webhook'} hook"
             + (f" {hook}" if isinstance(hook, int) else "") + (f" of {where}" if where else "")
             + " is set up and signed correctly."]
    if names:
        lines.append(f"It sends: {', '.join(names[:30])}" + (" …" if len(names) > 30 else ""))
    zen = fmt.one_line(event.get("zen"), 120)
    if zen:
        lines.append(f"*{zen}*")
    return Message(title="✅ The GitHub webhook works", body="\n".join(lines), tone="success")
