"""Moderation: `/block`, `/unblock`, `/case`, `/cases`, the retry sweep, and spam signals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.core.cog import (
    Cog,
    CogContext,
    DigestSection,
    completer,
    every,
    on_github,
    on_member_join,
)
from bot.core.commands import Arg, Flag, Invocation, Option, Target, Text, command
from bot.core.events import GitHubEvent, MemberJoined
from bot.core.messages import Reply
from cogs.moderation import case_log
from cogs.moderation.appeals import Appeals
from cogs.moderation.blocking import Blocker, BlockRequest
from cogs.moderation.render import case_summary
from cogs.moderation.settings import ModerationSettings
from cogs.moderation.watch import SpamWatch
from governance.audit import Actor
from governance.errors import Refusal
from governance.moderation import joins
from governance.moderation import service as cases
from governance.moderation.subjects import Requester, resolve
from governance.people.roles import Role

CASE_ACTIONS = tuple(case_log.CHANGES)


def private(text: str) -> Reply:
    """Moderation answers go to the moderator only (the modlog has them for everyone)."""
    return Reply(text=text, private=True)


def requester_of(call: Invocation) -> Requester:
    return Requester(name=call.actor.name, chat=(call.platform, call.user_id),
                     person_id=call.profile.person_id)


class ModerationCog(Cog):
    name = "moderation"
    Settings = ModerationSettings
    settings: ModerationSettings

    def __init__(self, ctx: CogContext, settings: ModerationSettings) -> None:
        super().__init__(ctx, settings)
        self.blocker = Blocker(ctx, settings)
        self.watch = SpamWatch(ctx, settings, self.blocker)
        self.appeals = Appeals(ctx, settings, self.blocker)

    async def _logged(self, call: Invocation, command_text: str, subject: str,
                      flow: Callable[[], Awaitable[str]]) -> Reply:
        """Run a moderation flow; a refusal goes to the modlog before it is shown."""
        try:
            return private(await flow())
        except Refusal as refusal:
            await self.blocker.log_refusal(requester_of(call), command_text, subject, refusal)
            raise

    # --- blocking ---------------------------------------------------------------------

    @command("block user", "Block an account on GitHub and in chat, and open a case",
             Arg("target", "a GitHub login, or a chat mention", kind="target"),
             Text("reason", "why, for the case log"),
             Flag("github", "on GitHub only (with --chat: both)"),
             Flag("chat", "in chat only (with --github: both)"),
             Option("for", "lift it by itself after this long, e.g. 7d", of="duration"),
             Option("delete-messages", "delete their chat messages of the last N days (0-7)",
                    of="int"),
             role=Role.MODERATOR, group_default=True)
    async def block(self, call: Invocation, target: Target, reason: str, github: bool,
                    chat: bool, **options: Any) -> Reply:
        duration: timedelta | None = options.get("for")
        request = BlockRequest(target=target, reason=reason, github=github, chat=chat,
                               duration=duration,
                               delete_message_days=options.get("delete-messages"))
        return await self._logged(call, f"/block {target}", str(target),
                                  lambda: self.blocker.block(requester_of(call), request,
                                                             call.now))

    @command("block confirm", "Confirm another moderator's block as the second moderator",
             Arg("number", "the case number", kind="int", autocomplete="awaiting-cases"),
             role=Role.MODERATOR)
    async def confirm(self, call: Invocation, number: int) -> Reply:
        return await self._logged(call, f"/block confirm {number}", f"case:{number}",
                                  lambda: self.blocker.confirm(requester_of(call), number,
                                                               call.now))

    @command("unblock", "Lift a block everywhere it holds",
             Arg("target", "a GitHub login, or a chat mention", kind="target"),
             Text("reason", "why, for the case log"), role=Role.MODERATOR)
    async def unblock(self, call: Invocation, target: Target, reason: str) -> Reply:
        return await self._logged(call, f"/unblock {target}", str(target),
                                  lambda: self.blocker.unblock(requester_of(call), target,
                                                               reason, call.now))

    # --- the case log ------------------------------------------------------------------

    @command("case", "Show a case; amend its reason, record an appeal, or publish it",
             Arg("number", "the case number", kind="int"),
             Arg("action", "what to do instead of showing it", choices=CASE_ACTIONS,
                 optional=True, default=""),
             Text("text", "the new reason, the appeal's outcome, or the public summary",
                  optional=True),
             Flag("name", "with publish: show the account's GitHub login, not \"an account\""),
             role=Role.MODERATOR)
    async def case(self, call: Invocation, number: int, action: str, text: str,
                   name: bool) -> Reply:
        if name and action != "publish":
            raise Refusal("`--name` goes with `publish` only.",
                          f"`/case {number} publish <summary> --name`.")
        if not action:
            if text:
                raise Refusal(f"`/case {number}` takes `reason`, `appeal` or `publish` before "
                              "more words.", f"`/case {number} reason <text>`, `/case {number} "
                              f"appeal <outcome>` or `/case {number} publish <summary>`.")
            return private(await self.ctx.db.run(
                lambda session: self.blocker.details(session, number, call.now)))
        if action == "unpublish" and text:
            raise Refusal(f"`/case {number} unpublish` takes no more words.",
                          f"`/case {number} unpublish`.")
        change = case_log.CHANGES[action]

        def transact(session: Session) -> str:
            message, answer = change(self.ctx, session, call, number, text, name)
            self.ctx.outbox.post(session, "modlog", message)
            return answer
        return private(await self.ctx.db.run(transact))

    @command("cases of", "The cases of an account, by any of its linked identities",
             Arg("target", "a GitHub login, or a chat mention", kind="target"),
             role=Role.MODERATOR, group_default=True)
    async def cases_of(self, call: Invocation, target: Target) -> Reply:
        def transact(session: Session) -> Any:
            subject = resolve(session, target.platform, target.id)
            found = cases.cases_for(session, subject.accounts)
            return subject, found
        subject, found = await self.ctx.db.run(transact)
        if not found:
            return private(f"No cases for {subject.label}.")
        return private("\n".join([f"Cases of {subject.label}, newest first:",
                                  *(f"- {case_summary(c)}" for c in found)]))

    @command("cases by", "The cases a moderator opened or confirmed",
             Arg("moderator", "their GitHub login", kind="login"), role=Role.MODERATOR)
    async def cases_by(self, call: Invocation, moderator: str) -> Reply:
        roadie = moderator.lower() in ("roadie", self.ctx.bot_login.lower())
        actor = Actor.system() if roadie else Actor.github(moderator)
        found = await self.ctx.db.run(lambda session: cases.cases_by(session, actor))
        if not found:
            return private(f"{moderator} has opened or confirmed no cases.")
        return private("\n".join([f"Cases opened or confirmed by {moderator}, newest first:",
                                  *(f"- {case_summary(c)}" for c in found)]))

    # --- appeals ------------------------------------------------------------------------

    @command("appeal file", "Appeal against a block of your account, saying why",
             Text("text", "why the block should be lifted"), role=Role.ANYONE,
             group_default=True)
    async def appeal(self, call: Invocation, text: str) -> Reply:
        login = call.require_linked()
        return private(await self.appeals.file_in_chat(login, text, call.now))

    @command("appeals", "The appeals waiting for the moderators", role=Role.MODERATOR)
    async def appeals_waiting(self, call: Invocation) -> Reply:
        return private(await self.appeals.listing())

    @command("appeal decide", "Decide an appeal: uphold the block, or lift it",
             Arg("case", "the case number", kind="int"),
             Arg("decision", "uphold keeps the block; lift lifts it", choices=("uphold", "lift")),
             Text("reason", "why (the person reads it)"), role=Role.MODERATOR)
    async def decide(self, call: Invocation, case: int, decision: str, reason: str) -> Reply:
        return await self._logged(call, f"/appeal decide {case}", f"case:{case}",
                                  lambda: self.appeals.decide(
                                      requester_of(call), call.actor, call.profile.login or "",
                                      case, decision, reason, call.now))

    @on_github("issues")
    async def appeal_issue(self, event: GitHubEvent) -> bool:
        return await self.appeals.file_from_github(event)

    @completer("awaiting-cases")
    async def complete_awaiting(self, prefix: str) -> list[tuple[str, str]]:
        waiting = await self.ctx.db.run(cases.awaiting_cases)
        return [(f"#{c.id} {c.subject}: {c.reason}"[:100], str(c.id)) for c in waiting
                if str(c.id).startswith(prefix.lstrip("#"))]

    def digest_sections(self, session: Session, *, now: datetime,
                        since: datetime) -> list[DigestSection]:
        found = cases.cases_since(session, since)
        if not found:
            return []
        return [DigestSection("Blocks of the last day", tuple(case_summary(c) for c in found),
                              order=40)]

    # --- jobs and events ---------------------------------------------------------------

    @every("15s")
    async def sweep(self) -> None:
        """Lapse unconfirmed cases, lift timed blocks, and retry the platforms that failed."""
        await self.blocker.sweep()
        def transact(session: Session) -> None:
            window = self.settings.signals.join_window
            joins.forget_joins(session, self.ctx.clock.now() - max(window, timedelta(days=1)))
        await self.ctx.db.run(transact)

    @on_github("organization", "membership")
    async def member_added(self, event: GitHubEvent) -> bool:
        return await self.watch.github_join(event)

    @on_member_join
    async def chat_member_joined(self, joined: MemberJoined) -> None:
        await self.watch.chat_join(joined)
