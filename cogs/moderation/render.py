"""How cases and their outcomes read: the same words in replies, the modlog and `/case`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core import moments
from bot.core.messages import Tone
from bot.core.usertext import UserText
from governance.audit.log import SYSTEM
from governance.durations import format_duration
from governance.moderation.models import (
    ACTIVE,
    AWAITING,
    BLOCKED,
    CANCELLED,
    FAILED,
    HELD,
    LAPSED,
    LIFTED,
    LIFTED_ACCOUNT,
    PENDING,
    REFUSED,
    UNBLOCK_FAILED,
    UNBLOCKING,
    CaseAccount,
    CaseAmendment,
    CaseAppeal,
    ModerationCase,
)
from governance.moderation.subjects import GITHUB

PLATFORM_NAMES = {"github": "GitHub", "discord": "Discord", "zulip": "Zulip",
                  "console": "Console"}
BANNED = {"github": "blocked in the {org} org", "zulip": "deactivated"}
UNBANNED = {"github": "unblocked in the {org} org", "zulip": "reactivated"}
CASE_STATES = {AWAITING: "waiting for a second moderator", ACTIVE: "active",
               LIFTED: "lifted", LAPSED: "lapsed (nobody confirmed it)",
               REFUSED: "closed: refused everywhere, nothing is blocked"}


def when(moment: datetime | None) -> str:
    return moments.when(moment) if moment is not None else "never"


def age(delta: timedelta) -> str:
    """How old an account is, as people say it: `3d 4h`, or `14 years`."""
    years = delta.days // 365
    if years >= 1:
        return f"{years} year{'s' if years > 1 else ''}"
    return format_duration(delta)


def who(actor: str) -> str:
    """An audit actor name as people say it: `github:bob` is bob, the system is Roadie."""
    if actor == SYSTEM:
        return "Roadie"
    return actor.removeprefix("github:")


def login_of(actor: str) -> str | None:
    return actor.removeprefix("github:") if actor.startswith("github:") else None


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform.capitalize())


def account_label(row: CaseAccount) -> str:
    shown = row.display or row.account
    if row.platform == GITHUB:
        return shown
    return shown if shown == row.account else f"{shown} ({row.account})"


def account_line(row: CaseAccount, org: str, *, give_up_after: int) -> str:
    """Exactly what happened to one account on one platform."""
    name = f"{platform_name(row.platform)}: {account_label(row)}"
    banned = BANNED.get(row.platform, "banned").format(org=org)
    unbanned = UNBANNED.get(row.platform, "unbanned").format(org=org)
    if row.state == BLOCKED:
        return f"✅ {name} is {banned}."
    if row.state == HELD:
        return f"⏸ {name} is not blocked yet: the case waits for a second moderator."
    if row.state == PENDING:
        if not row.attempts:
            return f"⏳ {name} is not blocked yet: Roadie is on it."
        return (f"⏳ {name} is NOT blocked yet: {row.last_error}. Roadie tries again at "
                f"{when(row.next_attempt_at)} (attempt {row.attempts + 1} of {give_up_after}).")
    if row.state == FAILED:
        return f"❌ {name} is NOT blocked: {row.last_error}. Roadie does not try again."
    if row.state == UNBLOCKING:
        if not row.attempts:
            return f"⏳ {name} is still blocked: the lift is under way."
        return (f"⏳ {name} is still blocked: {row.last_error}. Roadie tries to lift it again at "
                f"{when(row.next_attempt_at)}.")
    if row.state == LIFTED_ACCOUNT:
        return f"↩️ {name} is {unbanned}."
    if row.state == UNBLOCK_FAILED:
        return (f"❌ {name} is STILL blocked: {row.last_error}. Lift it by hand, or try again "
                "with `/unblock`.")
    if row.state == CANCELLED:
        return f"➖ {name} was not blocked."
    return f"{name}: {row.state}."


def tone_of(rows: Sequence[CaseAccount]) -> Tone:
    states = {r.state for r in rows}
    if states & {FAILED, UNBLOCK_FAILED}:
        return "danger"
    if states & {PENDING, UNBLOCKING, HELD}:
        return "warning"
    return "success"


def case_summary(case: ModerationCase) -> str:
    """One line for lists: `#5 active, 2026-01-05 09:00 UTC, by bob: spammer: crypto spam`."""
    return (f"#{case.id} {CASE_STATES.get(case.state, case.state)}, {when(case.created_at)}, "
            f"by {who(case.actor)}: {case.subject}: {UserText(case.reason)}")


def published(case: ModerationCase) -> str:
    """What the public moderation page says of a published case."""
    return f"{case.public_name or 'an account'}: {UserText(case.public_summary)}"


def expiry_line(case: ModerationCase, now: datetime) -> str:
    if case.expires_at is None:
        return "Until lifted with `/unblock`."
    if case.state == AWAITING:
        length = format_duration(case.expires_at - case.created_at)
        return f"For {length} from the confirmation."
    if case.expires_at <= now:
        return f"Ran until {when(case.expires_at)}."
    return f"Until {when(case.expires_at)} (in {format_duration(case.expires_at - now)})."


def case_details(case: ModerationCase, accounts: Sequence[CaseAccount],
                 amendments: Sequence[CaseAmendment], appeals: Sequence[CaseAppeal], *,
                 org: str, now: datetime, give_up_after: int) -> str:
    lines = [f"**Case #{case.id}**: {case.subject}, {CASE_STATES.get(case.state, case.state)}",
             f"Opened {when(case.created_at)} by {who(case.actor)}.",
             f"Reason: {UserText(case.reason)}"]
    if case.standing:
        lines.append(f"Needed a second moderator because {case.standing}.")
    if case.state == AWAITING:
        lines.append(f"A second moderator can confirm it with `/block confirm {case.id}` until "
                     f"{when(case.confirm_by)}.")
    if case.confirmed_by:
        lines.append(f"Confirmed {when(case.confirmed_at)} by {who(case.confirmed_by)}.")
    if case.delete_message_days:
        days = case.delete_message_days
        lines.append(f"Chat messages of the last {days} day{'s' if days > 1 else ''} deleted "
                     "with the ban.")
    lines.append(expiry_line(case, now) if case.state in (ACTIVE, AWAITING) else "")
    if case.lifted_at is not None:
        lines.append(f"Lifted {when(case.lifted_at)} by {who(case.lifted_by)}: "
                     f"{UserText(case.lift_reason)}")
    lines.extend(account_line(row, org, give_up_after=give_up_after) for row in accounts)
    if case.public:
        lines.append(f"Published {when(case.published_at)} by {who(case.published_by)}, "
                     f"reading: {published(case)}")
    for amendment in amendments:
        lines.append(f"Reason amended {when(amendment.at)} by {who(amendment.amended_by)} "
                     f"(was: {UserText(amendment.old_reason)})")
    for appeal in appeals:
        lines.append(f"Appeal recorded {when(appeal.at)} by {who(appeal.recorded_by)}: "
                     f"{UserText(appeal.outcome)}")
    return "\n".join(line for line in lines if line)
