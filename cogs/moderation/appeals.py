"""Appeals: filed on GitHub (an issue from the appeal template in the appeals repository) or
in chat (`/appeal <why>`), queued for the moderators (`/appeals`), decided with
`/appeal decide <case> uphold|lift <reason>`, and told to the person where they appealed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.commands import parse_target
from bot.core.events import GitHubEvent
from bot.core.messages import Message
from bot.core.ports import PlatformError
from cogs.moderation.blocking import Blocker
from cogs.moderation.render import who
from cogs.moderation.settings import ModerationSettings
from governance.audit import Actor
from governance.errors import Refusal
from governance.moderation import appeals
from governance.moderation.models import AppealRequest, ModerationCase
from governance.moderation.subjects import Requester

log = logging.getLogger("roadie.moderation.appeals")
EXCERPT = 300


def _excerpt(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT else line[:EXCERPT - 1] + "…"


class Appeals:
    def __init__(self, ctx: CogContext, settings: ModerationSettings, blocker: Blocker) -> None:
        self.ctx = ctx
        self.settings = settings
        self.blocker = blocker

    # --- filing -------------------------------------------------------------------------

    def _announce(self, appeal: AppealRequest, case: ModerationCase) -> Message:
        where = f" ({appeal.issue_url})" if appeal.issue_url else " (in chat)"
        return Message(title=f"Appeal against case #{case.id}: {case.subject}",
                       body=f"{appeal.appellant} appeals{where}: {_excerpt(appeal.text)}\n"
                            f"The block: {case.reason}",
                       footer=f"`/appeal decide {case.id} uphold|lift <reason>` decides it.",
                       tone="warning")

    async def file_in_chat(self, login: str, text: str, now: datetime) -> str:
        def transact(session: Session) -> int:
            case = appeals.github_case(session, login)
            if case is None or case.id is None:
                raise Refusal(f"Roadie finds no open case that blocks {login}.",
                              "`/whoami` shows which accounts are yours; if another of your "
                              "accounts is blocked, name its case number to the moderators.")
            appeal = appeals.file(session, case=case, appellant=login, via="chat", text=text,
                                  now=now)
            self.ctx.outbox.post(session, "moderators", self._announce(appeal, case),
                                 key=f"moderation:{case.id}:appeal:{appeal.id}")
            return case.id

        number = await self.ctx.db.run(transact)
        return (f"Your appeal against case #{number} is with the moderators. Roadie tells you "
                "here when they decide.")

    def wanted(self, event: GitHubEvent) -> bool:
        repo = self.settings.appeals_repo_name(self.ctx.org)
        if not repo or event.action != "opened":
            return False
        if event.text("repository", "full_name").lower() != repo.lower():
            return False
        label = self.settings.appeal_label.lower()
        labels = event.get("issue", "labels")
        names = {str(x.get("name", "")).lower() for x in labels if isinstance(x, dict)} \
            if isinstance(labels, list) else set()
        return not label or label in names

    async def file_from_github(self, event: GitHubEvent) -> bool:
        """An issue opened from the appeal template: queue it and answer on the issue."""
        if not self.wanted(event):
            return False
        number = event.get("issue", "number")
        login = event.text("issue", "user", "login") or event.sender
        if not isinstance(number, int) or not login:
            return False
        repo = self.settings.appeals_repo_name(self.ctx.org)
        now = self.ctx.clock.now()
        text = event.text("issue", "body") or event.text("issue", "title")
        url = event.text("issue", "html_url")

        def transact(session: Session) -> str:
            appeal = appeals.by_issue(session, repo, number)
            answer = ""
            if appeal is None:
                case = appeals.github_case(session, login)
                try:
                    if case is None:
                        raise Refusal(f"Roadie finds no open case that blocks {login}.",
                                      "If another of your accounts is blocked, say which in "
                                      "this issue; a moderator will read it.")
                    appeal = appeals.file(session, case=case, appellant=login, via="github",
                                          text=text, now=now, issue_repo=repo,
                                          issue_number=number, issue_url=url)
                    self.ctx.outbox.post(session, "moderators", self._announce(appeal, case),
                                         key=f"moderation:{case.id}:appeal:{appeal.id}")
                except Refusal as refusal:
                    answer = f"{refusal.reason} {refusal.hint}".strip()
            if appeal is not None:
                answer = (f"Roadie has received your appeal against case #{appeal.case_id}. "
                          "The moderators decide; Roadie answers here.")
            return answer

        answer = await self.ctx.db.run(transact)
        try:
            await self._comment(repo, number, answer)
        except PlatformError as error:
            if not error.permanent:
                raise  # the delivery is retried; the appeal is filed once, by its issue
            log.warning("answering appeal issue %s#%s failed: %s", repo, number, error)
        return True

    async def _comment(self, repo: str, number: int, body: str, *, close: bool = False) -> None:
        """Answer on the appeal's issue (and close it)."""
        if self.ctx.github is None:
            raise PlatformError("github", "Roadie has no GitHub token", permanent=True)
        await self.ctx.github.comment_issue(repo, number, body)
        if close:
            await self.ctx.github.edit_issue(repo, number, state="closed")

    # --- the queue and the decision -------------------------------------------------------

    async def listing(self) -> str:
        waiting = await self.ctx.db.run(appeals.queue)
        if not waiting:
            return "No appeals are waiting."
        lines = [f"Appeals waiting ({len(waiting)}), oldest first:"]
        for appeal, case in waiting:
            where = appeal.issue_url or "in chat"
            lines.append(f"- case #{case.id} {case.subject} (blocked by {who(case.actor)}: "
                         f"{case.reason}): {appeal.appellant}, {appeal.filed_at:%Y-%m-%d}, "
                         f"{where}: {_excerpt(appeal.text)}")
        lines.append("`/appeal decide <case> uphold|lift <reason>` decides one.")
        return "\n".join(lines)

    async def decide(self, requester: Requester, actor: Actor, moderator: str, case_id: int,
                     decision: str, reason: str, now: datetime) -> str:
        def transact(session: Session) -> tuple[AppealRequest, str, Message, list[str]]:
            appeal, case = appeals.decide(session, case_id=case_id, decision=decision,
                                          reason=reason, actor=actor, now=now)
            verb = "lifted" if appeal.state == appeals.LIFTED else "upheld"
            told = Message(title=f"Your appeal against case #{case_id}: the block is {verb}",
                           body=f"{moderator} decided: {reason.strip()}",
                           tone="success" if verb == "lifted" else "info")
            self.ctx.outbox.post(session, "modlog", Message(
                title=f"Case #{case_id}: appeal by {appeal.appellant} {verb} by {moderator}",
                body=reason.strip()))
            reached = self.ctx.outbox.post_to_person(session, appeal.appellant, told,
                                                     key=f"moderation:{case_id}:appeal:"
                                                         f"{appeal.id}:decided")
            return appeal, case.subject, told, reached

        appeal, subject, told, reached = await self.ctx.db.run(transact)
        verb = "lifted" if appeal.state == appeals.LIFTED else "upheld"
        lines = [f"Case #{case_id}: the appeal by {appeal.appellant} is {verb}."]
        if appeal.state == appeals.LIFTED:
            try:
                lines.append(await self.blocker.unblock(requester, parse_target(subject),
                                                        f"appeal lifted: {reason.strip()}", now))
            except Refusal as refusal:
                lines.append(f"Lifting: {refusal.reason}")
        if appeal.issue_repo and appeal.issue_number is not None:
            try:
                await self._comment(appeal.issue_repo, appeal.issue_number,
                                    f"{told.title}. {told.body}", close=True)
                lines.append("The appeal's issue is answered and closed.")
            except PlatformError as error:
                lines.append(f"The appeal's issue could not be answered ({error}): answer "
                             f"on {appeal.issue_url or 'it'} by hand.")
        elif reached:
            lines.append(f"{appeal.appellant} is told by direct message.")
        else:
            lines.append(f"{appeal.appellant} has no chat account Roadie can reach: tell them.")
        return "\n".join(lines)
