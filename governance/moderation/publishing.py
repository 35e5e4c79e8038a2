"""Publishing a case on the public pages, when moderators choose to.

What is shown is what the moderator writes for the public (`public_summary`), never the
case's reason, which may hold private detail; and the subject's GitHub login only when the
moderator asks for it, else the case reads "an account". Only a block that took effect
(active, or lifted since) is published: a case waiting for its second moderator, or one
that blocked nothing, names someone who was never blocked.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from governance.audit import Actor, record
from governance.errors import Conflict, Refusal
from governance.moderation.models import ACTIVE, AWAITING, LIFTED, PUBLIC_SUMMARY_MAX
from governance.moderation.models import ModerationCase as Case
from governance.moderation.service import accounts_of, case_target, get_case
from governance.moderation.subjects import GITHUB, resolve

PUBLISHABLE = (ACTIVE, LIFTED)


def _usage(number: int) -> str:
    return f"`/case {number} publish <what the public may read> [--name]`"


def _checked_summary(number: int, summary: str) -> str:
    summary = summary.strip()
    if not summary:
        raise Refusal("A published case needs a summary written for the public.",
                      f"{_usage(number)}, e.g. `/case {number} publish posted spam links in "
                      "several repositories`. The case's reason is never shown.")
    if len(summary) > PUBLIC_SUMMARY_MAX:
        raise Refusal(f"The public summary has {len(summary)} characters; at most "
                      f"{PUBLIC_SUMMARY_MAX} are published.", "Shorten it, then try again.")
    return summary


def github_login_of(session: Session, case: Case) -> str | None:
    """The GitHub login of the case's subject, as written, when Roadie knows one."""
    assert case.id is not None
    accounts = accounts_of(session, case.id)
    for row in accounts:
        if row.platform == GITHUB:
            return row.display or row.account
    for row in accounts:  # a chat account linked to a person who has a GitHub login
        login = resolve(session, row.platform, row.account).login
        if login is not None:
            return login
    return None


def publish(session: Session, *, number: int, actor: Actor, summary: str, name: bool,
            now: datetime) -> Case:
    """Show the case on the public pages with `summary`, naming the subject's GitHub login
    if `name`; publishing a published case again replaces what is shown."""
    summary = _checked_summary(number, summary)
    case = get_case(session, number, lock=True)
    if case.state not in PUBLISHABLE:
        why = ("waits for a second moderator" if case.state == AWAITING
               else f"is {case.state}: it blocked nobody")
        raise Conflict(f"Case #{number} {why}; only a block that took effect is published.",
                       "Publish it once it is confirmed." if case.state == AWAITING else
                       "`/cases <target>` finds the case that did block them.")
    shown_name = ""
    if name:
        shown_name = github_login_of(session, case) or ""
        if not shown_name:
            raise Refusal(f"Case #{number} holds no account with a GitHub login that Roadie "
                          "knows, so it cannot be named.",
                          f"Publish it without `--name`: `/case {number} publish <summary>` "
                          "shows it as \"an account\".")
    if case.public and (case.public_summary, case.public_name) == (summary, shown_name):
        raise Conflict(f"Case #{number} is published so already.",
                       f"`/case {number} unpublish` takes it off the public pages.")
    case.public, case.public_summary, case.public_name = True, summary, shown_name
    case.published_by, case.published_at = actor.name, now
    record(session, actor=actor, action="moderation.publish", target=case_target(number),
           at=now, reason=summary, data={"named": shown_name or None})
    return case


def unpublish(session: Session, *, number: int, actor: Actor, now: datetime) -> Case:
    """Take the case off the public pages; what was shown stays in the audit log only."""
    case = get_case(session, number, lock=True)
    if not case.public:
        raise Conflict(f"Case #{number} is not published.",
                       f"{_usage(number)} publishes it.")
    case.public, case.public_summary, case.public_name = False, "", ""
    case.published_by, case.published_at = "", None
    record(session, actor=actor, action="moderation.unpublish", target=case_target(number),
           at=now)
    return case
