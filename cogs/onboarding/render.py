"""What people read about onboarding: announcements, the views, check-ins, the digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.messages import Message
from governance.durations import format_duration
from governance.onboarding.issue_work import Link
from governance.onboarding.models import ADMIN, COMPLETED, OPENING, Checklist, ChecklistItem
from governance.onboarding.tasklist import WHO_TEXT


def age(delta: timedelta) -> str:
    """A duration people read at a glance: `15d 3h`, `5h 20m` (no seconds)."""
    unit = timedelta(hours=1) if delta >= timedelta(days=1) else timedelta(minutes=1)
    return format_duration(unit * (delta // unit)) if delta >= unit else "moments"


def progress(items: Sequence[ChecklistItem]) -> str:
    return f"{sum(i.done for i in items)} of {len(items)} done"


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment is not None else "?"


def is_stuck(checklist: Checklist, now: datetime, stuck_after: timedelta) -> bool:
    return checklist.state == "open" and now - checklist.last_progress_at >= stuck_after


def waiting_on_admins(line: str, items: Sequence[ChecklistItem]) -> str:
    """The line, followed by the open admin items: `; waiting on admins: webhook (escalation
    #3), pypi`."""
    parts = [f"{i.key} (escalation #{i.escalation})" if i.escalation else i.key
             for i in items if i.who == ADMIN and not i.done]
    return f"{line}; waiting on admins: {', '.join(parts)}" if parts else line


def state_text(checklist: Checklist, now: datetime, stuck_after: timedelta) -> str:
    if checklist.state == COMPLETED:
        by = f" by {checklist.completed_by}" if checklist.completed_by else ""
        return f"completed {_day(checklist.completed_at)}{by}"
    if checklist.state == OPENING:
        return "its issue is being opened on GitHub"
    idle = now - checklist.last_progress_at
    text = f"open for {age(now - checklist.started_at)}"
    if idle >= stuck_after:
        text += f", STUCK: no progress for {age(idle)}"
    if checklist.issue_number is None:
        text += ", tracked in Roadie only (no GitHub issue)"
    return text


# --- views --------------------------------------------------------------------------------


def listing(checklists: Sequence[Checklist], items: Mapping[int, Sequence[ChecklistItem]],
            now: datetime, stuck_after: timedelta) -> str:
    if not checklists:
        return ("No onboarding checklists are open. One opens when a repository is created in "
                "or transferred to the org.")
    lines = ["Open onboarding checklists:"]
    for checklist in checklists:
        mine = items.get(checklist.id or 0, [])
        line = waiting_on_admins(f"- {checklist.repo}: {progress(mine)}, "
                                 f"{state_text(checklist, now, stuck_after)}", mine)
        if checklist.issue_url:
            line += f" ({checklist.issue_url})"
        lines.append(line)
    lines.append("`/onboarding <project>` shows a checklist's items.")
    return "\n".join(lines)


def item_state(item: ChecklistItem, now: datetime) -> str:
    if item.done:
        return f"ticked by {item.done_by or 'someone'} on {_day(item.done_at)}"
    if item.escalation is not None:
        return f"escalated to the admins as #{item.escalation}"
    if item.escalation_error:
        return f"could not be escalated: {item.escalation_error}"
    if item.escalate_at is not None:
        if item.escalate_at <= now:
            return "being escalated to the admins"
        return f"escalated to the admins in {age(item.escalate_at - now)} if still open"
    return "open"


def detail(checklist: Checklist, items: Sequence[ChecklistItem], now: datetime,
           stuck_after: timedelta) -> Message:
    lines = [f"{checklist.repo}: {state_text(checklist, now, stuck_after)}."]
    for item in items:
        box = "✅" if item.done else "⬜"
        lines.append(f"{box} `{item.key}` {item.text} ({WHO_TEXT[item.who]}): "
                     f"{item_state(item, now)}")
    return Message(title=f"Onboarding of {checklist.repo}: {progress(items)}",
                   body="\n".join(lines), url=checklist.issue_url,
                   footer=f"`/onboarding {checklist.repo} done <item>` ticks an item.")


# --- announcements ------------------------------------------------------------------------


def started(checklist: Checklist, items: Sequence[ChecklistItem], *,
            unassigned: Sequence[str] = ()) -> Message:
    counts = {who: sum(i.who == who for i in items) for who in WHO_TEXT}
    where = "Tick them on the issue, or in chat" if checklist.issue_number else "Tick them in chat"
    body = (f"{len(items)} items: {counts['member']} for members, {counts['lead']} for leads, "
            f"{counts['admin']} for org admins. {where} with "
            f"`/onboarding {checklist.repo} done <item>`.")
    if unassigned:
        body += (f" GitHub would not assign it to {', '.join(unassigned)}, so it is "
                 "assigned to nobody.")
    return Message(title=f"Onboarding of {checklist.repo} started", body=body,
                   url=checklist.issue_url)


def completed(checklist: Checklist, items: Sequence[ChecklistItem]) -> Message:
    left = [i.key for i in items if not i.done]
    body = (f"Completed by {checklist.completed_by or 'someone'}: {progress(items)}."
            + (f" Left open: {', '.join(left)}." if left else ""))
    return Message(title=f"Onboarding of {checklist.repo} is complete", body=body,
                   url=checklist.issue_url, tone="success")


def item_closed(checklist: Checklist, item: ChecklistItem, items: Sequence[ChecklistItem], *,
                by: str, where: str) -> Message:
    """An admin item ticked before its escalation was closed: both close, told once."""
    return Message(title=f"Onboarding of {checklist.repo}: `{item.key}` is done",
                   body=f"{item.text}: ticked by {by} {where}. Escalation #{item.escalation} "
                        f"is resolved with it. Onboarding: {progress(items)}.",
                   url=checklist.issue_url, tone="success")


def checkin(checklist: Checklist, items: Sequence[ChecklistItem], now: datetime,
            leads: Sequence[str], *, mention: bool) -> Message:
    """The check-in, to each lead directly (`mention=False`), or in the project's feed."""
    days = (now - checklist.started_at).days
    open_items = [f"{i.key} ({i.who})" for i in items if not i.done]
    lines = [f"{checklist.repo} joined the org {days} days ago. How is it going? Anything "
             "the admins or the other members can help with?",
             f"Onboarding: {progress(items)}"
             + (f"; open: {', '.join(open_items)}." if open_items else ".")]
    if not leads:
        lines.append("The project has no lead yet: an admin appoints one with `/grant`.")
    return Message(title=f"Check-in: {checklist.repo}, {days} days in", body="\n".join(lines),
                   url=checklist.issue_url, mentions=tuple(leads) if mention else (),
                   footer=f"`/onboarding {checklist.repo}` shows the checklist.")


