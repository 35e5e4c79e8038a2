"""Direct pushes: a push to a default branch whose head commit came through no merged pull
request. GitHub is asked (`GET /repos/{owner}/{repo}/commits/{sha}/pulls`); without a
token, Roadie says that it could not check rather than guessing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.ports import GitHubPort, PlatformError
from cogs.github_feed.pushes import DirectPush, Push
from cogs.github_feed.settings import DirectPushSettings

GIVE_UP_AFTER = timedelta(minutes=5)
"""While GitHub fails for less than this since the delivery arrived, the delivery is retried;
after it, the push is posted saying that the check could not be made."""


def concerns(push: Push, settings: DirectPushSettings, default_branch: str) -> bool:
    """Whether the push is one to check: to the default branch, and not exempt."""
    if not settings.enabled or push.deleted or not push.head or not default_branch:
        return False
    if push.ref_kind == "tag":
        if settings.exempt_tags or push.base_ref != default_branch:
            return False
    elif push.name != default_branch or push.created:
        return False  # a branch created by this push had nothing to merge into yet
    if settings.exempt_bots and push.pusher_is_bot:
        return False
    return push.pusher.lower() not in {login.lower() for login in settings.exempt_logins}


async def check(push: Push, github: GitHubPort | None, *, received_at: datetime,
                now: datetime) -> DirectPush | None:
    """The verdict on a push that `concerns` the check; None when it came through a pull
    request. Raises PlatformError (to retry the delivery) while GitHub fails briefly."""
    if github is None:
        return DirectPush(direct=False, unchecked="no GitHub token is configured")
    try:
        pulls = await github.pulls_for_commit(push.repo, push.head)
    except PlatformError as error:
        if not error.permanent and now - received_at < GIVE_UP_AFTER:
            raise
        return DirectPush(direct=False, unchecked=f"GitHub answered: {error.detail}")
    return None if pulls else DirectPush(direct=True)
