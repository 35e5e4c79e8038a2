"""The GitHub feed cog: one handler per family of events, all through the outbox.

Every message is posted in the handler's transaction, with a key derived from the delivery,
so that handling a delivery again (after a crash or a retry) posts nothing twice. Events and
actions that no handler here shows are stored by the receiver and ignored on purpose.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from bot.config import ConfigError
from bot.core.cog import Cog, CogContext, every, on_github
from bot.core.events import GitHubEvent
from bot.core.messages import Message
from cogs.github_feed import checks, direct_push, items, news, pushes, security
from cogs.github_feed import formatting as fmt
from cogs.github_feed.router import Subject, accepts, destinations
from cogs.github_feed.settings import Settings
from governance.clock import aware
from governance.feed import service as feed
from governance.projects.service import find_project

REMEMBER_BURSTS = timedelta(days=2)
EDIT_WITHIN = timedelta(minutes=5)
"""A late label, assignment or review request edits the item's message when it was sent
this recently (Zulip lets a bot edit its messages for ten minutes); later, it is one
follow-up message."""


class GitHubFeedCog(Cog):
    name = "github_feed"
    Settings = Settings
    settings: Settings

    def __init__(self, ctx: CogContext, settings: Settings) -> None:
        super().__init__(ctx, settings)
        known = ctx.destinations.names
        problems = [f"github_feed.{key}: {value!r} is not a destination; known: "
                    f"{', '.join(sorted(known))}"
                    for key, value in (("org_destination", settings.org_destination),
                                       ("block_destination", settings.block_destination),
                                       ("ping_destination", settings.ping_destination),
                                       ("security_destination",
                                        settings.security_destination))
                    if value not in known]
        if problems:
            raise ConfigError(problems)

    # --- helpers ------------------------------------------------------------------------

    def _by_roadie(self, event: GitHubEvent) -> bool:
        return event.sender.lower() == self.ctx.bot_login.lower()

    def _subject(self, event: GitHubEvent, repo: str, *, branch: str = "",
                 labels: tuple[str, ...] | None = None, by_bot: bool | None = None) -> Subject:
        return Subject(event=event.event, action=event.action, repo=repo, branch=branch,
                       labels=labels,
                       by_bot=fmt.is_bot(event.sender, event.get("sender", "type"))
                       if by_bot is None else by_bot,
                       private=event.get("repository", "private") is True)

    async def _post_all(self, event: GitHubEvent, places: list[str], message: Message) -> bool:
        if not places:
            return False

        def post(session: Session) -> None:
            for place in places:
                self.ctx.outbox.post(session, place, message, key=f"feed:{event.delivery_id}:"
                                                                   f"{place}")

        await self.ctx.db.run(post)
        return True

    async def _default_branch(self, event: GitHubEvent, repo: str) -> str:
        branch = event.text("repository", "default_branch")
        if branch:
            return branch
        project = await self.ctx.db.run(lambda session: find_project(session, repo))
        return project.default_branch if project else ""

    # --- the webhook itself -------------------------------------------------------------

    @on_github("ping")
    async def ping(self, event: GitHubEvent) -> bool:
        return await self._post_all(event, [self.settings.ping_destination],
                                    news.render_ping(event))

    # --- code ---------------------------------------------------------------------------

    @on_github("push")
    async def push(self, event: GitHubEvent) -> bool:
        push = pushes.read_push(event)
        if push is None or self._by_roadie(event):
            return False
        verdict = None
        if direct_push.concerns(push, self.settings.direct_push,
                                await self._default_branch(event, push.repo)):
            verdict = await direct_push.check(push, self.ctx.github,
                                              received_at=event.received_at,
                                              now=self.ctx.clock.now())
        places = [] if push.ref_kind == "tag" else destinations(
            self.ctx.destinations.feeds,
            self._subject(event, push.repo, branch=push.name, by_bot=push.pusher_is_bot))
        if verdict is not None:
            project_feed = self.ctx.destinations.for_project(push.repo)
            places += [project_feed] if project_feed not in places else []
        if not places:
            return False
        message = pushes.render_push(push, self.settings.max_commits, verdict)
        gather = pushes.gathers(push, verdict)

        def transact(session: Session) -> None:
            for place in places:
                if gather:
                    self._gather_push(session, place, push, event)
                else:
                    self.ctx.outbox.post(session, place, message,
                                         key=f"feed:{event.delivery_id}:{place}")
            if verdict is not None and verdict.direct:
                feed.record_direct_push(session, repo=push.repo, sha=push.head,
                                        branch=push.name, pusher=push.pusher,
                                        commits=[c.sha for c in push.commits],
                                        now=self.ctx.clock.now())
        await self.ctx.db.run(transact)
        return True

    def _gather_push(self, session: Session, place: str, push: pushes.Push,
                     event: GitHubEvent) -> None:
        """Add the push to the open burst of its branch, or open one with a message that
        waits until the burst window closes."""
        now = self.ctx.clock.now()
        recent = feed.recent_bursts(session, destination=place, repo=push.repo, number=0,
                                    ref=push.name, since=now - REMEMBER_BURSTS)
        if any(feed.holds(burst, event.delivery_id) for burst in recent):
            return
        current = next((burst for burst in recent if feed.is_open(burst, now)), None)
        limit = self.settings.max_commits
        if current is not None:
            state = pushes.merge(feed.burst_state(current), push)
            if self.ctx.outbox.revise(session, current.message_key,
                                      pushes.render_gathered(state, limit)):
                feed.add_to_burst(current, state=state, delivery_id=event.delivery_id)
                return
        state = pushes.new_state(push)
        key = f"feed:{event.delivery_id}:{place}"
        closes_at = feed.start_burst(session, destination=place, repo=push.repo, number=0,
                                     ref=push.name, key=key, now=now,
                                     window=self.settings.burst_window, state=state,
                                     delivery_id=event.delivery_id)
        self.ctx.outbox.post(session, place, pushes.render_gathered(state, limit), key=key,
                             not_before=closes_at)

    @on_github("create", "delete")
    async def ref_changed(self, event: GitHubEvent) -> bool:
        message = pushes.render_ref(event)
        if message is None or self._by_roadie(event):
            return False
        places = destinations(self.ctx.destinations.feeds,
                              self._subject(event, fmt.repo_name(event)))
        return await self._post_all(event, places, message)

    # --- issues and pull requests -------------------------------------------------------

    @on_github("issues", "pull_request", "pull_request_review", "issue_comment")
    async def item_activity(self, event: GitHubEvent) -> bool:
        activity = items.activity(event, self.settings.excerpt_length)
        if activity is None or self._by_roadie(event):
            return False
        subject = self._subject(event, activity.repo, branch=activity.branch,
                                labels=activity.labels)
        places = destinations(self.ctx.destinations.feeds, subject)

        def gather(session: Session) -> bool:
            acted = False
            for place in places:
                here = activity
                if not activity.notable and self._label_opens(place, subject, activity):
                    here = items.labeled(activity, fmt.sender(event))
                acted = self._gather(session, place, here, event) or acted
            return acted

        return await self.ctx.db.run(gather)

    def _label_opens(self, place: str, subject: Subject, activity: items.ItemActivity) -> bool:
        """Whether the label just added is what lets a label-filtered feed of `place` see
        the item: that feed has not seen it before, so the labelling is news there."""
        if activity.detail is None or activity.detail[0] != "labels_added":
            return False
        label = activity.detail[1].lower()
        return any(f.destination == place and label in {x.lower() for x in f.labels}
                   and accepts(f, subject) for f in self.ctx.destinations.feeds)

    def _gather(self, session: Session, place: str, activity: items.ItemActivity,
                event: GitHubEvent) -> bool:
        """Add the activity to the open burst of its item, or open one with a message that
        waits until the burst window closes."""
        now = self.ctx.clock.now()
        recent = feed.recent_bursts(session, destination=place, repo=activity.repo,
                                    number=activity.number, since=now - REMEMBER_BURSTS)
        if any(feed.holds(burst, event.delivery_id) for burst in recent):
            return False
        current = next((burst for burst in recent if feed.is_open(burst, now)), None)
        if current is not None:
            state = items.merge(feed.burst_state(current), activity)
            if self.ctx.outbox.revise(session, current.message_key, items.render(state)):
                feed.add_to_burst(current, state=state, delivery_id=event.delivery_id)
                return True
        if not activity.notable:
            latest = current or (recent[0] if recent else None)
            if latest is None:
                return False  # a label alone on an item the feed has not told: not news
            if now - aware(latest.closes_at) <= EDIT_WITHIN:
                state = items.merge(feed.burst_state(latest), activity)
                self.ctx.outbox.edit(session, place, latest.message_key, items.render(state),
                                     key=f"{latest.message_key}:edit:{event.delivery_id}")
                feed.add_to_burst(latest, state=state, delivery_id=event.delivery_id)
                return True
        state = items.new_state(activity)
        key = f"feed:{event.delivery_id}:{place}"
        closes_at = feed.start_burst(session, destination=place, repo=activity.repo,
                                     number=activity.number, key=key, now=now,
                                     window=self.settings.burst_window, state=state,
                                     delivery_id=event.delivery_id)
        self.ctx.outbox.post(session, place, items.render(state), key=key, not_before=closes_at)
        return True

    @every("6h")
    async def forget_old_bursts(self) -> None:
        older_than = self.ctx.clock.now() - REMEMBER_BURSTS
        await self.ctx.db.run(lambda session: feed.prune_bursts(session, older_than=older_than))

    # --- CI -----------------------------------------------------------------------------

    @on_github("check_run", "check_suite", "workflow_run", "status")
    async def ci_completed(self, event: GitHubEvent) -> bool:
        run = checks.read_run(event)
        if run is None:
            return False
        places = destinations(self.ctx.destinations.feeds,
                              self._subject(event, run.repo, branch=run.branch, by_bot=False))
        if not places:
            return False
        def record_run(session: Session) -> bool:
            change = feed.record_ci_run(
                session, repo=run.repo, source=run.source, run_id=run.run_id,
                conclusion=run.conclusion, completed_at=run.completed_at,
                now=self.ctx.clock.now(), new_key=f"feed:ci:{event.delivery_id}",
                destinations=tuple(places), flap_window=self.settings.flap_window)
            if change is None or change.kind == "quiet":
                return False
            if change.kind == "new_failure":
                for place in change.destinations:
                    self.ctx.outbox.post(session, place, checks.render_failure(run, 1),
                                         key=f"{change.message_key}:{place}")
                return True
            if change.kind == "still_failing":
                message = checks.render_failure(run, change.failures)
            elif change.kind == "flapping":
                message = checks.render_flapping(run, change.flips)
            else:
                message = checks.render_fixed(run, change.failures, change.flips)
            for place in change.destinations:
                self.ctx.outbox.edit(session, place, f"{change.message_key}:{place}", message,
                                     key=f"{change.message_key}:{place}:{run.run_id}")
            return True

        return await self.ctx.db.run(record_run)

    # --- repositories and the org -------------------------------------------------------

    @on_github("release", "fork", "star", "repository", "member")
    async def repo_news(self, event: GitHubEvent) -> bool:
        message = news.render_repo_news(event, self.settings.excerpt_length)
        if message is None or self._by_roadie(event):
            return False
        places = destinations(self.ctx.destinations.feeds,
                              self._subject(event, fmt.repo_name(event)))
        return await self._post_all(event, places, message)

    @on_github(*security.EVENTS)
    async def security_news(self, event: GitHubEvent) -> bool:
        """Visibility changes, deletions, branch protection, deploy keys, security settings
        and alerts: to the admins, whatever the feeds filter."""
        message = security.render_security(event)
        if message is None:
            return False
        place = self.settings.security_destination
        await self.ctx.db.run(lambda session: self.ctx.outbox.post(
            session, place, message, key=f"feed:{event.delivery_id}:security:{place}"))
        return True

    @on_github("organization", "membership", "org_block")
    async def org_news(self, event: GitHubEvent) -> bool:
        message = news.render_org_news(event)
        if message is None:
            return False
        place = (self.settings.block_destination if event.event == "org_block"
                 else self.settings.org_destination)
        return await self._post_all(event, [place], message)
