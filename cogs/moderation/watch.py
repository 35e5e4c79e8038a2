"""Spam signals on joins: score the newcomer, tell the moderators, block only when told to."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.commands import Target
from bot.core.events import GitHubEvent, MemberJoined
from bot.core.messages import Choice, Field, Message
from bot.core.ports import GitHubUser, PlatformError
from cogs.moderation.blocking import Blocker, BlockRequest
from cogs.moderation.render import platform_name
from cogs.moderation.settings import ModerationSettings
from governance.audit.log import SYSTEM
from governance.errors import Refusal
from governance.moderation import joins
from governance.moderation.signals import Newcomer, Score, score
from governance.moderation.subjects import GITHUB, Requester, resolve
from governance.people.roles import Role

ROADIE = Requester(name=SYSTEM)


def github_newcomer(login: str, user: GitHubUser | None) -> Newcomer:
    if user is None:
        return Newcomer(names=(login,))
    empty = not (user.name or user.bio or user.blog or user.company)
    return Newcomer(names=tuple(n for n in (login, user.name) if n), created_at=user.created_at,
                    public_repos=user.public_repos, followers=user.followers,
                    empty_profile=empty)


class SpamWatch:
    def __init__(self, ctx: CogContext, settings: ModerationSettings, blocker: Blocker) -> None:
        self.ctx = ctx
        self.settings = settings.signals
        self.blocker = blocker

    async def github_join(self, event: GitHubEvent) -> bool:
        if event.event == "organization" and event.action == "member_added":
            login, where = event.text("membership", "user", "login"), f"the {self.ctx.org} org"
        elif event.event == "membership" and event.action == "added":
            team = event.text("team", "name") or event.text("team", "slug")
            login = event.text("member", "login")
            where = f"the {team} team" if team else f"a team of {self.ctx.org}"
        else:
            return False
        if not login or login.lower() == self.ctx.bot_login.lower() or login.endswith("[bot]"):
            return False
        user = None
        if self.ctx.github is not None:
            try:
                user = await self.ctx.github.get_user(login)
            except PlatformError as error:
                if not error.permanent:
                    raise  # the delivery is tried again later
        return await self._judge(GITHUB, login, github_newcomer(login, user), where,
                                 event.received_at, Target(GITHUB, login))

    async def chat_join(self, joined: MemberJoined) -> None:
        if joined.is_bot:
            return
        newcomer = Newcomer(names=(joined.display_name,) if joined.display_name else (),
                            created_at=joined.account_created_at)
        await self._judge(joined.platform, joined.user_id, newcomer,
                          platform_name(joined.platform), joined.joined_at,
                          Target(joined.platform, joined.user_id))

    async def _judge(self, platform: str, account: str, newcomer: Newcomer, where: str,
                     joined_at: datetime, target: Target) -> bool:
        settings = self.settings
        now = self.ctx.clock.now()
        key = account.lower() if platform == GITHUB else account

        def record_and_score(session: Session) -> Score | None:
            """The newcomer's score when it calls for an alert (which is queued), else None."""
            subject = resolve(session, platform, key)
            if subject.profile.role >= Role.MODERATOR:
                return None
            joins.record_join(session, platform=platform, account=key, at=joined_at)
            recent = joins.joins_since(session, platform, joined_at - settings.join_window)
            result = score(replace(newcomer, recent_joins=recent), settings.thresholds(), now)
            if result.points < settings.alert_score:
                return None
            joins.record_signal(session, platform=platform, account=key, points=result.points,
                                summary=result.summary(), now=now)
            self.ctx.outbox.post(session, "moderators",
                                 self._alert(target, where, result, platform))
            return result

        result = await self.ctx.db.run(record_and_score)
        if result is None:
            return False
        auto = settings.auto_block_score
        if auto is not None and result.points >= auto:
            await self._auto_block(target, result, platform)
        return True

    def _alert(self, target: Target, where: str, result: Score, platform: str) -> Message:
        flag = "--github" if platform == GITHUB else "--chat"
        auto = self.settings.auto_block_score
        footer = ("Roadie blocks at this score by itself (auto_block_score)."
                  if auto is not None and result.points >= auto else
                  "Roadie blocks nobody by itself; a moderator decides.")
        return Message(
            title=f"Spam signals: {target} joined {where}",
            body=f"Score {result.points} (alerts from {self.settings.alert_score}).",
            fields=tuple(Field(s.detail, f"+{s.points}") for s in result.signals),
            choices=(Choice("Block", f"/block {target} spam signals: {result.summary()} {flag}",
                            "danger"),),
            tone="warning", footer=footer)

    async def _auto_block(self, target: Target, result: Score, platform: str) -> None:
        request = BlockRequest(target=target, reason=f"automatic, spam signals: "
                                                     f"{result.summary()}",
                               github=platform == GITHUB, chat=platform != GITHUB)
        try:
            await self.blocker.block(ROADIE, request, self.ctx.clock.now())
        except Refusal as refusal:
            await self.blocker.log_refusal(ROADIE, f"/block {target}", str(target), refusal)
