"""The voting cog: nominations, disputes, ballots, concerns and the close; what follows an
election is in `cogs.voting.appointment`."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.core.cog import Cog, DigestSection, Job, completer, on_github
from bot.core.commands import Arg, Invocation, Text, Withdrawn, command
from bot.core.events import GitHubEvent
from bot.core.messages import Message, Reply
from bot.core.ports import PlatformError
from cogs.escalation.api import known_kinds
from cogs.voting import render
from cogs.voting.admins import ask_the_admins
from cogs.voting.appointment import Appointments
from cogs.voting.ballots import BallotBox, Counted, Outcome, Waiting
from cogs.voting.commits import parse_commit
from cogs.voting.electorate import read_electorate
from cogs.voting.settings import VotingSettings
from governance.errors import Refusal
from governance.people.roles import Role
from governance.people.service import profile_for_login
from governance.projects.service import require_project
from governance.votes import closing, service
from governance.votes.casting import BallotRequest, Casting, cast_many
from governance.votes.models import DISPUTE, NOMINATION, OPEN, PENDING, Concern, Vote
from governance.votes.rules import PASSED, Rules

NUMBER = Arg("number", "the vote's number", kind="int", autocomplete="votes")
DIGEST_HORIZON = timedelta(hours=24)
DIGEST_ORDER = 30


def status_key(number: int) -> str:
    return f"vote:{number}:status"


class VotingCog(Cog):
    name = "voting"
    Settings = VotingSettings
    settings: VotingSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stale: set[int] = set()
        self._refreshing: dict[int, asyncio.Task[None]] = {}
        self._ballot_box = BallotBox(self._cast_together)
        self.appointments = Appointments(self.ctx, self.settings, self.log)

    async def start(self) -> None:
        kinds = known_kinds(self.ctx)
        if kinds is None:
            self.log.warning("the escalation cog is not loaded: reverts and appointments that "
                             "need an admin are posted to the admins instead")
        elif self.settings.escalation_kind not in kinds:
            self.log.warning("voting.escalation_kind %r is not among the [escalations] kinds; "
                             "reverts and appointments are posted to the admins instead",
                             self.settings.escalation_kind)

    def jobs(self) -> list[Job]:
        return [Job("voting.tick", self.tick, every=self.settings.check_interval)]

    # --- opening -------------------------------------------------------------------------

    @command("nominate", "Nominate someone as a lead of a project",
             Arg("login", "the nominee's GitHub login", kind="login"),
             Arg("project", "the project", autocomplete="projects"),
             Text("reason", "why they should lead it"), role=Role.MEMBER)
    async def nominate(self, call: Invocation, login: str, project: str, reason: str) -> str:
        proposer = call.require_linked()
        member = await self._check_nominee(login)
        rules = self.settings.nomination
        name = await self._project_name(project)
        reply = await self._open(call, service.Proposal(
            kind=NOMINATION, project=name, subject=login, reason=reason,
            proposer=proposer, rules=rules.rules(), electorate=(),
            nominee_accepts=rules.nominee_accepts))
        if not member:
            reply += (f" {login} is not a member of {self.ctx.org} yet: if elected, GitHub "
                      "will invite them to the org, and they join the leads team when they "
                      "accept the invitation.")
        return reply

    @command("dispute", "Open a vote on a push that skipped review: revert it, or keep it",
             Arg("project", "the project", autocomplete="projects"),
             Arg("commit", "the commit's sha or its GitHub URL"),
             Text("reason", "what is wrong with it"), role=Role.MEMBER)
    async def dispute(self, call: Invocation, project: str, commit: str, reason: str) -> str:
        proposer = call.require_linked()
        name = await self._project_name(project)
        sha = parse_commit(commit, org=self.ctx.org, project=name)
        return await self._open(call, service.Proposal(
            kind=DISPUTE, project=name, subject=sha, reason=reason, proposer=proposer,
            rules=self.settings.dispute.rules(), electorate=()))

    async def _open(self, call: Invocation, proposal: service.Proposal) -> str:
        voters = await read_electorate(self.ctx, self.settings, proposal.rules, proposal.project)
        proposal = service.Proposal(**{**proposal.__dict__, "electorate": tuple(voters)})

        def open_and_tell(session: Session) -> tuple[Vote, bool]:
            vote = service.open_vote(session, proposal, now=call.now,
                                     accept_within=self.settings.nomination.accept_within,
                                     remind_before=self.settings.remind_before)
            self._show_status(session, vote, call.now, first=True)
            told = vote.state != PENDING or self.ctx.outbox.post_to_person(
                session, vote.subject, render.nominee_request(vote),
                key=f"vote:{vote.number}:ask")
            return vote, told

        vote, told = await self.ctx.db.run(open_and_tell)
        reply = render.opened_reply(vote)
        if not told:
            reply += (f" {vote.subject} has no chat account linked to Roadie, so could not be "
                      f"told: point them to `/vote accept {vote.number}`.")
        return reply

    async def _project_name(self, project: str) -> str:
        return await self.ctx.db.run(lambda session: require_project(session, project).name)

    async def _check_nominee(self, login: str) -> bool:
        """Whether the nominee is an org member. With GitHub, someone who is not can be
        nominated (the team invites them, see `follow_up`), but must be a GitHub user."""
        if self.ctx.github is None:
            if await self.ctx.db.run(
                    lambda session: profile_for_login(session, login).at_least(Role.MEMBER)):
                return True
            raise Refusal(f"{login} is not a member of {self.ctx.org}; only members can lead "
                          "a project.", "Check the spelling of the login.")
        try:
            if await self.ctx.github.is_org_member(login):
                return True
            known = await self.ctx.github.get_user(login) is not None
        except PlatformError as error:
            raise Refusal(f"GitHub did not answer whether {login} is a member "
                          f"({error.detail}).", "Try again in a minute.") from None
        if not known:
            raise Refusal(f"{login} is no GitHub user, so cannot lead a project of "
                          f"{self.ctx.org}.", "Check the spelling of the login.")
        return False

    # --- the nominee ---------------------------------------------------------------------

    @command("vote accept", "Accept your nomination: the ballot opens", NUMBER,
             role=Role.MEMBER)
    async def accept(self, call: Invocation, number: int) -> str:
        login = call.require_linked()

        def accept(session: Session) -> Vote:
            vote = service.accept(session, number=number, login=login, now=call.now,
                                  remind_before=self.settings.remind_before)
            self._show_status(session, vote, call.now)
            return vote

        vote = await self.ctx.db.run(accept)
        assert vote.closes_at is not None
        return (f"You accepted nomination #{number}; the ballot is open until "
                f"{render.when(vote.closes_at)}.")

    @command("vote decline", "Decline your nomination", NUMBER,
             Text("reason", "why, if you like", optional=True), role=Role.MEMBER)
    async def decline(self, call: Invocation, number: int, reason: str) -> str:
        login = call.require_linked()
        def transact(session: Session) -> None:
            vote = service.decline(session, number=number, login=login, reason=reason,
                                   now=call.now)
            self._show_status(session, vote, call.now)
        await self.ctx.db.run(transact)
        return f"You declined nomination #{number}; it is closed without a ballot."

    # --- ballots -------------------------------------------------------------------------

    @command("vote cast", "Cast or change your ballot, or show a vote", NUMBER,
             Arg("choice", "+1, 0 or -1; on a dispute, an option", optional=True),
             Text("reason", "why (a -1 under consensus needs one)", optional=True),
             role=Role.MEMBER, group_default=True)
    async def cast(self, call: Invocation, number: int, choice: str | None,
                   reason: str) -> Reply | Message:
        if not choice:
            return await self._status_of(number, call.now)
        if not call.profile.login and not call.private:
            # Refused either way, but a secret ballot typed in public is withdrawn first.
            await self.ctx.db.run(
                lambda session: self._refuse_public_secret_ballot(session, number))
        counted = await self._ballot_box.cast(number, BallotRequest(
            call.require_linked(), choice, reason, call.now), private=call.private)
        casting, settled = counted.casting, counted.settled
        reply = render.casting_reply(casting.vote, casting.ballot, casting.previous,
                                     casting.rules, closing=settled)
        if not settled:
            self._status_soon(number)
        else:
            await self.close_vote(number, call.now)
            reply += f" Everyone has voted and nothing can change the outcome: vote #{number} " \
                     "is closed."
        # The reply says how one voted: on a secret vote, only the voter may read it.
        return Reply(text=reply, private=casting.rules.secret)

    async def _cast_together(self, number: int, batch: list[Waiting]) -> list[Outcome]:
        """Cast a batch of ballots on vote `number` in one transaction. Should it fail for
        another reason than a refusal, each ballot is cast again in a transaction of its
        own, so that one bad ballot costs the others nothing."""
        def transact(session: Session) -> list[Outcome]:
            secret = False
            if not all(waiting.private for waiting in batch):
                try:
                    self._refuse_public_secret_ballot(session, number)
                except Withdrawn:
                    secret = True
            outcomes: list[Outcome | None] = [None] * len(batch)
            todo = []
            for index, waiting in enumerate(batch):
                if secret and not waiting.private:
                    outcomes[index] = self._public_secret_ballot(number)
                else:
                    todo.append(index)
            try:
                results: list[Casting | Refusal] = cast_many(
                    session, number=number, requests=[batch[i].request for i in todo],
                    key=self.ctx.audit_key) if todo else []
            except Refusal as refusal:  # about the vote (changed nothing): each cast gets it
                if len(todo) == len(batch):
                    raise
                results = [refusal] * len(todo)
            cast = [i for i, result in zip(todo, results, strict=True)
                    if isinstance(result, Casting)]
            settled = bool(cast) and closing.early_close_due(session, number)
            for index, result in zip(todo, results, strict=True):
                outcomes[index] = (Counted(result, settled and index == cast[-1])
                                   if isinstance(result, Casting) else result)
            return [outcome for outcome in outcomes if outcome is not None]

        try:
            return await self.ctx.db.run(transact)
        except Refusal:
            raise
        except Exception:
            if len(batch) == 1:
                raise
            self.log.warning("vote #%s: %d ballots cast together failed; casting each alone",
                             number, len(batch), exc_info=True)
        alone: list[Outcome] = []
        for waiting in batch:
            try:
                alone += await self._cast_together(number, [waiting])
            except Exception as error:
                alone.append(error)
        return alone

    @staticmethod
    def _public_secret_ballot(number: int) -> Withdrawn:
        return Withdrawn(
            f"Vote #{number} is secret, and others can see this ballot here, so it was not "
            "counted.",
            f"Send `/vote {number} <choice> [reason]` to Roadie in a direct message (on "
            "Discord, the slash command or the status's buttons answer privately). Roadie "
            "deletes a ballot typed in public where it may; if yours is still there, delete "
            "it yourself.")

    @staticmethod
    def _refuse_public_secret_ballot(session: Session, number: int) -> None:
        """A secret ballot is cast only where nobody else sees it."""
        vote = service.require_vote(session, number)
        if Rules.from_data(vote.rules_data()).secret:
            raise VotingCog._public_secret_ballot(number)

    @command("votes", "List the open votes", role=Role.ANYONE)
    async def votes(self, call: Invocation) -> str:
        votes = await self.ctx.db.run(service.live_votes)
        return render.listing(votes, call.now)

    async def _status_of(self, number: int, now: datetime) -> Message:
        return await self.ctx.db.run(lambda session: self._status_message(
            session, service.require_vote(session, number), now))

    # --- concerns ------------------------------------------------------------------------

    @command("vote concern", "Raise a concern that holds the close until it is resolved",
             NUMBER, Text("name", "a short name for the concern"), role=Role.MEMBER)
    async def concern(self, call: Invocation, number: int, name: str) -> str:
        login = call.require_linked()

        def raise_concern(session: Session) -> Concern:
            concern = service.raise_concern(session, number=number, login=login, name=name,
                                            now=call.now)
            self._show_status(session, service.require_vote(session, number), call.now)
            return concern

        concern = await self.ctx.db.run(raise_concern)
        return (f"Concern {concern.name!r} holds vote #{number} until you or an admin resolve "
                f"it: `/vote resolve {number} {concern.name}`.")

    @command("vote resolve", "Resolve a concern on a vote", NUMBER,
             Text("name", "the concern's name"), role=Role.MEMBER)
    async def resolve(self, call: Invocation, number: int, name: str) -> str:
        login = call.require_linked()

        def resolve(session: Session) -> tuple[Concern, list[Concern], bool]:
            concern = service.resolve_concern(session, number=number, login=login, name=name,
                                              now=call.now)
            vote = service.require_vote(session, number)
            remaining = service.open_concerns(session, number)
            self._show_status(session, vote, call.now)
            due = vote.closes_at is not None and vote.closes_at <= call.now and not remaining
            return concern, remaining, due

        concern, remaining, due = await self.ctx.db.run(resolve)
        reply = f"Concern {concern.name!r} on vote #{number} is resolved."
        if remaining:
            reply += f" Still open: {', '.join(repr(c.name) for c in remaining)}."
        if due:
            await self.close_vote(number, call.now)
            reply += " Its deadline had passed: the vote is closed."
        return reply

    # --- admin and proposer --------------------------------------------------------------

    @command("vote refresh", "Read a vote's electorate again; ballots cast stay", NUMBER,
             role=Role.ADMIN)
    async def refresh(self, call: Invocation, number: int) -> str:
        login = call.require_linked()
        vote = await self.ctx.db.run(lambda session: service.require_vote(session, number))
        voters = await read_electorate(self.ctx, self.settings, Rules.from_data(vote.rules_data()),
                                       vote.project)

        def refresh(session: Session) -> tuple[set[str], set[str]]:
            vote, joined, left = service.refresh_electorate(session, number=number, login=login,
                                                           electorate=voters, now=call.now)
            self._show_status(session, vote, call.now)
            return joined, left

        joined, left = await self.ctx.db.run(refresh)
        change = []
        if joined:
            change.append("joined: " + ", ".join(sorted(joined)))
        if left:
            change.append("left: " + ", ".join(sorted(left)))
        return (f"Vote #{number} now has {len(voters)} binding voters"
                + (f" ({'; '.join(change)})" if change else ", as before")
                + ". Ballots already cast stay as they were.")

    @command("vote cancel", "Cancel a vote (its proposer or an admin)", NUMBER,
             Text("reason", "why it is cancelled"), role=Role.MEMBER)
    async def cancel(self, call: Invocation, number: int, reason: str) -> str:
        login = call.require_linked()
        def transact(session: Session) -> None:
            vote = service.cancel(session, number=number, login=login, reason=reason,
                                  now=call.now)
            self._show_status(session, vote, call.now)
        await self.ctx.db.run(transact)
        return f"Vote #{number} is cancelled."

    @completer("votes")
    async def complete_votes(self, prefix: str) -> list[tuple[str, str]]:
        votes = await self.ctx.db.run(service.live_votes)
        return [(f"#{v.number} {render.subject(v)}"[:100], str(v.number))
                for v in votes if str(v.number).startswith(prefix.lstrip("#"))]

    # --- the status message --------------------------------------------------------------

    def _status_message(self, session: Session, vote: Vote, now: datetime) -> Message:
        assert vote.number is not None
        message = render.status(vote, service.standing(session, vote),
                                service.open_concerns(session, vote.number), now)
        return replace(message, url=message.url or self.ctx.pages.to("votes",
                                                                     f"vote-{vote.number}"))

    def _status_soon(self, number: int) -> None:
        """Show a vote's new ballots in its status message, once for the many cast at the
        same moment: outside the ballot's transaction, which holds the vote's lock."""
        self._stale.add(number)
        if number not in self._refreshing:
            self._refreshing[number] = asyncio.create_task(self._refresh_status(number))

    async def _refresh_status(self, number: int) -> None:
        try:
            while number in self._stale:
                await asyncio.sleep(0)  # ballots cast meanwhile come along
                self._stale.discard(number)
                now = self.ctx.clock.now()
                await self.ctx.db.run(lambda session: self._show_status(
                    session, service.require_vote(session, number), now))
        except Exception:
            self.log.exception("vote #%s: the status message could not be updated", number)
        finally:
            self._refreshing.pop(number, None)

    async def settle(self) -> None:
        while self._refreshing:
            await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def stop(self) -> None:
        await self.settle()

    def _show_status(self, session: Session, vote: Vote, now: datetime, *,
                     first: bool = False) -> None:
        assert vote.number is not None
        message = self._status_message(session, vote, now)
        destination = self.ctx.destinations.for_project(vote.project)
        if first:
            self.ctx.outbox.post(session, destination, message, key=status_key(vote.number))
        else:
            self.ctx.outbox.edit(session, destination, status_key(vote.number), message)

    # --- the job: lapses, reminders, closes, follow-ups ----------------------------------

    async def tick(self) -> None:
        now = self.ctx.clock.now()
        def transact(session: Session) -> Any:
            for vote in service.lapse_unaccepted(session, now=now):
                self._show_status(session, vote, now)
            for vote, missing in service.due_reminders(session, now=now):
                self._remind(session, vote, missing, now)
            due = closing.due_to_close(session, now=now)
            return due
        due = await self.ctx.db.run(transact)
        for number in due:
            await self.close_vote(number, now)
        await self.appointments.follow_up(now)
        await self.appointments.check_invitations(now)

    def _remind(self, session: Session, vote: Vote, missing: list[str], now: datetime) -> None:
        """Remind each voter who has not voted; those without a chat account are named to
        the proposer (in the project's feed when the proposer cannot be reached either)."""
        unreached = [login for login in missing if not self.ctx.outbox.post_to_person(
            session, login, render.reminder(vote, now), key=f"vote:{vote.number}:remind:{login}")]
        if not unreached:
            return
        told = render.unreminded(vote, unreached, now)
        key = f"vote:{vote.number}:unreminded"
        if not self.ctx.outbox.post_to_person(session, vote.proposer, told, key=key):
            self.ctx.outbox.post(session, self.ctx.destinations.for_project(vote.project), told,
                                 key=key)

    async def close_vote(self, number: int, now: datetime) -> None:
        def transact(session: Session) -> Any:
            closed = closing.close(session, number=number, now=now, key=self.ctx.audit_key)
            if closed is None:
                return
            vote = closed.vote
            if closed.outcome is None:
                if closed.newly_held:
                    self._show_status(session, vote, now)
                return
            self._show_status(session, vote, now)
            destination = self.ctx.destinations.for_project(vote.project)
            self.ctx.outbox.post(session, destination,
                                 render.result(vote, service.ballots_of(session, number)),
                                 key=f"vote:{number}:result")
            if vote.kind == DISPUTE and vote.outcome in self.settings.dispute.escalate_on:
                ask_the_admins(self.ctx, self.settings, session, vote,
                               f"Vote #{number} decided to {vote.outcome} the direct push "
                               f"{vote.subject[:12]} to {vote.project}: "
                               f"{render.option_label(vote.outcome)}.")
            elif vote.kind == NOMINATION and vote.outcome == PASSED and self.ctx.github is None:
                note = ask_the_admins(self.ctx, self.settings, session, vote,
                                      self.appointments.summary(vote))
                closing.follow_up_finished(session, number=number, escalated=True, note=note,
                                           now=now)
        return await self.ctx.db.run(transact)

    @on_github("membership", "organization")
    async def joined(self, event: GitHubEvent) -> bool:
        """An invited lead accepted: GitHub adds them to the org (`organization`
        member_added) and makes their team memberships active (`membership` added)."""
        if event.event == "membership" and event.action == "added":
            login, team = event.text("member", "login"), event.text("team", "slug")
        elif event.event == "organization" and event.action == "member_added":
            login, team = event.text("membership", "user", "login"), ""
        else:
            return False
        if not login:
            return False
        now = self.ctx.clock.now()
        return await self.ctx.db.run(
            lambda session: self.appointments.joined(session, login, team, now))

    # --- the digest ----------------------------------------------------------------------

    def digest_sections(self, session: Session, *, now: datetime,
                        since: datetime) -> list[DigestSection]:
        live = service.live_votes(session)
        closing_soon = [render.digest_line(v, now, service.standing(session, v, latest=0))
                        for v in live if v.state == OPEN and v.closes_at is not None
                        and v.closes_at <= now + DIGEST_HORIZON]
        waiting = [render.waiting_line(v, now) for v in live if v.state == PENDING]
        decided = [render.digest_line(v, now, None) for v in service.closed_since(session, since)]
        return [DigestSection("Votes closing within 24h", tuple(closing_soon), order=DIGEST_ORDER),
                DigestSection("Nominations waiting for the nominee", tuple(waiting),
                              order=DIGEST_ORDER),
                DigestSection("Votes decided in the last day", tuple(decided),
                              order=DIGEST_ORDER + 1)]


COG = VotingCog
