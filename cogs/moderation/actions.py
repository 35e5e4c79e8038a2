"""Calling the platforms: block or lift one account, and say what the platform answered.

Nothing here writes to the database; the caller records each `Attempt`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.core.cog import CogContext
from bot.core.messages import Message
from bot.core.outbox import DIRECT_PREFIX
from bot.core.ports import PlatformError
from governance.moderation.models import CaseAccount, ModerationCase
from governance.moderation.service import BLOCK, Attempt
from governance.moderation.subjects import GITHUB

log = logging.getLogger("roadie.moderation")
MAX_PLATFORM_REASON = 400


@dataclass(frozen=True)
class Step:
    """One call to make: block or unblock one account, for a case."""

    account_id: int
    case_id: int
    op: str
    platform: str
    account: str
    display: str
    attempts: int
    reason: str
    delete_message_days: int

    @classmethod
    def of(cls, row: CaseAccount, case: ModerationCase, op: str) -> Step:
        assert row.id is not None
        assert case.id is not None
        reason = case.reason if op == BLOCK else case.lift_reason
        return cls(row.id, case.id, op, row.platform, row.account, row.display, row.attempts,
                   f"case #{case.id}: {reason}"[:MAX_PLATFORM_REASON],
                   case.delete_message_days)


def _from_error(error: PlatformError) -> Attempt:
    return Attempt(ok=False, error=f"{error.platform} answered: {error.detail}",
                   permanent=error.permanent, retry_after=error.retry_after)


async def _github(ctx: CogContext, step: Step) -> Attempt:
    if ctx.github is None:
        return Attempt(ok=False, error="Roadie has no GitHub token configured")
    login = step.display or step.account
    try:
        if step.op == BLOCK:
            await ctx.github.block_user(login)
        else:
            await ctx.github.unblock_user(login)
    except PlatformError as error:
        if step.op == BLOCK and error.permanent:
            # GitHub refuses to block someone who is blocked already; that is a success.
            try:
                if await ctx.github.is_blocked(login):
                    return Attempt(ok=True, note="was blocked already")
            except PlatformError:
                pass
        return _from_error(error)
    return Attempt(ok=True)


async def _chat(ctx: CogContext, step: Step, notice: Message | None) -> tuple[Attempt, str]:
    port = ctx.chat.get(step.platform)
    if port is None:
        return Attempt(ok=False, error=f"Roadie is not connected to {step.platform}"), ""
    told = ""
    if notice is not None and step.op == BLOCK and step.attempts == 0:
        told = await _tell(ctx, step, notice)
    try:
        if step.op == BLOCK:
            await port.ban(step.account, reason=step.reason,
                           delete_message_days=step.delete_message_days)
        else:
            await port.unban(step.account, reason=step.reason)
    except PlatformError as error:
        return _from_error(error), told
    return Attempt(ok=True), told


async def _tell(ctx: CogContext, step: Step, notice: Message) -> str:
    """Send the appeal notice straight to the person, before the ban ends their access.

    The outbox would send it after the ban, when it can no longer arrive; so this one message
    goes directly, once, and its failure does not hold up the ban.
    """
    port = ctx.chat[step.platform]
    place = port.place_for(DIRECT_PREFIX + step.account)
    if place is None:
        return "could not tell them how to appeal: no direct messages on this platform"
    try:
        await port.send(place, notice, key=f"moderation:{step.case_id}:notice:{step.account_id}",
                        mentions={})
    except Exception as error:
        log.warning("case %s: the appeal notice to %s:%s failed: %s", step.case_id,
                    step.platform, step.account, error)
        return f"could not tell them how to appeal ({error})"
    return "told them how to appeal"


async def perform(ctx: CogContext, step: Step, notice: Message | None) -> tuple[Attempt, str]:
    """Make one call; return what the platform answered and what the person was told."""
    try:
        if step.platform == GITHUB:
            return await _github(ctx, step), ""
        return await _chat(ctx, step, notice)
    except Exception as error:  # a bug in a port must not lose the attempt: retry it later
        log.exception("case %s: %s of %s:%s failed unexpectedly", step.case_id, step.op,
                      step.platform, step.account)
        return Attempt(ok=False, error=f"unexpected error: {error!r}"), ""


async def perform_all(ctx: CogContext, steps: list[Step],
                      notices: dict[int, Message]) -> list[tuple[Step, Attempt, str]]:
    """Make every call at once; `notices` maps a case number to its appeal notice."""
    results = await asyncio.gather(*(perform(ctx, s, notices.get(s.case_id)) for s in steps))
    return [(step, attempt, told) for step, (attempt, told) in zip(steps, results, strict=True)]
