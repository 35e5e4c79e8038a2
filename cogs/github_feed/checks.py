"""CI completions on a default branch: workflow runs, check suites, check runs and commit
statuses (CI that reports through the Status API).

Only runs of the default branch itself count (not pull requests, not forks). GitHub Actions
reports each workflow as a workflow_run, and also as check suites and check runs; those of
Actions are left to workflow_run so that one failure is told once. A commit status counts
once it is final (success, failure or error) on a commit of the default branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.events import GitHubEvent
from bot.core.messages import Message
from cogs.github_feed import formatting as fmt
from governance.clock import aware

ACTIONS_APP = "github-actions"


@dataclass(frozen=True)
class CIRun:
    repo: str
    source: str
    branch: str
    conclusion: str
    run_id: str
    url: str
    sha: str
    commit: str
    actor: str
    completed_at: datetime | None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return aware(moment)


def read_run(event: GitHubEvent) -> CIRun | None:
    """The completed run a delivery tells of, when it ran on the default branch."""
    repo = fmt.repo_name(event)
    default = event.text("repository", "default_branch")
    if not repo or not default:
        return None
    if event.event == "status":
        return _status(event, repo, default)
    if event.action != "completed":
        return None
    run = _workflow_run(event, repo) if event.event == "workflow_run" else _check(event, repo)
    if run is None or run.branch != default or not run.source:
        return None
    return run


def _workflow_run(event: GitHubEvent, repo: str) -> CIRun | None:
    run = event.get("workflow_run")
    if not isinstance(run, dict):
        return None
    trigger = event.text("workflow_run", "event")
    head_repo = event.text("workflow_run", "head_repository", "full_name")
    if trigger.startswith("pull_request") or (
            head_repo and head_repo != event.text("repository", "full_name")):
        return None
    attempt = event.get("workflow_run", "run_attempt")
    attempt = attempt if isinstance(attempt, int) and 0 < attempt < 1000 else 1
    return CIRun(
        repo=repo,
        source=fmt.one_line(event.get("workflow", "name") or run.get("name")
                            or run.get("path"), 100),
        branch=event.text("workflow_run", "head_branch"),
        conclusion=event.text("workflow_run", "conclusion"),
        run_id=f"run:{_id(run.get('id'))}:{attempt}" if _id(run.get("id")) else "",
        url=fmt.url(run.get("html_url")), sha=event.text("workflow_run", "head_sha"),
        commit=_first_line(event.get("workflow_run", "head_commit", "message")),
        actor=fmt.login(event.get("workflow_run", "actor", "login") or event.sender),
        completed_at=_time(run.get("updated_at")))


def _check(event: GitHubEvent, repo: str) -> CIRun | None:
    if event.event == "check_run":
        root, suite = "check_run", ("check_run", "check_suite")
    else:
        root, suite = "check_suite", ("check_suite",)
    body = event.get(root)
    if not isinstance(body, dict) or event.text(root, "app", "slug") == ACTIONS_APP:
        return None
    name = body.get("name") if root == "check_run" else event.get(root, "app", "name")
    return CIRun(
        repo=repo, source=fmt.one_line(name, 100), branch=event.text(*suite, "head_branch"),
        conclusion=event.text(root, "conclusion"),
        run_id=f"{root}:{_id(body.get('id'))}" if _id(body.get("id")) else "",
        url=fmt.url(body.get("html_url")) or fmt.url(event.get("repository", "html_url")),
        sha=event.text(root, "head_sha"), commit="", actor=fmt.sender(event),
        completed_at=_time(body.get("completed_at") or body.get("updated_at")))


STATUS_CONCLUSIONS = {"success": "success", "failure": "failure", "error": "failure"}


def _status(event: GitHubEvent, repo: str, default: str) -> CIRun | None:
    conclusion = STATUS_CONCLUSIONS.get(event.text("state"))
    branches = event.get("branches")
    names = {b.get("name") for b in branches if isinstance(b, dict)} if isinstance(
        branches, list) else set()
    context = fmt.one_line(event.get("context"), 100)
    if conclusion is None or default not in names or not context:
        return None
    author = event.get("commit", "author", "login")
    return CIRun(
        repo=repo, source=context, branch=default, conclusion=conclusion,
        run_id=f"status:{_id(event.get('id'))}" if _id(event.get("id")) else "",
        url=fmt.url(event.get("target_url")) or fmt.url(event.get("commit", "html_url")),
        sha=event.text("sha"), commit=_first_line(event.get("commit", "commit", "message")),
        actor=fmt.login(author) if isinstance(author, str) else fmt.sender(event),
        completed_at=_time(event.get("updated_at")))


def _id(value: object) -> str:
    """A run's id when it is a sensible one, else "" (the run is then not told apart)."""
    return str(value) if isinstance(value, int) and 0 <= value < 10**18 else ""


def _first_line(value: object) -> str:
    return fmt.one_line(value.strip().split("\n")[0], 72) if isinstance(value, str) else ""


def _commit(run: CIRun) -> str:
    sha = fmt.short_sha(run.sha)
    return " ".join(part for part in (f"`{sha}`" if sha else "", run.commit,
                                      f"({run.actor})" if run.actor != "someone" else "") if part)


def render_failure(run: CIRun, failures: int) -> Message:
    if failures <= 1:
        title = f"❌ {run.source} failed on {run.branch} of {run.repo}"
        body = f"Failed: {_commit(run)}" if _commit(run) else ""
    else:
        title = (f"❌ {run.source} is failing on {run.branch} of {run.repo}: "
                 f"{failures} runs in a row")
        body = f"Latest failure: {_commit(run)}" if _commit(run) else ""
    return Message(title=title, body=body, url=run.url,
                   topic=fmt.topic_for_branch(run.repo, run.branch), tone="danger")


def render_flapping(run: CIRun, flips: int) -> Message:
    """A failure soon after a fix, in the same notice: the run flaps."""
    again = "again" if flips == 1 else f"again ({flips} times soon after passing)"
    return Message(
        title=f"⚠️ {run.source} is flapping on {run.branch} of {run.repo}: it failed {again}",
        body=f"Latest failure: {_commit(run)}" if _commit(run) else "",
        url=run.url, topic=fmt.topic_for_branch(run.repo, run.branch), tone="danger")


def render_fixed(run: CIRun, failures: int, flips: int = 0) -> Message:
    flapping = (f" It flapped {fmt.plural(flips, 'time')}: a pass may not last."
                if flips else "")
    return Message(
        title=f"✅ {run.source} passes again on {run.branch} of {run.repo}",
        body=f"After {fmt.plural(failures, 'failed run')}; fixed by "
             f"{_commit(run) or 'a new run'}.{flapping}",
        url=run.url, topic=fmt.topic_for_branch(run.repo, run.branch), tone="success")
