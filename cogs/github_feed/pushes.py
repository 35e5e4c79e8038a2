"""Pushes, and branches or tags created and deleted.

A push tells of its branch being created, deleted or force-pushed. Tags are told by the
create and delete events instead (and branches by the push), so nothing is said twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.events import GitHubEvent
from bot.core.messages import Choice, Message, Tone
from cogs.github_feed import formatting as fmt


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    author: str


@dataclass(frozen=True)
class Push:
    repo: str
    ref_kind: str  # "branch" or "tag"
    name: str
    pusher: str
    pusher_is_bot: bool
    created: bool
    deleted: bool
    forced: bool
    before: str
    after: str
    base_ref: str
    commits: tuple[Commit, ...]
    compare_url: str
    default_branch: str
    home: str = ""

    @property
    def head(self) -> str:
        return self.after if self.after and self.after != fmt.ZERO_SHA else ""


def _ref(ref: str) -> tuple[str, str]:
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return kind, ref[len(prefix):]
    return "", ""


def read_push(event: GitHubEvent) -> Push | None:
    repo = fmt.repo_name(event)
    kind, name = _ref(event.text("ref"))
    if not repo or not kind:
        return None
    commits = []
    raw = event.get("commits")
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict):
            continue
        author = item.get("author")
        who = (author.get("username") or author.get("name")) if isinstance(author, dict) else ""
        message = item.get("message")
        first_line = message.strip().split("\n")[0] if isinstance(message, str) else ""
        commits.append(Commit(sha=fmt.short_sha(item.get("id")),
                              message=fmt.one_line(first_line, 72) or "(no message)",
                              author=fmt.one_line(who, 40)))
    pusher = fmt.login(event.get("sender", "login") or event.get("pusher", "name"))
    sha = event.text("after")
    return Push(
        repo=repo, ref_kind=kind, name=fmt.one_line(name, 100), pusher=pusher,
        pusher_is_bot=fmt.is_bot(pusher, event.get("sender", "type")),
        created=event.get("created") is True, deleted=event.get("deleted") is True,
        forced=event.get("forced") is True, before=event.text("before"),
        after=sha if fmt.short_sha(sha) else "",
        base_ref=_ref(event.text("base_ref"))[1], commits=tuple(commits),
        compare_url=fmt.url(event.get("compare")),
        default_branch=fmt.one_line(event.get("repository", "default_branch"), 100),
        home=fmt.url(event.get("repository", "html_url")))


def commit_lines(push: Push, limit: int) -> list[str]:
    lines = [f"- `{c.sha}` {c.message}" + (f" ({c.author})" if c.author else "")
             for c in push.commits[:limit]]
    if len(push.commits) > limit:
        lines.append(f"and {len(push.commits) - limit} more")
    return lines


def headline(push: Push) -> str:
    where = f"`{push.name}`"
    count = fmt.plural(len(push.commits), "commit")
    if push.ref_kind == "tag":
        return f"{push.pusher} {'deleted' if push.deleted else 'pushed'} tag {where}"
    if push.deleted:
        return f"{push.pusher} deleted branch {where}"
    if push.created:
        return f"{push.pusher} created branch {where}" + (
            f" with {count}" if push.commits else "")
    if push.forced:
        if push.commits:
            return f"{push.pusher} force-pushed {count} to {where}"
        return f"{push.pusher} force-pushed {where} to `{fmt.short_sha(push.after)}`"
    return f"{push.pusher} pushed {count} to {where}"


@dataclass(frozen=True)
class DirectPush:
    """The verdict on a push to a default branch: `direct` when it came through no merged
    pull request, `unchecked` when Roadie could not ask GitHub (and says why)."""

    direct: bool
    unchecked: str = ""


def render_push(push: Push, limit: int, verdict: DirectPush | None) -> Message:
    lines = commit_lines(push, limit)
    tone: Tone = "danger" if push.forced or push.deleted else "info"
    choices: tuple[Choice, ...] = ()
    if verdict is not None and (verdict.direct or verdict.unchecked):
        lines.insert(0, direct_push_line(push, verdict))
        tone = "warning"
        choices = (dispute_choice(push),)
    return Message(title=headline(push) + f" in {push.repo}", body="\n".join(lines),
                   url=push.compare_url, topic=fmt.topic_for_branch(push.repo, push.name),
                   tone=tone, choices=choices)


def direct_push_line(push: Push, verdict: DirectPush) -> str:
    if verdict.unchecked:
        return (f"⚠️ Roadie could not check whether this push to the default branch came "
                f"through a merged pull request: {verdict.unchecked}.")
    return (f"⚠️ Direct push: {push.pusher} pushed to the default branch `{push.name}` "
            "without a merged pull request.")


def dispute_choice(push: Push) -> Choice:
    """One click opens the dispute, with the reason the alert itself gives."""
    reason = f"{push.pusher} pushed to {push.name} without a merged pull request"
    return Choice("Open a dispute", f"dispute {push.repo} {push.head} {reason}", "danger")


# --- pushes gathered per branch -----------------------------------------------------------


def gathers(push: Push, verdict: DirectPush | None) -> bool:
    """Plain pushes to a branch are gathered; creations, deletions, force-pushes, tags and
    direct-push alerts are told on their own."""
    alert = verdict is not None and (verdict.direct or verdict.unchecked)
    return (push.ref_kind == "branch" and not (push.created or push.deleted or push.forced)
            and not alert and bool(push.commits))


def new_state(push: Push) -> dict[str, Any]:
    state: dict[str, Any] = {"repo": push.repo, "branch": push.name, "pushers": [],
                             "commits": [], "pushes": 0, "before": push.before,
                             "compare": push.compare_url, "home": push.home}
    return merge(state, push)


def merge(state: dict[str, Any], push: Push) -> dict[str, Any]:
    """The gathered pushes with one more (a new dict)."""
    pushers = list(state.get("pushers", []))
    if push.pusher not in pushers:
        pushers.append(push.pusher)
    commits = [*state.get("commits", []), *([c.sha, c.message, c.author] for c in push.commits)]
    return {**state, "pushers": pushers, "commits": commits[-MAX_KEPT:],
            "count": int(state.get("count", 0)) + len(push.commits),
            "pushes": int(state.get("pushes", 0)) + 1, "after": push.after}


MAX_KEPT = 50


def compare_url(state: dict[str, Any]) -> str:
    """GitHub's compare view over every push gathered: from before the first to the last."""
    first, home = str(state.get("compare", "")), str(state.get("home", ""))
    before, after = str(state.get("before", "")), str(state.get("after", ""))
    if int(state.get("pushes", 1)) <= 1 or not (home and before and after):
        return first
    return f"{home}/compare/{before[:12]}...{after[:12]}"


