"""Zulip through the zulip client: commands in streams and direct messages, notices in
stream topics, choices as numbered commands (and digit reactions), deactivation for bans.

The client is synchronous; `ZulipApi` runs it in threads, so Roadie's event loop never
waits on it. Events are handled on the event loop, one at a time, in order; each command
then runs as its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.commands import Arg, CommandSpec, Invocation, bound_specs, command
from bot.core.events import MemberJoined
from bot.core.messages import Choice, Message, Reply
from bot.core.outbox import DIRECT_PREFIX
from bot.core.ports import ChatMember, PlatformError, Rate
from bot.runtime.dispatcher import Speaker
from bot.transports.base import Hub
from bot.transports.common import mention_ids
from bot.transports.zulip import text
from bot.transports.zulip.api import PLATFORM, REGISTERED, ZulipApi
from bot.transports.zulip.choices import OfferedChoices
from governance.errors import Refusal

log = logging.getLogger("roadie.zulip")

EVENT_TYPES = ["message", "realm_user", "reaction", "realm"]
"""`realm` brings the realm's limits and edit window with the registration, and changes to
them as they happen."""
ROLES = {100: "owner", 200: "administrator", 300: "moderator", 400: "member", 600: "guest"}
CATCH_UP = 200
DELETE_BATCH = 1000
REGISTRATION_SLACK = timedelta(minutes=1)
REMEMBERED_SENDS = 1000
REPLY_ATTEMPTS, MAX_REPLY_WAIT = 3, 30.0
"""An answer held back by a rate limit is tried again, as long as the asker still waits."""
EDIT_REFUSALS = ("time limit for editing", "turned off message editing")
"""What Zulip answers (400) to an edit the realm's rules no longer allow."""


def _joined(value: Any, fallback: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return fallback
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)


