"""Issues and pull requests: what happened to one item, and the message of a burst.

Notable happenings (opened, closed, merged, reopened, transferred, ready for review, a
review, a comment) each add a line. Labels, assignments and review requests add to the
item's burst; arriving after it, they edit its message (or, later, make one follow-up);
alone, on an item the feed has not told, they are ignored, except a label that lets a
label-filtered feed see the item for the first time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.events import GitHubEvent
from bot.core.messages import Message, Tone
from cogs.github_feed import formatting as fmt

ISSUE_ACTIONS = ("opened", "closed", "reopened", "transferred")
PULL_ACTIONS = ("opened", "closed", "reopened", "ready_for_review")
DETAIL_ACTIONS = ("labeled", "unlabeled", "assigned", "unassigned", "review_requested",
                  "review_request_removed")
MAX_LINES = 12
DETAIL_KINDS = {"labeled": "labels_added", "unlabeled": "labels_removed",
                "assigned": "assigned", "unassigned": "unassigned",
                "review_requested": "review_requested",
                "review_request_removed": "review_request_removed"}


@dataclass(frozen=True)
class ItemActivity:
    repo: str
    number: int
    is_pull: bool
    title: str
    url: str
    labels: tuple[str, ...]
    branch: str
    line: str = ""
    quote: str = ""
    tone: Tone = "info"
    detail: tuple[str, str] | None = None

    @property
    def notable(self) -> bool:
        return bool(self.line)


def _item(event: GitHubEvent) -> tuple[str, dict[str, Any]] | None:
    for key in ("pull_request", "issue"):
        value = event.get(key)
        if isinstance(value, dict):
            return key, value
    return None


def activity(event: GitHubEvent, excerpt_length: int) -> ItemActivity | None:
    """The activity an issues, pull_request, pull_request_review or issue_comment delivery
    tells, or None when it is not one the feed shows."""
    found = _item(event)
    repo = fmt.repo_name(event)
    if found is None or not repo:
        return None
    key, item = found
    number = fmt.number(item.get("number"))
    if not number:
        return None
    is_pull = key == "pull_request" or isinstance(item.get("pull_request"), dict)
    labels = item.get("labels")
    base = ItemActivity(
        repo=repo, number=number, is_pull=is_pull,
        title=fmt.one_line(item.get("title"), 200) or "(no title)",
        url=fmt.url(item.get("html_url")),
        labels=tuple(fmt.one_line(x.get("name"), 50) for x in labels if isinstance(x, dict))
        if isinstance(labels, list) else (),
        branch=fmt.one_line(event.get("pull_request", "base", "ref"), 100))
    return _describe(event, base, excerpt_length)


def _describe(event: GitHubEvent, base: ItemActivity, length: int) -> ItemActivity | None:
    who, action, what = fmt.sender(event), event.action, "pull request" if base.is_pull else "issue"
    if (event.event == "issues" and action in ISSUE_ACTIONS) or (
            event.event == "pull_request" and action in PULL_ACTIONS):
        item = event.get("pull_request" if base.is_pull else "issue") or {}
        return _lifecycle(event, base, who, what, item if isinstance(item, dict) else {}, length)
    if event.event == "pull_request_review" and action == "submitted":
        state = event.text("review", "state").lower()
        said = {"approved": "approved", "changes_requested": "requested changes",
                "commented": "reviewed"}.get(state, "reviewed")
        tone: Tone = {"approved": "success", "changes_requested": "warning"}.get(state, "info")
        return _with(base, f"**{fmt.login(event.get('review', 'user', 'login'))}** {said}",
                     fmt.excerpt(event.get("review", "body"), length), tone)
    if event.event == "issue_comment" and action == "created":
        return _with(base, f"**{fmt.login(event.get('comment', 'user', 'login'))}** commented",
                     fmt.excerpt(event.get("comment", "body"), length))
    if event.event in ("issues", "pull_request") and action in DETAIL_ACTIONS:
        detail = _detail(event, action)
        return ItemActivity(**{**base.__dict__, "detail": detail}) if detail else None
    return None


def _lifecycle(event: GitHubEvent, base: ItemActivity, who: str, what: str,
               item: dict[str, Any], length: int) -> ItemActivity:
    action = event.action
    if action == "opened":
        draft = " (draft)" if item.get("draft") is True else ""
        into = f" into `{base.branch}`" if base.is_pull and base.branch else ""
        return _with(base, f"**{who}** opened this {what}{draft}{into}",
                     fmt.excerpt(item.get("body"), length))
    if action == "closed" and base.is_pull and item.get("merged_at"):
        merger = fmt.login(item.get("merged_by", {}).get("login")
                           if isinstance(item.get("merged_by"), dict) else who)
        into = f" into `{base.branch}`" if base.branch else ""
        return _with(base, f"**{merger}** merged this pull request{into}", tone="success")
    if action == "closed":
        how = ("closed without merging" if base.is_pull
               else "closed as not planned" if item.get("state_reason") == "not_planned"
               else "closed")
        return _with(base, f"**{who}** {how} this {what}", tone="warning" if base.is_pull
                     else "success")
    if action == "reopened":
        return _with(base, f"**{who}** reopened this {what}")
    if action == "ready_for_review":
        return _with(base, f"**{who}** marked this pull request ready for review")
    target = fmt.one_line(event.get("changes", "new_repository", "full_name"), 140)
    new_url = fmt.url(event.get("changes", "new_issue", "html_url"))
    return _with(base, f"**{who}** transferred this issue" + (f" to {target}" if target else "")
                 + (f" ({new_url})" if new_url else ""), tone="warning")


def labeled(activity: ItemActivity, who: str) -> ItemActivity:
    """A labelling told as news (for a feed that filters on that label)."""
    assert activity.detail is not None
    what = "pull request" if activity.is_pull else "issue"
    return _with(activity, f"**{who}** labelled this {what} `{activity.detail[1]}`")


def _with(base: ItemActivity, line: str, quote: str = "", tone: Tone = "info") -> ItemActivity:
    return ItemActivity(**{**base.__dict__, "line": line, "quote": quote, "tone": tone})


def _detail(event: GitHubEvent, action: str) -> tuple[str, str] | None:
    if action in ("labeled", "unlabeled"):
        name = fmt.one_line(event.get("label", "name"), 50)
    elif action in ("assigned", "unassigned"):
        name = fmt.login(event.get("assignee", "login"))
    else:
        name = (fmt.login(event.get("requested_reviewer", "login"))
                if event.get("requested_reviewer") is not None
                else fmt.one_line(event.get("requested_team", "name"), 50))
    return (DETAIL_KINDS[action], name) if name and name != "someone" else None


# --- the burst ----------------------------------------------------------------------------


def new_state(activity: ItemActivity) -> dict[str, Any]:
    state: dict[str, Any] = {"repo": activity.repo, "number": activity.number,
                             "is_pull": activity.is_pull, "lines": [], "tone": "info"}
    return merge(state, activity)


def merge(state: dict[str, Any], activity: ItemActivity) -> dict[str, Any]:
    """The state of a burst with one more activity in it (a new dict)."""
    state = {**state, "title": activity.title, "url": activity.url or state.get("url", "")}
    if activity.notable:
        state["lines"] = [*state.get("lines", []), [activity.line, activity.quote]]
        state["tone"] = activity.tone
    if activity.detail:
        kind, name = activity.detail
        names = list(state.get(kind, []))
        if name not in names:
            state[kind] = [*names, name]
    return state


def render(state: dict[str, Any]) -> Message:
    repo, number = str(state.get("repo", "")), int(state.get("number", 0))
    title = str(state.get("title", ""))
    lines: list[str] = []
    happenings = list(state.get("lines", []))
    for line, quote in happenings[:MAX_LINES]:
        lines.append(line)
        if quote:
            lines.append(quote)
    if len(happenings) > MAX_LINES:
        lines.append(f"… and {fmt.plural(len(happenings) - MAX_LINES, 'more event')}")
    added, removed = state.get("labels_added", []), state.get("labels_removed", [])
    if added or removed:
        lines.append("Labels: " + ", ".join([f"+{n}" for n in added] + [f"−{n}" for n in removed]))
    for kind, said in (("assigned", "Assigned to"), ("unassigned", "Unassigned"),
                       ("review_requested", "Review requested from"),
                       ("review_request_removed", "Review no longer requested from")):
        if state.get(kind):
            lines.append(f"{said} {', '.join(state[kind])}")
    return Message(title=fmt.shorten(f"{repo}#{number} {title}", 250), body="\n".join(lines),
                   url=str(state.get("url", "")), topic=fmt.topic_for_item(repo, number, title),
                   tone=state.get("tone", "info"))