def render_gathered(state: dict[str, Any], limit: int) -> Message:
    repo, branch = str(state.get("repo", "")), str(state.get("branch", ""))
    commits = [Commit(*c) for c in state.get("commits", [])]
    count, pushes = int(state.get("count", len(commits))), int(state.get("pushes", 1))
    shown = commits[-limit:]
    lines = [f"- `{c.sha}` {c.message}" + (f" ({c.author})" if c.author else "")
             for c in shown]
    if count > len(shown):
        lines.insert(0, f"{count - len(shown)} earlier, then:")
    who = " and ".join(", ".join(state.get("pushers", [])).rsplit(", ", 1)) or "someone"
    times = f" in {pushes} pushes" if pushes > 1 else ""
    return Message(title=f"{who} pushed {fmt.plural(count, 'commit')} to `{branch}` in "
                         f"{repo}{times}", body="\n".join(lines), url=compare_url(state),
                   topic=fmt.topic_for_branch(repo, branch))


def render_ref(event: GitHubEvent) -> Message | None:
    """A tag created or deleted (branches are told by their push)."""
    repo = fmt.repo_name(event)
    if event.text("ref_type") != "tag" or not repo:
        return None
    tag = fmt.one_line(event.get("ref"), 100)
    if not tag:
        return None
    verb = "created" if event.event == "create" else "deleted"
    return Message(title=f"{fmt.sender(event)} {verb} tag `{tag}` in {repo}",
                   url=fmt.url(event.get("repository", "html_url")),
                   topic=fmt.topic_for_branch(repo, "tags"),
                   tone="info" if verb == "created" else "warning")
