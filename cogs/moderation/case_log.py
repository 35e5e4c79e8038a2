"""The changes `/case <number> <action>` makes: each returns the modlog's message and the
moderator's answer; the caller posts the one and replies with the other, in one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.commands import Invocation
from bot.core.messages import Message
from bot.core.usertext import UserText
from cogs.moderation import render
from governance.moderation import publishing
from governance.moderation import service as cases
from governance.moderation.models import ACTIVE

Change = Callable[[CogContext, Session, Invocation, int, str, bool], tuple[Message, str]]


def amend(ctx: CogContext, session: Session, call: Invocation, number: int, text: str,
          name: bool) -> tuple[Message, str]:
    amendment = cases.amend_reason(session, number=number, actor=call.actor, reason=text,
                                   now=call.now)
    return (Message(title=f"Case #{number}: reason amended by {call.profile.login}",
                    body=f"Now: {UserText(amendment.new_reason)}\n"
                         f"Was: {UserText(amendment.old_reason)}"),
            f"Case #{number}: the reason is now: {UserText(amendment.new_reason)}")


def appeal(ctx: CogContext, session: Session, call: Invocation, number: int, text: str,
           name: bool) -> tuple[Message, str]:
    recorded = cases.record_appeal(session, number=number, actor=call.actor, outcome=text,
                                   now=call.now)
    case = cases.get_case(session, number)
    answer = f"Case #{number}: appeal recorded: {UserText(recorded.outcome)}"
    if case.state == ACTIVE:
        answer += (f"\nThe block still stands; to lift it: `/unblock {case.subject} "
                   "<reason>`.")
    return (Message(title=f"Case #{number}: appeal recorded by {call.profile.login}",
                    body=UserText(recorded.outcome)), answer)


def publish(ctx: CogContext, session: Session, call: Invocation, number: int, text: str,
            name: bool) -> tuple[Message, str]:
    case = publishing.publish(session, number=number, actor=call.actor, summary=text,
                              name=name, now=call.now)
    shown = render.published(case)
    page = ctx.pages.to("moderation", f"case-{number}")
    return (Message(title=f"Case #{number}: published by {call.profile.login}", body=shown,
                    url=page),
            f"Case #{number} is on the public moderation page{f' ({page})' if page else ''}"
            f", reading: {shown}\n`/case {number} unpublish` takes it off.")


def unpublish(ctx: CogContext, session: Session, call: Invocation, number: int, text: str,
              name: bool) -> tuple[Message, str]:
    publishing.unpublish(session, number=number, actor=call.actor, now=call.now)
    return (Message(title=f"Case #{number}: taken off the public pages by "
                          f"{call.profile.login}"),
            f"Case #{number} is no longer on the public pages.")


CHANGES: dict[str, Change] = {"reason": amend, "appeal": appeal, "publish": publish,
                              "unpublish": unpublish}
"""`/case` actions, in the order its help lists them."""
