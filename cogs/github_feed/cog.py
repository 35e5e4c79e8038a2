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
from cogs.github_feed import checks, direct_push, items, news, pushes
from cogs.github_feed import formatting as fmt
from cogs.github_feed.router import Subject, destinations
from cogs.github_feed.settings import Settings
from governance.feed import service as feed
from governance.projects.service import find_project

REMEMBER_BURSTS = timedelta(days=2)


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
                                       ("ping_destination", settings.ping_destination))
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
        def transact(session: Session) -> None:
            for place in places:
                self.ctx.outbox.post(session, place, message,
                                     key=f"feed:{event.delivery_id}:{place}")
            if verdict is not None and verdict.direct:
                feed.record_direct_push(session, repo=push.repo, sha=push.head,
                                        branch=push.name, pusher=push.pusher,
                                        commits=[c.sha for c in push.commits],
                                        now=self.ctx.clock.now())
        await self.ctx.db.run(transact)
        return True

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
        places = destinations(self.ctx.destinations.feeds, self._subject(
            event, activity.repo, branch=activity.branch, labels=activity.labels))

        def gather(session: Session) -> bool:
            acted = False
            for place in places:
                acted = self._gather(session, place, activity, event) or acted
            return acted

        return await self.ctx.db.run(gather)

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
            return False
        state = items.new_state(activity)
        key = f"feed:{event.delivery_id}:{place}"
        burst = feed.start_burst(session, destination=place, repo=activity.repo,
                                 number=activity.number, key=key, now=now,
                                 window=self.settings.burst_window, state=state,
                                 delivery_id=event.delivery_id)
        self.ctx.outbox.post(session, place, items.render(state), key=key,
                             not_before=feed.aware(burst.closes_at))
        return True

    @every("6h")
    async def forget_old_bursts(self) -> None:
        older_than = self.ctx.clock.now() - REMEMBER_BURSTS
        await self.ctx.db.run(lambda session: feed.prune_bursts(session, older_than=older_than))

    # --- CI -----------------------------------------------------------------------------

    @on_github("check_run", "check_suite", "workflow_run")
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
                destinations=tuple(places))
            if change is None or change.kind == "quiet":
                return False
            if change.kind == "new_failure":
                for place in change.destinations:
                    self.ctx.outbox.post(session, place, checks.render_failure(run, 1),
                                         key=f"{change.message_key}:{place}")
                return True
            message = (checks.render_failure(run, change.failures)
                       if change.kind == "still_failing"
                       else checks.render_fixed(run, change.failures))
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

    @on_github("organization", "membership", "org_block")
    async def org_news(self, event: GitHubEvent) -> bool:
        message = news.render_org_news(event)
        if message is None:
            return False
        place = (self.settings.block_destination if event.event == "org_block"
                 else self.settings.org_destination)
        return await self._post_all(event, [place], message)
