"""What follows an election: the elected lead added to the project's leads team on GitHub,
retried on failure, followed through an invitation to the org when they were not a member,
and escalated to the admins when Roadie cannot do it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.core.cog import CogContext
from bot.core.messages import Message
from bot.core.ports import PlatformError, TeamMembership
from cogs.voting import render
from cogs.voting.admins import ask_the_admins
from cogs.voting.settings import VotingSettings
from governance.durations import format_duration
from governance.votes import closing, service
from governance.votes.models import Vote

FOLLOW_UP_ATTEMPTS = 6


class Appointments:
    """The voting cog's follow-ups of elections, run by its job (`follow_up`,
    `check_invitations`) and by GitHub's membership events (`joined`)."""

    def __init__(self, ctx: CogContext, settings: VotingSettings, log: logging.Logger) -> None:
        self.ctx = ctx
        self.settings = settings
        self.log = log

    def summary(self, vote: Vote) -> str:
        """What the admins are asked to do when Roadie cannot add the elected lead."""
        team = self.settings.team(self.settings.leads_team, vote.project)
        return (f"Vote #{vote.number} elected {vote.subject} as a lead of {vote.project}: add "
                f"them to the GitHub team {team} (Roadie could not do it itself).")

    async def follow_up(self, now: datetime) -> None:
        """Add elected leads to the project's leads team on GitHub, retrying on failure;
        what Roadie cannot do goes to the admins as an escalation. Someone who is not an org
        member is only invited by GitHub: that is said, and followed (`joined`,
        `check_invitations`) until they accept or the invitation expires."""
        due = await self.ctx.db.run(lambda session: [
            (v.number, v.project, v.subject, v.follow_up_attempts)
            for v in closing.due_follow_ups(session, now=now)])
        for number, project, nominee, attempts in due:
            assert number is not None
            team = self.settings.team(self.settings.leads_team, project)
            outcome = await self._add_to_team(team, nominee)
            await self.ctx.db.run(lambda session, number=number, team=team, outcome=outcome,
                                  attempts=attempts: self._followed_up(
                                      session, number, team, outcome, attempts, now))

    def _followed_up(self, session: Session, number: int, team: str,
                     outcome: TeamMembership | PlatformError, attempts: int,
                     now: datetime) -> None:
        vote = service.require_vote(session, number)
        if outcome == "active":
            self._joined(session, vote, team, now, accepted=False)
        elif outcome == "pending":
            self._invited(session, vote, team, now)
        elif outcome.permanent or attempts + 1 >= FOLLOW_UP_ATTEMPTS:
            note = ask_the_admins(self.ctx, self.settings, session, vote, self.summary(vote)
                                  + f" GitHub answered: {outcome.detail}")
            closing.follow_up_finished(session, number=number, escalated=True, note=note,
                                       now=now)
        else:
            retry = timedelta(seconds=outcome.retry_after or 60 * 2 ** attempts)
            closing.follow_up_failed(session, number=number, error=outcome.detail, now=now,
                                     retry_in=retry)
            self.log.warning("adding %s to %s failed (%s); retrying in %s", vote.subject,
                             team, outcome.detail, retry)

    async def _add_to_team(self, team: str, login: str) -> TeamMembership | PlatformError:
        if self.ctx.github is None:
            return PlatformError("github", "Roadie has no GitHub token", permanent=True)
        try:
            return await self.ctx.github.add_team_member(team, login)
        except PlatformError as error:
            return error

    def _joined(self, session: Session, vote: Vote, team: str, now: datetime, *,
                accepted: bool) -> None:
        assert vote.number is not None
        closing.follow_up_finished(session, number=vote.number, escalated=False,
                                   note=f"added to the team {team}", now=now)
        how = "accepted the invitation and " if accepted else ""
        self.ctx.outbox.post(session, self.ctx.destinations.for_project(vote.project),
                             Message(body=f"{vote.subject} {how}is now in the GitHub team "
                                          f"{team}, as vote #{vote.number} decided.",
                                     tone="success"),
                             key=f"vote:{vote.number}:team")

    def _invited(self, session: Session, vote: Vote, team: str, now: datetime) -> None:
        assert vote.number is not None
        wait = self.settings.invitation_expires_after
        closing.follow_up_invited(session, number=vote.number, team=team, now=now,
                                  check_at=now + wait)
        self.ctx.outbox.post(session, self.ctx.destinations.for_project(vote.project), Message(
            body=f"{vote.subject} was invited to the GitHub org {self.ctx.org}, as vote "
                 f"#{vote.number} decided: they join the team {team} when they accept the "
                 f"invitation (Roadie waits for it until {render.when(now + wait)}).",
            tone="info"),
            key=f"vote:{vote.number}:invited")

    def joined(self, session: Session, login: str, team: str, now: datetime) -> bool:
        """`login` joined the org (`team` empty) or `team`: the votes that elected them and
        waited for it are done. True when there was one."""
        acted = False
        for vote in closing.invitations_of(session, login):
            leads = self.settings.team(self.settings.leads_team, vote.project)
            if not team or team.lower() == leads:
                self._joined(session, vote, leads, now, accepted=True)
                acted = True
        return acted

    async def check_invitations(self, now: datetime) -> None:
        """Invitations whose time is up: asked of GitHub once more (a webhook may have been
        missed), then told as accepted, or as expired and escalated to the admins."""
        due = await self.ctx.db.run(lambda session: [
            (v.number, v.project, v.subject) for v in closing.due_invitations(session, now=now)])
        for number, project, nominee in due:
            assert number is not None
            team = self.settings.team(self.settings.leads_team, project)
            try:
                state = await self._membership(team, nominee)
            except PlatformError as error:
                wait = timedelta(seconds=error.retry_after or 3600)
                await self.ctx.db.run(lambda session, number=number, error=error, wait=wait:
                                      closing.follow_up_failed(
                                          session, number=number, error=error.detail, now=now,
                                          retry_in=wait))
                continue
            await self.ctx.db.run(lambda session, number=number, team=team, state=state:
                                  self._invitation_ended(session, number, team, state, now))

    def _invitation_ended(self, session: Session, number: int, team: str,
                          state: TeamMembership | None, now: datetime) -> None:
        vote = service.require_vote(session, number)
        if state == "active":
            self._joined(session, vote, team, now, accepted=True)
            return
        wait = format_duration(self.settings.invitation_expires_after)
        self.ctx.outbox.post(session, self.ctx.destinations.for_project(vote.project),
                             Message(body=f"{vote.subject} did not accept the invitation to the "
                                          f"GitHub org {self.ctx.org} within {wait}, so is not "
                                          f"in the team {team}; an admin is asked to sort it "
                                          "out.", tone="warning"),
                             key=f"vote:{number}:expired")
        note = ask_the_admins(self.ctx, self.settings, session, vote, self.summary(vote)
                              + " Their invitation to the org expired unanswered.")
        closing.follow_up_finished(session, number=number, escalated=True, note=note, now=now)

    async def _membership(self, team: str, login: str) -> TeamMembership | None:
        if self.ctx.github is None:
            raise PlatformError("github", "Roadie has no GitHub token", permanent=True)
        return await self.ctx.github.team_membership(team, login)
