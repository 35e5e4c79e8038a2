"""The two-person rule: does a target have standing, so that a second moderator must agree?"""

from __future__ import annotations

from datetime import datetime

from bot.core.cog import CogContext
from bot.core.ports import PlatformError
from cogs.moderation.render import age, platform_name
from cogs.moderation.settings import ModerationSettings
from governance.moderation import newcomers
from governance.moderation.subjects import GITHUB, Subject
from governance.people.roles import Role


async def standing_of(ctx: CogContext, settings: ModerationSettings, subject: Subject,
                      now: datetime) -> list[str]:
    """Why blocking the target needs a second moderator; empty when it does not.

    When a platform cannot tell, that counts as standing: better ask one moderator too many.
    """
    if settings.two_person == "never":
        return []
    if settings.two_person == "always":
        return ['every block needs a second moderator here (two_person = "always")']
    kinds = set(settings.standing)
    roles, label = subject.profile.roles, subject.label
    reasons: list[str] = []
    if "project-lead" in kinds and Role.LEAD in roles:
        reasons.append(f"{label} leads {', '.join(sorted(subject.profile.lead_of))}")
    if "org-member" in kinds:
        reasons.extend(await _membership(ctx, subject))
    if "account-age" in kinds:
        reasons.extend(await _old_accounts(ctx, settings, subject, now))
    return reasons


async def _membership(ctx: CogContext, subject: Subject) -> list[str]:
    """Org membership gives standing, except to a newcomer on probation (who joined lately
    and was not vouched for): a spam account that has just joined is blocked by one."""
    if Role.MEMBER in subject.profile.roles:
        return [f"{subject.label} is a member of the {ctx.org} org"]
    login = subject.login
    if login is None or ctx.github is None:
        return []
    if await ctx.db.run(lambda session: newcomers.on_probation(session, login)) is not None:
        return []
    try:
        if await ctx.github.is_org_member(login):
            return [f"{login} is a member of the {ctx.org} org"]
    except PlatformError as error:
        return [f"GitHub could not say whether {login} is an org member ({error.detail})"]
    return []


async def _old_accounts(ctx: CogContext, settings: ModerationSettings, subject: Subject,
                        now: datetime) -> list[str]:
    reasons = []
    for account in subject.accounts:
        created: datetime | None = None
        try:
            if account.platform == GITHUB and ctx.github is not None:
                user = await ctx.github.get_user(account.display or account.account)
                created = user.created_at if user is not None else None
            elif account.platform in ctx.chat:
                member = await ctx.chat[account.platform].lookup_member(account.account)
                created = member.account_created_at if member is not None else None
        except PlatformError as error:
            reasons.append(f"{platform_name(account.platform)} could not say how old "
                           f"{account.label} is ({error.detail})")
            continue
        if created is not None and now - created >= settings.established_age:
            reasons.append(f"the {platform_name(account.platform)} account {account.label} "
                           f"is {age(now - created)} old")
    return reasons
