"""Security-relevant changes of the org's repositories, told to the admins.

A repository made private or public, or deleted; branch protection changed; deploy keys
added or removed; security settings changed; and security alerts (Dependabot, secret
scanning, code scanning, vulnerability alerts) opened or reopened. Each renderer returns
None for an action that is not one of these.
"""

from __future__ import annotations

from bot.core.events import GitHubEvent
from bot.core.messages import Message
from cogs.github_feed import formatting as fmt

EVENTS = ("repository", "branch_protection_rule", "branch_protection_configuration",
          "deploy_key", "security_and_analysis", "dependabot_alert", "secret_scanning_alert",
          "code_scanning_alert", "repository_vulnerability_alert")
ALERT_ACTIONS = {
    "dependabot_alert": ("created", "reopened", "reintroduced", "auto_reopened"),
    "secret_scanning_alert": ("created", "reopened", "publicly_leaked"),
    "code_scanning_alert": ("created", "reopened", "appeared_in_branch"),
    "repository_vulnerability_alert": ("create", "reopen"),
}


def render_security(event: GitHubEvent) -> Message | None:
    repo = fmt.repo_name(event)
    if not repo:
        return None
    who, action, name = fmt.sender(event), event.action, event.event
    home = fmt.url(event.get("repository", "html_url"))
    if name == "repository":
        return _visibility(repo, who, action, home)
    if name == "branch_protection_rule" and action in ("created", "edited", "deleted"):
        rule = fmt.one_line(event.get("rule", "name"), 100) or "a branch"
        verb = {"created": "added", "edited": "changed", "deleted": "removed"}[action]
        return Message(title=f"🔒 Branch protection for `{rule}` {verb} in {repo} by {who}",
                       url=home, topic=repo, tone="danger" if action == "deleted" else "warning")
    if name == "branch_protection_configuration" and action in ("enabled", "disabled"):
        return Message(title=f"🔒 Branch protection {action} for all of {repo} by {who}",
                       url=home, topic=repo, tone="danger" if action == "disabled" else "info")
    if name == "deploy_key" and action in ("created", "deleted"):
        title = fmt.one_line(event.get("key", "title"), 100) or "a deploy key"
        access = "read-only" if event.get("key", "read_only") is True else "read-write"
        verb = "added to" if action == "created" else "removed from"
        return Message(title=f"🔑 Deploy key “{title}” ({access}) {verb} {repo} by {who}",
                       url=home, topic=repo,
                       tone="danger" if action == "created" and access == "read-write"
                       else "warning")
    if name == "security_and_analysis":
        return Message(title=f"🛡️ Security settings of {repo} changed by {who}",
                       body=_settings_change(event), url=home, topic=repo, tone="warning")
    if action in ALERT_ACTIONS.get(name, ()):
        return _alert(event, repo, home)
    return None


def _visibility(repo: str, who: str, action: str, home: str) -> Message | None:
    if action == "privatized":
        return Message(title=f"🔒 {repo} was made private by {who}", url=home, topic=repo,
                       tone="warning")
    if action == "publicized":
        return Message(title=f"🌍 {repo} was made public by {who}",
                       body="Everything in it, its history included, is now visible to anyone.",
                       url=home, topic=repo, tone="danger")
    if action == "deleted":
        return Message(title=f"🗑️ {repo} was deleted by {who}",
                       body="A deleted repository can be restored by an org owner within 90 "
                            "days, in the org's settings.", topic=repo, tone="danger")
    return None


def _settings_change(event: GitHubEvent) -> str:
    now = event.get("repository", "security_and_analysis")
    if not isinstance(now, dict):
        return ""
    parts = []
    for feature, value in list(now.items())[:10]:
        status = value.get("status") if isinstance(value, dict) else None
        if isinstance(status, str):
            parts.append(f"{fmt.one_line(feature, 60).replace('_', ' ')}: "
                         f"{fmt.one_line(status, 20)}")
    return "Now: " + ", ".join(parts) if parts else ""


def _alert(event: GitHubEvent, repo: str, home: str) -> Message:
    name, action = event.event, event.action
    url = fmt.url(event.get("alert", "html_url")) or home
    if name == "dependabot_alert":
        package = fmt.one_line(event.get("alert", "dependency", "package", "name"), 100)
        summary = fmt.one_line(event.get("alert", "security_advisory", "summary"), 200)
        severity = fmt.one_line(event.get("alert", "security_advisory", "severity"), 20)
        what = f"Dependabot alert in {repo}" + (f": {package}" if package else "")
    elif name == "secret_scanning_alert":
        kind = fmt.one_line(event.get("alert", "secret_type_display_name")
                            or event.get("alert", "secret_type"), 100)
        what = f"Secret found in {repo}" + (f": {kind}" if kind else "")
        summary = ("It is leaked publicly: revoke it now." if action == "publicly_leaked"
                   else "Revoke the secret, then close the alert.")
        severity = "critical" if action == "publicly_leaked" else ""
    elif name == "code_scanning_alert":
        summary = fmt.one_line(event.get("alert", "rule", "description"), 200)
        severity = fmt.one_line(event.get("alert", "rule", "security_severity_level")
                                or event.get("alert", "rule", "severity"), 20)
        what = f"Code scanning alert in {repo}"
    else:
        package = fmt.one_line(event.get("alert", "affected_package_name"), 100)
        summary = fmt.one_line(event.get("alert", "affected_range"), 100)
        severity = fmt.one_line(event.get("alert", "severity"), 20)
        what = f"Vulnerable dependency in {repo}" + (f": {package}" if package else "")
    again = " (again)" if action in ("reopened", "reintroduced", "auto_reopened", "reopen") \
        else ""
    label = f" [{severity}]" if severity else ""
    return Message(title=f"🚨 {what}{again}{label}", body=summary, url=url, topic=repo,
                   tone="danger")