class ZulipTransport:
    platform = PLATFORM

    def __init__(self, *, site: str, email: str, api_key: str,
                 streams: Mapping[str, tuple[str, str]], name: str = "roadie",
                 register_timeout: float = 30.0) -> None:
        self._streams = dict(streams)
        self._name = name
        self._register_timeout = register_timeout
        self._api = ZulipApi(site=site, email=email, api_key=api_key)
        self._hub: Hub | None = None
        self.user_id = 0
        self.full_name = ""
        self._users: dict[int, dict[str, Any]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.registered = asyncio.Event()
        self.registrations = 0
        self._registered_at = 0.0
        self._last_message_id = 0
        self.rules = text.RealmRules()
        """The realm's limits and edit window, as the last registration told them."""
        self._sent_at: OrderedDict[int, float] = OrderedDict()
        self._offered = OfferedChoices(self.place_for, self._with_topic)
        self._consumer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- ChatPort ---------------------------------------------------------------------

    def place_for(self, destination: str) -> str | None:
        if destination.startswith(DIRECT_PREFIX):
            return destination
        mapped = self._streams.get(destination)
        return self._stream_place(*mapped) if mapped else None

    def rates(self) -> tuple[Rate | None, Rate | None]:
        # Zulip allows 200 requests a minute; the rest is left for replies, reactions, polls.
        return None, Rate(120, 60.0)

    def mention(self, user_id: str) -> str:
        name = self._users.get(int(user_id), {}).get("full_name", "user") if user_id.isdigit() \
            else "user"
        return f"@**{name}|{user_id}**"

    def _mention_login(self, mentions: Mapping[str, str]) -> Callable[[str], str]:
        def mention(login: str) -> str:
            user_id = mentions.get(login.lower())
            return self.mention(user_id) if user_id else f"@{login}"
        return mention

    async def send(self, place: str, message: Message, *, key: str,
                   mentions: dict[str, str]) -> str:
        content = self._render(message, mentions)
        return str(await self._post(self._with_topic(place, message.topic), content, message))

    async def edit(self, place: str, remote_id: str, message: Message, *,
                   mentions: dict[str, str]) -> str | None:
        """Edit the message in place while the realm allows it. Past the realm's edit window
        (or where editing is off), post the new version as a fresh message that says which
        one it replaces, and return its id: later edits go to it."""
        content = self._render(message, mentions)
        where = self._with_topic(place, message.topic)
        earlier = int(remote_id)
        sent_at = self._sent_at.get(earlier)
        if self.rules.may_edit(None if sent_at is None else time.monotonic() - sent_at):
            try:
                await self._api.call("update_message", {"message_id": earlier,
                                                        "content": content})
            except PlatformError as error:
                if error.status != 400 or not any(r in error.detail for r in EDIT_REFUSALS):
                    raise
            else:
                self._offered.remember(earlier, where, self._choosable(message))
                return None
        log.info("Zulip: message %s can no longer be edited; posting its new version anew",
                 earlier)
        content = text.replacing(content, earlier, limit=self.rules.content)
        return str(await self._post(where, content, message))

    def _render(self, message: Message, mentions: Mapping[str, str]) -> str:
        return text.render(message, self._mention_login(mentions), limit=self.rules.content,
                           reactions=text.offers_reactions(message))

    async def _post(self, where: str, content: str, message: Message) -> int:
        """Send a notice; remember when (for the edit window) and what it offers."""
        result = await self._api.call("send_message", self._request(where, content))
        message_id = int(result["id"])
        self._sent_at[message_id] = time.monotonic()
        while len(self._sent_at) > REMEMBERED_SENDS:
            self._sent_at.popitem(last=False)
        self._offered.remember(message_id, where, self._choosable(message))
        if text.offers_reactions(message):
            await self._react(message_id, len(message.choices))
        return message_id

    @staticmethod
    def _choosable(message: Message) -> tuple[Choice, ...]:
        """What `/choose` and reactions may pick: nothing when choosing must stay private,
        since both happen where others see them."""
        return () if message.private_choices else message.choices

    async def ban(self, user_id: str, *, reason: str, delete_message_days: int = 0) -> None:
        """Deactivate the account (so it can neither log in nor post), then delete its
        messages of the last `delete_message_days` days."""
        uid = self._user_id(user_id)
        user = (await self._api.call("get_user_by_id", uid))["user"]
        if user.get("is_active", True):
            await self._api.call("deactivate_user_by_id", uid)
        log.info("Zulip: deactivated user %s (%s): %s", uid, user.get("full_name"), reason)
        if delete_message_days > 0:
            await self._delete_messages_of(uid, delete_message_days)

    async def unban(self, user_id: str, *, reason: str) -> None:
        uid = self._user_id(user_id)
        user = (await self._api.call("get_user_by_id", uid))["user"]
        if not user.get("is_active", True):
            await self._api.call("reactivate_user_by_id", uid)
        log.info("Zulip: reactivated user %s: %s", uid, reason)

    async def lookup_member(self, user_id: str) -> ChatMember | None:
        try:
            user = (await self._api.call("get_user_by_id", self._user_id(user_id)))["user"]
        except PlatformError as error:
            if error.status == 400 and "no such user" in error.detail.lower():
                return None
            raise
        self._remember_user(user)
        return ChatMember(PLATFORM, str(user["user_id"]), user.get("full_name", ""),
                          is_bot=bool(user.get("is_bot")),
                          joined_at=_joined(user.get("date_joined"), self._now()),
                          roles=(ROLES.get(int(user.get("role", 400)), "member"),))

    # --- Transport --------------------------------------------------------------------

    def commands(self) -> list[CommandSpec]:
        return bound_specs(self, PLATFORM)

    @command("choose", "Pick an option of the latest message with choices here",
             Arg("number", "the option's number in the list", kind="int"), platforms=["zulip"])
    async def choose(self, call: Invocation, number: int) -> Reply:
        assert self._hub is not None
        choices = await self._offered.latest_at(self._hub.db, call.place)
        if not choices:
            raise Refusal("There is nothing to choose from here.",
                          "Choices are listed with their commands: run the command itself.")
        if not 1 <= number <= len(choices):
            raise Refusal(f"There is no option {number} here.",
                          f"Pick a number from 1 to {len(choices)}.")
        speaker = Speaker(call.platform, call.user_id, call.display_name, call.place)
        return await self._hub.run_text(speaker, choices[number - 1].command)

    async def start(self, hub: Hub) -> None:
        self._hub = hub
        loop = asyncio.get_running_loop()
        profile = await self._api.call("get_profile")
        self.user_id, self.full_name = int(profile["user_id"]), profile.get("full_name", "")
        self._consumer = asyncio.create_task(self._consume(), name="zulip-events")

        def deliver(event: dict[str, Any]) -> None:  # in the polling thread
            with contextlib.suppress(RuntimeError):  # a closed loop: Roadie has stopped
                loop.call_soon_threadsafe(self._events.put_nowait, event)

        self._api.start_events(deliver, {"event_types": EVENT_TYPES, "apply_markdown": False,
                                         "client_gravatar": True})
        try:
            await asyncio.wait_for(self.registered.wait(), self._register_timeout)
        except TimeoutError:
            log.warning("Zulip: no event queue after %ss; still trying", self._register_timeout)
        log.info("Zulip: serving as %s (user %s)", self.full_name, self.user_id)

    def ready(self) -> bool:
        """An event queue registered and the last poll answered (for /readyz)."""
        return (self.registered.is_set() and self._api.queue_id is not None
                and getattr(self._api, "poll_failures", 0) == 0)

    async def stop(self) -> None:
        await self._api.stop()
        tasks = [t for t in (self._consumer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- events -----------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self._handle(event)
            except Exception:
                log.exception("Zulip: could not handle a %s event", event.get("type"))

    async def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == REGISTERED:
            await self._registered(event)
        elif kind == "message":
            self._on_message(event["message"])
        elif kind == "realm_user" and event.get("op") == "add":
            self._on_new_user(event["person"])
        elif kind == "realm_user" and event.get("op") == "update":
            known = self._users.get(int(event["person"]["user_id"]))
            if known is not None and "full_name" in event["person"]:
                known["full_name"] = event["person"]["full_name"]
        elif kind == "reaction" and event.get("op") == "add":
            self._spawn(self._on_reaction(event))
        elif kind == "realm" and event.get("op") == "update_dict":
            self.rules = self.rules.updated(event.get("data") or {})
        elif kind == "realm" and event.get("op") == "update":
            self.rules = self.rules.updated({event.get("property", ""): event.get("value")})

    async def _registered(self, event: dict[str, Any]) -> None:
        """A (new) event queue: after the first, catch up on what the old one missed."""
        users = event.get("realm_users") or []
        first = self.registrations == 0
        self.rules = text.RealmRules.from_register(event, self.rules)
        known = set(self._users)
        for user in users:
            self._remember_user(user)
        max_message_id = int(event.get("max_message_id") or 0)
        if first:
            self._last_message_id = max(self._last_message_id, max_message_id)
        else:
            # Who joined while there was no queue: unknown, and joined since the last one.
            since = datetime.fromtimestamp(self._registered_at, UTC) - REGISTRATION_SLACK
            for user in users:
                joined = _joined(user.get("date_joined"), since)
                if int(user["user_id"]) not in known and joined >= since:
                    self._on_new_user(user)
            if max_message_id > self._last_message_id:
                await self._catch_up()
        self._registered_at = time.time()  # Zulip's dates are the server's real time
        self.registrations += 1
        self.registered.set()

    async def _catch_up(self) -> None:
        try:
            found = await self._api.call("get_messages", {
                "anchor": self._last_message_id, "num_before": 0, "num_after": CATCH_UP,
                "narrow": [], "apply_markdown": False})
        except PlatformError as error:
            log.warning("Zulip: could not fetch the messages missed while the event queue was "
                        "gone: %s", error)
            return
        for message in sorted(found.get("messages", []), key=lambda m: int(m["id"])):
            self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        message_id = int(message["id"])
        if message_id <= self._last_message_id:
            return  # seen already (a catch-up overlapping the new queue)
        self._last_message_id = message_id
        sender = int(message["sender_id"])
        known = self._users.setdefault(sender, {"user_id": sender})
        if sender == self.user_id or known.get("is_bot"):
            return  # never answer bots, so that two bots cannot talk each other into a loop
        known["full_name"] = message.get("sender_full_name", "")
        private = message.get("type") != "stream"  # "private", or "direct" on newer servers
        addressed = text.command_in(message.get("content", ""), private=private,
                                    bot_id=self.user_id, bot_names=(self.full_name, self._name))
        if addressed is None or not (addressed.explicit or self._is_command(addressed.text)):
            return
        self._spawn(self._run(message, addressed.text))

    def _is_command(self, line: str) -> bool:
        assert self._hub is not None
        first = line.split(maxsplit=1)[0].lower() if line.strip() else ""
        return any(spec.path[0] == first and spec.available_on(PLATFORM)
                   for spec in self._hub.registry)

    async def _run(self, message: dict[str, Any], line: str) -> None:
        assert self._hub is not None
        sender = int(message["sender_id"])
        speaker = Speaker(PLATFORM, str(sender), message.get("sender_full_name", ""),
                          self._place_of(message))
        names = {u.get("full_name", "").lower(): uid for uid, u in self._users.items()}
        answer = await self._hub.run_text(speaker, text.rewrite_mentions(line, names))
        if message.get("type") == "stream" and not answer.private:
            where = self._stream_place(message["display_recipient"], message["subject"])
            request = self._request(where, await self._render_reply(answer))
        elif message.get("type") != "stream" and not answer.private:
            where = DIRECT_PREFIX + str(sender)
            recipients = [int(r["id"]) for r in message.get("display_recipient", [])
                          if int(r["id"]) != self.user_id] or [sender]
            request = {"type": "private", "to": recipients,
                       "content": await self._render_reply(answer)}
        else:
            where = DIRECT_PREFIX + str(sender)
            request = self._request(where, await self._render_reply(answer))
        await self._answer(request, where, answer)

    async def _on_reaction(self, event: dict[str, Any]) -> None:
        assert self._hub is not None
        user_id = int(event["user_id"])
        name = event.get("emoji_name", "")
        if user_id == self.user_id or name not in text.DIGITS:
            return
        message_id = int(event["message_id"])
        choices = await self._offered.of_message(self._hub.db, message_id)
        index = text.DIGITS.index(name)
        if index >= len(choices):
            return
        where = DIRECT_PREFIX + str(user_id)
        display = self._users.get(user_id, {}).get("full_name", str(user_id))
        answer = await self._hub.run_text(Speaker(PLATFORM, str(user_id), display, where),
                                          choices[index].command)
        await self._answer(self._request(where, await self._render_reply(answer)), where, answer)

    def _on_new_user(self, person: dict[str, Any]) -> None:
        assert self._hub is not None
        self._remember_user(person)
        joined = MemberJoined(PLATFORM, str(person["user_id"]), person.get("full_name", ""),
                              _joined(person.get("date_joined"), self._now()),
                              is_bot=bool(person.get("is_bot")))
        self._spawn(self._hub.member_joined(joined))

    # --- helpers ----------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Zulip: a task failed", exc_info=task.exception())

    def _now(self) -> datetime:
        return self._hub.clock.now() if self._hub is not None else datetime.now(UTC)

    def _remember_user(self, user: dict[str, Any]) -> None:
        self._users[int(user["user_id"])] = dict(user)

    @staticmethod
    def _user_id(user_id: str) -> int:
        if not user_id.isdigit():
            raise PlatformError(PLATFORM, f"{user_id!r} is not a Zulip user id", permanent=True)
        return int(user_id)

    def _place_of(self, message: dict[str, Any]) -> str:
        if message.get("type") == "stream":
            return self._stream_place(message["display_recipient"], message["subject"])
        return DIRECT_PREFIX + str(message["sender_id"])

    def _stream_place(self, stream: str, topic: str) -> str:
        return text.stream_place(stream, topic, self.rules.topic)

    def _with_topic(self, place: str, topic: str) -> str:
        return text.with_topic(place, topic, self.rules.topic)

    @staticmethod
    def _request(place: str, content: str) -> dict[str, Any]:
        if place.startswith(DIRECT_PREFIX):
            return {"type": "private", "to": [int(place.removeprefix(DIRECT_PREFIX))],
                    "content": content}
        stream, topic = text.split_place(place)
        return {"type": "stream", "to": stream, "topic": topic, "content": content}

    async def _render_reply(self, answer: Reply) -> str:
        assert self._hub is not None
        mentions = await mention_ids(self._hub.db, PLATFORM, answer.message)
        return text.render_reply(answer, self._mention_login(mentions), limit=self.rules.content)

    async def _answer(self, request: dict[str, Any], where: str, answer: Reply) -> None:
        """Answer a command; a rate limit is waited out (a little), anything else logged."""
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                result = await self._api.call("send_message", request)
                break
            except PlatformError as error:
                wait = error.retry_after
                if wait is None or wait > MAX_REPLY_WAIT or attempt == REPLY_ATTEMPTS:
                    log.error("Zulip: could not answer in %s: %s", where.replace("\n", " > "),
                              error)
                    return
                await asyncio.sleep(wait)
        if answer.message is not None:
            self._offered.remember(int(result["id"]), where, answer.message.choices)

    async def _react(self, message_id: int, count: int) -> None:
        """Offer the digits as reactions; a failure here must not fail the sent message."""
        for name in text.DIGITS[:count]:
            try:
                await self._api.call("add_reaction", {"message_id": message_id,
                                                      "emoji_name": name})
            except PlatformError as error:
                if "REACTION_ALREADY_EXISTS" in error.detail:
                    continue  # offered already, by an earlier attempt
                log.warning("Zulip: could not add the reaction %s to message %s: %s", name,
                            message_id, error)
                return

    async def _delete_messages_of(self, user_id: int, days: int) -> None:
        since = time.time() - days * 86400  # Zulip's timestamps are the server's real time
        found = await self._api.call("get_messages", {
            "anchor": "newest", "num_before": DELETE_BATCH, "num_after": 0,
            "narrow": [{"operator": "sender", "operand": user_id}], "apply_markdown": False})
        for message in found.get("messages", []):
            if int(message["sender_id"]) == user_id and message.get("timestamp", 0) >= since:
                await self._api.call("delete_message", int(message["id"]))
