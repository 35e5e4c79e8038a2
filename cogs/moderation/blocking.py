"""Blocks from request to outcome: checks, the case, the calls, and the report.

Each flow records first (one transaction), then calls the platforms, then records what they
answered and reports it (one more transaction). Accounts a call did not settle stay due, and
the sweep tries them again with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.commands import Target
from bot.core.messages import Choice, Message
from cogs.moderation.actions import Step, perform_all
from cogs.moderation.render import (
    account_line,
    case_details,
    expiry_line,
    login_of,
    platform_name,
    tone_of,
    when,
    who,
)
from cogs.moderation.settings import ModerationSettings, how_to_appeal
from cogs.moderation.standing import standing_of
from governance.audit import Actor
from governance.durations import format_duration
from governance.errors import Forbidden, Refusal
from governance.moderation import service as cases
from governance.moderation.models import (
    AWAITING,
    BLOCKED,
    FAILED,
    LIFTED_ACCOUNT,
    PENDING,
    UNBLOCK_FAILED,
    CaseAccount,
    ModerationCase,
)
from governance.moderation.service import Attempt
from governance.moderation.subjects import (
    GITHUB,
    Account,
    Requester,
    Subject,
    refuse_protected,
    resolve,
)

CLAIM = timedelta(minutes=5)
"""How long the replica that attempts an account holds it before the sweep may try again."""
FINAL = (BLOCKED, FAILED, LIFTED_ACCOUNT, UNBLOCK_FAILED)


@dataclass(frozen=True)
class BlockRequest:
    target: Target
    reason: str
    github: bool = False
    chat: bool = False
    duration: timedelta | None = None
    delete_message_days: int | None = None

    @property
    def scope(self) -> str:
        if self.github == self.chat:
            return "all" if not self.github else "github+chat"
        return "github" if self.github else "chat"


class Blocker:
    def __init__(self, ctx: CogContext, settings: ModerationSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.policy = settings.retry_policy()

    # --- /block -------------------------------------------------------------------------

    async def block(self, requester: Requester, request: BlockRequest, now: datetime) -> str:
        days = self._delete_days(request)
        def transact(session: Session) -> Any:
            subject = resolve(session, request.target.platform, request.target.id)
            refuse_protected(subject, requester, self.ctx.bot_login)
            return subject
        subject = await self.ctx.db.run(transact)
        chosen, skipped = self._choose(subject, request)
        standing = await standing_of(self.ctx, self.settings, subject, now)
        opening = cases.Opening(
            subject=subject.label, accounts=chosen, reason=request.reason, scope=request.scope,
            delete_message_days=days, duration=request.duration,
            confirm_within=self.settings.confirm_window if standing else None,
            standing="; ".join(standing))

        def open_case(session: Session) -> tuple[ModerationCase, list[CaseAccount] | None]:
            """The case, and its accounts to block now (None: it awaits a confirmation)."""
            self._check_rate(session, requester, now)
            case = cases.open_case(session, actor=Actor(requester.name), opening=opening, now=now,
                                   hold=CLAIM)
            assert case.id is not None
            if standing:
                self._announce_awaiting(session, case, subject)
                return case, None
            rows = cases.accounts_of(session, case.id)
            self._notice_by_outbox(session, case, subject, chosen)
            return case, rows

        case, rows = await self.ctx.db.run(open_case)
        if rows is None:
            return self._awaiting_reply(case, skipped)
        steps = [Step.of(row, case, cases.BLOCK) for row in rows]
        return await self._act_and_report(case, steps, skipped,
                                          title=f"Case #{case.id}: block of {case.subject}")

    def _delete_days(self, request: BlockRequest) -> int:
        days = request.delete_message_days
        if days is None:
            return self.settings.delete_message_days if request.scope != "github" else 0
        if not 0 <= days <= 7:
            raise Refusal(f"`--delete-messages` takes 0 to 7 days, not {days}.",
                          "Discord keeps at most 7 days for a ban to delete.")
        if request.scope == "github" and days:
            raise Refusal("`--delete-messages` deletes chat messages, but this block is for "
                          "GitHub only.", "Add `--chat`, or leave `--delete-messages` out.")
        return days

    def _choose(self, subject: Subject,
                request: BlockRequest) -> tuple[tuple[Account, ...], list[str]]:
        """The accounts to block, and what is left out and why."""
        want_github = request.github or not request.chat
        want_chat = request.chat or not request.github
        has_github = subject.login is not None
        if request.github and not has_github:
            raise Refusal(f"{subject.label} has no GitHub login that Roadie knows.",
                          "Leave out `--github`, or name the GitHub login as the target.")
        if request.chat and not subject.chat_accounts:
            raise Refusal(f"{subject.label} has no chat account that Roadie knows.",
                          "Name the chat account (a mention) as the target, or leave out "
                          "`--chat`.")
        chosen: list[Account] = []
        skipped: list[str] = []
        for account in subject.accounts:
            is_github = account.platform == GITHUB
            if (is_github and not want_github) or (not is_github and not want_chat):
                continue
            if is_github and self.ctx.github is None:
                skipped.append(f"GitHub: {account.label} is NOT blocked: Roadie has no GitHub "
                               "token configured.")
            elif not is_github and account.platform not in self.ctx.chat:
                skipped.append(f"{platform_name(account.platform)}: {account.label} is NOT "
                               f"banned: Roadie is not connected to {account.platform}.")
            else:
                chosen.append(account)
        if not chosen:
            raise Refusal(f"Roadie cannot block {subject.label} anywhere. " + " ".join(skipped),
                          "Name an account on a platform Roadie serves.")
        return tuple(chosen), skipped

    def _check_rate(self, session: Session, requester: Requester, now: datetime) -> None:
        limit, window = self.settings.rate_limit, self.settings.rate_window
        since = now - window
        actor = Actor(requester.name)
        done = cases.blocks_since(session, actor, since)
        if done >= limit:
            oldest = cases.oldest_block_since(session, actor, since) or now
            raise Forbidden(
                f"You have made {done} blocks in the last {format_duration(window)}; the limit "
                f"is {limit}.",
                f"You can block again at {when(oldest + window)}. If more are needed now, ask "
                "another moderator; if this was not you, tell an admin at once.")

    def _notice_by_outbox(self, session: Session, case: ModerationCase, subject: Subject,
                          chosen: Sequence[Account]) -> None:
        """A person blocked on GitHub but not banned in chat hears of it in chat, by the outbox."""
        notice = self.notice(case)
        if notice is None or subject.profile.login is None:
            return
        if any(a.platform != GITHUB for a in chosen):
            return  # the chat bans tell them, just before they happen
        self.ctx.outbox.post_to_person(session, subject.profile.login, notice,
                                       key=f"moderation:{case.id}:notice")

    def notice(self, case: ModerationCase) -> Message | None:
        text = self.settings.appeal_message
        if not text.strip():
            return None
        body = text.format(org=self.ctx.org, case=case.id, reason=case.reason,
                           how=how_to_appeal(self.settings, self.ctx.org, case.id or 0))
        return Message(title=f"Case #{case.id}", body=body, tone="warning")

    def _announce_awaiting(self, session: Session, case: ModerationCase,
                           subject: Subject) -> None:
        body = (f"{who(case.actor)} asks to block {subject.label}: {case.reason}\n"
                f"A second moderator must confirm, because {case.standing}.\n"
                f"{expiry_line(case, case.created_at)} Confirm by {when(case.confirm_by)}, or "
                "nothing is blocked.")
        message = Message(title=f"Case #{case.id}: block of {case.subject} needs a second "
                                "moderator", body=body, tone="warning",
                          choices=(Choice("Confirm", f"/block confirm {case.id}", "danger"),))
        self.ctx.outbox.post(session, "moderators", message, key=self._request_key(case))
        self.ctx.outbox.post(session, "modlog", Message(title=message.title, body=body,
                                                        tone="warning"),
                             key=f"moderation:{case.id}:awaiting")

    @staticmethod
    def _request_key(case: ModerationCase) -> str:
        return f"moderation:{case.id}:confirm"

    def _close_request(self, session: Session, case: ModerationCase, message: Message) -> None:
        """Replace the request for a second moderator (and its Confirm choice) by its outcome."""
        self.ctx.outbox.edit(session, "moderators", self._request_key(case), message)

    def _awaiting_reply(self, case: ModerationCase, skipped: list[str]) -> str:
        lines = [f"Case #{case.id}: nothing is blocked yet. Blocking {case.subject} needs a "
                 f"second moderator, because {case.standing}.",
                 f"Another moderator confirms with `/block confirm {case.id}` by "
                 f"{when(case.confirm_by)}; the moderators channel has been asked.", *skipped]
        return "\n".join(lines)

    # --- /block confirm ------------------------------------------------------------------

    async def confirm(self, requester: Requester, number: int, now: datetime) -> str:
        def transact(session: Session) -> Any:
            self._check_rate(session, requester, now)
            cases.get_case(session, number)  # NotFound before anything else
            held = cases.accounts_of(session, number)
            subject = resolve(session, held[0].platform, held[0].account)
            refuse_protected(subject, requester, self.ctx.bot_login)
            case = cases.confirm_case(session, number=number, actor=Actor(requester.name),
                                      now=now, hold=CLAIM)
            rows = cases.accounts_of(session, number)
            self._close_request(session, case, Message(
                title=f"Case #{number}: block of {case.subject}, confirmed by "
                      f"{who(requester.name)}", body=f"By {who(case.actor)}: {case.reason}",
                tone="info"))
            self._notice_by_outbox(session, case, subject,
                                   [Account(r.platform, r.account) for r in rows])
            return case, rows
        case, rows = await self.ctx.db.run(transact)
        steps = [Step.of(row, case, cases.BLOCK) for row in rows]
        return await self._act_and_report(
            case, steps, [], title=f"Case #{case.id}: block of {case.subject}, confirmed by "
                                   f"{who(requester.name)}")

    # --- /unblock --------------------------------------------------------------------------

    async def unblock(self, requester: Requester, target: Target, reason: str,
                      now: datetime) -> str:
        if not reason.strip():
            raise Refusal("An unblock needs a reason.", "`/unblock <target> <reason>`.")
        actor, by = Actor(requester.name), who(requester.name)
        def transact(session: Session) -> Any:
            subject = resolve(session, target.platform, target.id)
            case = cases.holding_case(session, subject.accounts)
            if case is None:
                rows = cases.retry_failed_lifts(session, accounts=subject.accounts, actor=actor,
                                                reason=reason.strip(), now=now, hold=CLAIM)
                if not rows:
                    raise Refusal(f"{subject.label} is not blocked by any open case.",
                                  f"`/cases {subject.label}` shows its history. A block made by "
                                  "hand on GitHub or in chat is lifted there.")
                case = cases.get_case(session, rows[0].case_id)
                title = f"Case #{case.id}: {case.subject}, lift tried again by {by}"
            elif case.state == AWAITING:
                rows = cases.lift_case(session, case=case, actor=actor, reason=reason.strip(),
                                       now=now)
                title = f"Case #{case.id}: withdrawn by {by}"
                self._close_request(session, case, Message(
                    title=title, body=f"Nothing was blocked. {reason.strip()}", tone="info"))
            else:
                rows = cases.lift_case(session, case=case, actor=actor, reason=reason.strip(),
                                       now=now, hold=CLAIM)
                title = f"Case #{case.id}: {case.subject} unblocked by {by}"
            return case, rows, title
        case, rows, title = await self.ctx.db.run(transact)
        steps = [Step.of(row, case, cases.UNBLOCK) for row in rows]
        return await self._act_and_report(case, steps, [], title=title, lifting=True)

    # --- acting and reporting --------------------------------------------------------------

    async def _act_and_report(self, case: ModerationCase, steps: list[Step], skipped: list[str],
                              *, title: str, lifting: bool = False) -> str:
        notice = self.notice(case)
        results = await perform_all(self.ctx, steps, {case.id: notice} if notice else {})
        now = self.ctx.clock.now()
        assert case.id is not None
        case_id = case.id

        def record_and_report(session: Session) -> list[str]:
            for step, attempt, _told in results:
                cases.record_attempt(session, account_id=step.account_id, op=step.op,
                                     attempt=attempt, now=now, policy=self.policy)
            case = cases.get_case(session, case_id)
            rows = cases.accounts_of(session, case_id)
            lines = self._lines(rows, results, skipped)
            header = (f"Lifted: {case.lift_reason}" if lifting else
                      f"By {who(case.actor)}: {case.reason}\n{expiry_line(case, now)}")
            self.ctx.outbox.post(session, "modlog", Message(
                title=title, body=header + "\n" + "\n".join(lines), tone=tone_of(rows)))
            return lines

        lines = await self.ctx.db.run(record_and_report)
        return "\n".join([title + ".", *lines])

    def _lines(self, rows: Sequence[CaseAccount],
               results: Sequence[tuple[Step, Attempt, str]] = (),
               skipped: Sequence[str] = ()) -> list[str]:
        told = {step.account_id: note for step, _attempt, note in results if note}
        lines = []
        for row in rows:
            line = account_line(row, self.ctx.org, give_up_after=self.policy.give_up_after)
            if row.id in told:
                line += f" ({told[row.id]}.)"
            lines.append(line)
        return [*lines, *skipped]

    # --- the sweep -------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Lapse, expire, and retry what is due; report what settled."""
        now = self.ctx.clock.now()

        def lapse(session: Session) -> None:
            for case in cases.lapse_due(session, now):
                message = Message(
                    title=f"Case #{case.id}: lapsed, nothing was blocked",
                    body=f"Nobody confirmed the block of {case.subject} by {who(case.actor)} "
                         f"by {when(case.confirm_by)}. Reason given: {case.reason}",
                    tone="info")
                self.ctx.outbox.post(session, "modlog", message,
                                     key=f"moderation:{case.id}:lapsed")
                self._close_request(session, case, message)

        await self.ctx.db.run(lapse)
        await self.ctx.db.run(lambda session: cases.expire_due(session, now))
        steps = await self.ctx.db.run(lambda session: self._claim_due(session, now))
        if steps:
            await self._retry(steps)

    @staticmethod
    def _claim_due(session: Session, now: datetime) -> list[Step]:
        steps = []
        for row in cases.due_accounts(session, now):
            assert row.id is not None
            claimed = cases.claim(session, row.id, now=now, hold=CLAIM)
            if claimed is None:
                continue
            case = cases.get_case(session, claimed.case_id)
            op = cases.BLOCK if claimed.state == PENDING else cases.UNBLOCK
            steps.append(Step.of(claimed, case, op))
        return steps

    async def _retry(self, steps: list[Step]) -> None:
        def notices_of_cases(session: Session) -> dict[int, Message]:
            notices = {}
            for case_id in {s.case_id for s in steps}:
                notice = self.notice(cases.get_case(session, case_id))
                if notice is not None:
                    notices[case_id] = notice
            return notices

        notices = await self.ctx.db.run(notices_of_cases)
        results = await perform_all(self.ctx, steps, notices)
        now = self.ctx.clock.now()

        def record_and_report(session: Session) -> None:
            settled: dict[int, list[CaseAccount]] = {}
            for step, attempt, _told in results:
                row = cases.record_attempt(session, account_id=step.account_id, op=step.op,
                                           attempt=attempt, now=now, policy=self.policy)
                if row is not None and row.state in FINAL:
                    settled.setdefault(step.case_id, []).append(row)
            for case_id, rows in sorted(settled.items()):
                self._report_settled(session, cases.get_case(session, case_id), rows, results)

        await self.ctx.db.run(record_and_report)

    def _report_settled(self, session: Session, case: ModerationCase, rows: list[CaseAccount],
                        results: Sequence[tuple[Step, Attempt, str]]) -> None:
        ran_out = case.lifted_by == Actor.system().name and case.lift_reason == cases.RAN_OUT
        if ran_out:
            title = f"Case #{case.id}: the block of {case.subject} ran out"
        else:
            title = f"Case #{case.id}: {case.subject}, update"
        message = Message(title=title, body="\n".join(self._lines(rows, results)),
                          tone=tone_of(rows))
        self.ctx.outbox.post(session, "modlog", message)
        login = login_of(case.actor)
        if login is not None and not ran_out:
            self.ctx.outbox.post_to_person(session, login, message)

    async def log_refusal(self, requester: Requester, command: str, subject: str,
                          refusal: Refusal) -> None:
        """Every refused block, confirmation or unblock goes on record, and to the modlog."""
        now = self.ctx.clock.now()

        def record(session: Session) -> None:
            cases.record_refusal(session, actor=Actor(requester.name), subject=subject,
                                 command=command, reason=refusal.reason, now=now)
            self.ctx.outbox.post(session, "modlog", Message(
                title=f"Refused: {who(requester.name)}'s `{command}`",
                body=f"{refusal.reason} {refusal.hint}".strip(), tone="danger"))

        await self.ctx.db.run(record)

    # --- reading -------------------------------------------------------------------------

    def details(self, session: Session, number: int, now: datetime) -> str:
        case = cases.get_case(session, number)
        return case_details(case, cases.accounts_of(session, number),
                            cases.amendments_of(session, number),
                            cases.appeals_of(session, number), org=self.ctx.org, now=now,
                            give_up_after=self.policy.give_up_after)