def escalation_summary(checklist: Checklist, item: ChecklistItem, reason: str) -> str:
    return f"Onboarding of {checklist.repo}: {item.text} (`{item.key}`; {reason})"


def escalation_reason(items: Sequence[ChecklistItem], admin_wait: timedelta) -> str:
    if all(i.who == ADMIN for i in items if not i.done):
        return "only admin items are left"
    return f"open for more than {format_duration(admin_wait)}"


def escalation_comment(link: Link) -> str:
    # "#12" would link to issue 12 of this repository: the number goes in code.
    return (f"The item `{link.key}` ({link.text}) needs an org admin, so Roadie escalated "
            f"it to the admins: escalation `#{link.escalation}` ({link.kind}). In chat, "
            f"`/escalation {link.escalation}` shows where it stands.")


CLOSING_COMMENT = "Every item is ticked: the onboarding is complete. Thank you!"


def github_failed(checklist: Checklist, error: str, *, opening: bool) -> Message:
    if opening:
        body = (f"Roadie could not open the onboarding issue in {checklist.repo}: {error}. "
                "The checklist is tracked in Roadie alone for now (`/onboarding "
                f"{checklist.repo}`); redeliver the repository event from the org's webhook "
                "settings to try again.")
    else:
        body = (f"Roadie could not bring the onboarding issue of {checklist.repo} up to date: "
                f"{error}. The checklist itself is fine; it tries again on the next change.")
    return Message(title=f"Onboarding of {checklist.repo}: GitHub refused", body=body,
                   url=checklist.issue_url, tone="danger")


def escalation_failed(checklist: Checklist, item: ChecklistItem, error: str) -> Message:
    return Message(title=f"Onboarding of {checklist.repo}: `{item.key}` was not escalated",
                   body=f"{item.text} needs an org admin, but opening an escalation for it "
                        f"failed: {error.rstrip('.')}. Check `[onboarding] escalation_kinds` "
                        "against `[escalations] kinds`, and `/escalate` it by hand.",
                   url=checklist.issue_url, tone="danger")


# --- the digest ---------------------------------------------------------------------------


def digest_lines(stuck: Sequence[Checklist], items: Mapping[int, Sequence[ChecklistItem]],
                 now: datetime) -> tuple[str, ...]:
    return tuple(waiting_on_admins(f"{c.repo}: {progress(items.get(c.id or 0, []))}, no "
                                   f"progress for {age(now - c.last_progress_at)}",
                                   items.get(c.id or 0, [])) for c in stuck)

