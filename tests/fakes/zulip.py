"""A fake Zulip server for the real zulip client (`zulip.Client(site=fake.url)`), on 127.0.0.1.

Serves what Roadie calls: server settings, register, the events long poll (with heartbeats,
and BAD_EVENT_QUEUE_ID for an expired queue), messages (send, edit, delete, fetch with
narrows), reactions, users (get, deactivate, reactivate), streams and subscriptions. It checks
the bot's API key and its role (only an administrator may deactivate or delete).

Tests play the people: `await fake.say(user, "/whoami", stream="general", topic="chat")`,
`await fake.pm(user, "help")`, `await fake.react(user, message_id, "one")`,
`await fake.join("Eve")`, and wait for what the bot sends with `await fake.reply_to(...)`.
Failures on demand: `fail(...)` (any status), `rate_limit(...)` (429 with retry-after),
`expire_queues()` (the bot's event queue is gone, as after a server restart).

The realm keeps Zulip's rules (the README of ../shared/testdata/api-specs): only the
sender may edit a message's content, and only within `edit_limit_seconds` of sending it
(default 600; None for no limit), in the server's real time; content longer than
`max_message_length` and topics longer than `max_topic_length` are truncated, not refused;
all three are given by `/register` (with `realm` among the fetched types). A reaction given
twice is refused, a direct message to a deactivated user too, and every answer carries
`X-RateLimit-*` headers: past `rate_limit` requests in `rate_window` seconds (the long poll
aside) comes a 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.http import BODY, FakeService, answer, json_response

API = "/api/v1"
OWNER, ADMIN, MODERATOR, MEMBER = 100, 200, 300, 400
MESSAGE_TRUNCATED = "\n[message truncated]"
TOPIC_TRUNCATED = "..."
HIDDEN = ("edits", "sent_at")
"""What the fake keeps of a message that Zulip does not show."""


def ok(**data: Any) -> web.Response:
    return json_response({"result": "success", "msg": "", **data})


def error(msg: str, code: str = "BAD_REQUEST", status: int = 400, **extra: Any) -> web.Response:
    return json_response({"result": "error", "msg": msg, "code": code, **extra}, status)


@dataclass
class ZulipUser:
    user_id: int
    email: str
    full_name: str
    role: int = MEMBER
    is_bot: bool = False
    is_active: bool = True
    date_joined: str = "2024-01-01T00:00:00+00:00"

    @property
    def payload(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "email": self.email, "full_name": self.full_name,
                "role": self.role, "is_bot": self.is_bot, "is_active": self.is_active,
                "is_admin": self.role <= ADMIN, "is_owner": self.role == OWNER,
                "is_guest": False, "date_joined": self.date_joined, "timezone": "",
                "avatar_url": f"https://secure.gravatar.com/avatar/{self.user_id}?d=identicon",
                "avatar_version": 1, "delivery_email": self.email}

    @property
    def mention(self) -> str:
        return f"@**{self.full_name}|{self.user_id}**"


@dataclass
class Queue:
    id: str
    event_types: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(0))

    def push(self, event: dict[str, Any]) -> None:
        self.events.append({**event, "id": next(self.ids)})


def truncated(text: str, limit: int, marker: str) -> str:
    """What Zulip makes of text over a limit (in code points): cut, ending with `marker`."""
    return text if len(text) <= limit else text[:limit - len(marker)] + marker


def visible(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in HIDDEN}


class FakeZulip(FakeService):
    contract_name = "zulip"
    api_prefix = API
    strict_responses = True

    def __init__(self, *, poll_timeout: float = 1.0, edit_limit_seconds: float | None = 600,
                 max_message_length: int = 10000, max_topic_length: int = 60,
                 rate_limit: int = 200, rate_window: float = 60.0) -> None:
        super().__init__()
        self.poll_timeout = poll_timeout
        self.edit_limit_seconds = edit_limit_seconds
        """The realm's `message_content_edit_limit_seconds`; None: edits at any age."""
        self.max_message_length = max_message_length
        self.max_topic_length = max_topic_length
        self.request_limit, self.rate_window = rate_limit, rate_window
        self._requests: collections.deque[float] = collections.deque()
        self._user_ids = itertools.count(100)
        self._message_ids = itertools.count(1000)
        self._queue_ids = itertools.count(1)
        self.bot = ZulipUser(next(self._user_ids), "roadie-bot@zulip.example", "Roadie",
                             role=ADMIN, is_bot=True)
        self.api_key = "fakezulipapikey0123456789abcdef0"
        self.users: dict[int, ZulipUser] = {self.bot.user_id: self.bot}
        self.streams: dict[str, int] = {}
        self.subscribed: set[str] = set()
        self.messages: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []
        self.queues: dict[str, Queue] = {}
        self.registrations = 0
        self._changed = asyncio.Condition()

    # --- world building ---------------------------------------------------------------------

    def add_stream(self, name: str, *, subscribed: bool = True) -> int:
        stream_id = self.streams.setdefault(name, len(self.streams) + 1)
        if subscribed:
            self.subscribed.add(name)
        return stream_id

    def add_user(self, full_name: str, *, role: int = MEMBER) -> ZulipUser:
        user_id = next(self._user_ids)
        email = f"{full_name.lower().replace(' ', '.')}@zulip.example"
        user = ZulipUser(user_id, email, full_name, role=role)
        self.users[user_id] = user
        return user

    async def join(self, full_name: str) -> ZulipUser:
        """Someone signs up now: the bot gets a realm_user add event."""
        user = self.add_user(full_name)
        user.date_joined = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        await self._push({"type": "realm_user", "op": "add", "person": user.payload})
        return user

    # --- people talking ---------------------------------------------------------------------

    def _store(self, sender: ZulipUser, content: str, *, stream: str | None = None,
               topic: str = "", to: list[ZulipUser] | None = None) -> dict[str, Any]:
        now = time.time()
        message: dict[str, Any] = {
            "id": next(self._message_ids), "sender_id": sender.user_id,
            "sender_email": sender.email, "sender_full_name": sender.full_name,
            "content": content, "timestamp": int(now), "reactions": [], "edits": [],
            "client": "test", "sent_at": now}
        if stream is not None:
            message.update({"type": "stream", "display_recipient": stream, "subject": topic,
                            "stream_id": self.streams[stream]})
        else:
            people = {u.user_id: u for u in [sender, *(to or [])]}
            message.update({"type": "private", "subject": "", "display_recipient": [
                {"id": u.user_id, "email": u.email, "full_name": u.full_name}
                for u in sorted(people.values(), key=lambda u: u.user_id)]})
        self.messages.append(message)
        return message

    async def _push(self, event: dict[str, Any]) -> None:
        for queue in self.queues.values():
            if event["type"] in queue.event_types:
                queue.push(event)
        async with self._changed:
            self._changed.notify_all()

    async def _published(self, message: dict[str, Any]) -> None:
        await self._push({"type": "message", "message": visible(message), "flags": []})

    async def say(self, user: ZulipUser, content: str, *, stream: str, topic: str) -> int:
        """`user` posts in a stream topic; returns the message id."""
        message = self._store(user, content, stream=stream, topic=topic)
        await self._published(message)
        return int(message["id"])

    async def pm(self, user: ZulipUser, content: str) -> int:
        """`user` sends the bot a direct message; returns the message id."""
        message = self._store(user, content, to=[self.bot])
        await self._published(message)
        return int(message["id"])

    async def react(self, user: ZulipUser, message_id: int, emoji_name: str) -> None:
        await self._push({"type": "reaction", "op": "add", "user_id": user.user_id,
                          "user": {"user_id": user.user_id, "email": user.email,
                                   "full_name": user.full_name},
                          "message_id": message_id, "emoji_name": emoji_name,
                          "emoji_code": emoji_name, "reaction_type": "unicode_emoji"})

    # --- what the bot did -------------------------------------------------------------------

    def from_bot(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["sender_id"] == self.bot.user_id]

    def messages_in(self, stream: str, topic: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.from_bot() if m["type"] == "stream"
                and m["display_recipient"] == stream and (topic is None or m["subject"] == topic)]

    def pms_to(self, user: ZulipUser) -> list[dict[str, Any]]:
        return [m for m in self.from_bot() if m["type"] == "private"
                and any(r["id"] == user.user_id for r in m["display_recipient"])]

    async def wait_for(self, found: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `found()` returns something true (checked whenever the fake changes)."""
        async def wait() -> Any:
            async with self._changed:
                await self._changed.wait_for(found)
            return found()
        return await asyncio.wait_for(wait(), timeout)

    async def reply_to(self, user: ZulipUser, after: int, *, stream: str | None = None,
                       topic: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The bot's first message after message `after`: in the stream topic, or a PM to
        `user` (private answers go there)."""
        def first() -> dict[str, Any] | None:
            for message in self.from_bot():
                if message["id"] <= after:
                    continue
                if message["type"] == "private" and any(
                        r["id"] == user.user_id for r in message["display_recipient"]):
                    return message
                if stream and message["type"] == "stream" and message[
                        "display_recipient"] == stream and message["subject"] == topic:
                    return message
            return None
        return await self.wait_for(first, timeout)

    async def command(self, user: ZulipUser, content: str, *, stream: str | None = None,
                      topic: str = "chat", timeout: float = 5.0) -> dict[str, Any]:
        """Say something (in a stream topic, or as a PM without a stream) and return the bot's
        answer."""
        if stream is None:
            said = await self.pm(user, content)
        else:
            said = await self.say(user, content, stream=stream, topic=topic)
        return await self.reply_to(user, said, stream=stream, topic=topic, timeout=timeout)

    # --- failures ---------------------------------------------------------------------------

    def expire_queues(self) -> None:
        """Every event queue is gone (as when Zulip restarts or a queue idles out). The bot
        notices at its next poll: when something happens, or after `poll_timeout`."""
        self.queues.clear()

    def rate_limit(self, method: str, path: str, *, retry_after: float, times: int = 1) -> None:
        reset = time.time() + retry_after
        self.fail(method, API + path, status=429, times=times,
                  headers={"Retry-After": str(retry_after),
                           "X-RateLimit-Limit": str(self.request_limit),
                           "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(reset))},
                  body={"result": "error", "msg": "API usage exceeded rate limit",
                        "code": "RATE_LIMIT_HIT", "retry-after": retry_after})

    def fail_api(self, method: str, path: str, *, status: int = 502, times: int = 1) -> None:
        self.fail(method, API + path, status=status, times=times,
                  body={"result": "error", "msg": f"fake failure {status}", "code": "BAD_REQUEST"})

    # --- routes -----------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._rate_limited)
        app.middlewares.append(self._authenticate)
        r, a = app.router, API
        r.add_get(a + "/server_settings", answer(lambda: ok(
            zulip_version="9.0", zulip_feature_level=300, realm_uri=self.url)))
        r.add_post(a + "/register", self._register)
        r.add_get(a + "/events", self._events)
        r.add_delete(a + "/events", self._deregister)
        r.add_post(a + "/messages", self._send)
        r.add_get(a + "/messages", self._get_messages)
        r.add_route("*", a + "/messages/{id}", self._message)
        r.add_post(a + "/messages/{id}/reactions", self._add_reaction)
        r.add_get(a + "/users/me", answer(lambda: ok(**self.bot.payload)))
        r.add_get(a + "/users/me/subscriptions", answer(lambda: ok(subscriptions=[
            {"name": s, "stream_id": self.streams[s]} for s in sorted(self.subscribed)])))
        r.add_get(a + "/users", answer(lambda: ok(members=[u.payload
                                                          for u in self.users.values()])))
        r.add_get(a + "/users/{id}", self._user)
        r.add_delete(a + "/users/{id}", self._deactivate)
        r.add_post(a + "/users/{id}/reactivate", self._reactivate)
        r.add_get(a + "/streams", answer(lambda: ok(streams=[
            {"name": n, "stream_id": i, "invite_only": False} for n, i in self.streams.items()])))
        r.add_get(a + "/get_stream_id", self._stream_id)

    @web.middleware
    async def _rate_limited(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Zulip's per-user limit, with its headers on every answer; the long poll is free."""
        if request.method == "GET" and request.path == API + "/events":
            return await handler(request)
        now = time.time()
        while self._requests and now - self._requests[0] >= self.rate_window:
            self._requests.popleft()
        if len(self._requests) >= self.request_limit:
            retry_after = self._requests[0] + self.rate_window - now
            response: web.StreamResponse = json_response(
                {"result": "error", "msg": "API usage exceeded rate limit",
                 "code": "RATE_LIMIT_HIT", "retry-after": retry_after}, 429,
                {"Retry-After": f"{retry_after:.3f}"})
        else:
            self._requests.append(now)
            response = await handler(request)
        reset = (self._requests[0] + self.rate_window) if self._requests else now
        response.headers.update({"X-RateLimit-Limit": str(self.request_limit),
                                 "X-RateLimit-Remaining": str(max(
                                     0, self.request_limit - len(self._requests))),
                                 "X-RateLimit-Reset": str(int(reset))})
        return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.endswith("/server_settings"):
            return await handler(request)
        expected = base64.b64encode(f"{self.bot.email}:{self.api_key}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return error("Invalid API key", "INVALID_API_KEY", 401)
        return await handler(request)

    @staticmethod
    def _form(request: web.Request) -> dict[str, Any]:
        form = dict(request[BODY] or {}) if request.method != "GET" else {}
        form.update(request.query)
        return form

    @staticmethod
    def _json(value: Any, default: Any) -> Any:
        if value is None:
            return default
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return value

    async def _register(self, request: web.Request) -> web.Response:
        form = self._form(request)
        self.registrations += 1
        queue = Queue(f"queue-{next(self._queue_ids)}",
                      self._json(form.get("event_types"), ["message"]))
        self.queues[queue.id] = queue
        extra: dict[str, Any] = {}
        if "realm_user" in queue.event_types:
            extra["realm_users"] = [u.payload for u in self.users.values() if u.is_active]
        if "realm" in self._json(form.get("fetch_event_types"), queue.event_types):
            extra.update(max_message_length=self.max_message_length,
                         max_topic_length=self.max_topic_length,
                         realm_allow_message_editing=True,
                         realm_message_content_edit_limit_seconds=self.edit_limit_seconds)
        max_id = max((m["id"] for m in self.messages), default=-1)
        return ok(queue_id=queue.id, last_event_id=-1, max_message_id=max_id,
                  zulip_version="9.0", zulip_feature_level=247, zulip_merge_base="9.0",
                  **extra)

    async def _events(self, request: web.Request) -> web.Response:
        form = self._form(request)
        queue_id = form.get("queue_id", "")
        last = int(form.get("last_event_id", -1))

        def ready() -> bool:
            queue = self.queues.get(queue_id)
            return queue is None or any(e["id"] > last for e in queue.events)

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(ready), self.poll_timeout)
        queue = self.queues.get(queue_id)
        if queue is None:
            return error(f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID",
                         queue_id=queue_id)
        queue.events = [e for e in queue.events if e["id"] > last]
        if not queue.events:
            queue.push({"type": "heartbeat"})
        return ok(events=list(queue.events))

    async def _deregister(self, request: web.Request) -> web.Response:
        queue_id = self._form(request).get("queue_id", "")
        if self.queues.pop(queue_id, None) is None:
            return error(f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID")
        async with self._changed:
            self._changed.notify_all()
        return ok()

    async def _send(self, request: web.Request) -> web.Response:
        form = self._form(request)
        content = form.get("content", "")
        if not content.strip():
            return error("Message must not be empty")
        content = truncated(content, self.max_message_length, MESSAGE_TRUNCATED)
        if form.get("type") == "stream":
            stream, topic = form.get("to", ""), form.get("topic", "")
            stream = self._json(stream, stream) if stream.startswith("[") else stream
            if stream not in self.streams:
                return error(f"Stream '{stream}' does not exist", "STREAM_DOES_NOT_EXIST")
            topic = truncated(topic.strip(), self.max_topic_length, TOPIC_TRUNCATED)
            message = self._store(self.bot, content, stream=stream, topic=topic)
        else:
            recipients = []
            for item in self._json(form.get("to"), []):
                user = self.users.get(int(item)) if str(item).isdigit() else next(
                    (u for u in self.users.values() if u.email == item), None)
                if user is None:
                    return error(f"Invalid user ID {item}")
                if not user.is_active:
                    return error(f"'{user.email}' is no longer using Zulip.")
                recipients.append(user)
            message = self._store(self.bot, content, to=recipients)
        await self._published(message)
        return ok(id=message["id"])

    def _find(self, request: web.Request) -> dict[str, Any] | None:
        message_id = int(request.match_info["id"])
        return next((m for m in self.messages if m["id"] == message_id), None)

    async def _message(self, request: web.Request) -> web.Response:
        message = self._find(request)
        if message is None:
            return error("Invalid message(s)")
        if request.method == "PATCH":
            content = self._form(request).get("content")
            if content is not None:
                if message["sender_id"] != self.bot.user_id:
                    return error("You don't have permission to edit this message")
                limit = self.edit_limit_seconds
                if limit is not None and time.time() - message["sent_at"] > limit:
                    return error("The time limit for editing this message has past")
                message["edits"].append(message["content"])
                message["content"] = truncated(content, self.max_message_length,
                                               MESSAGE_TRUNCATED)
            return ok()
        if request.method == "DELETE":
            if self.bot.role > ADMIN:
                return error("Insufficient permission", "UNAUTHORIZED")
            self.messages.remove(message)
            self.deleted.append(message)
            return ok()
        return ok(message=visible(message), raw_content=message["content"])

    async def _get_messages(self, request: web.Request) -> web.Response:
        form = self._form(request)
        narrow = self._json(form.get("narrow"), [])
        found = list(self.messages)
        for term in narrow:
            operator, operand = (term["operator"], term["operand"]) if isinstance(
                term, dict) else term
            if operator == "sender":
                found = [m for m in found if str(m["sender_id"]) == str(operand)
                         or m["sender_email"] == operand]
        anchor = form.get("anchor", "newest")
        before, after = int(form.get("num_before", 0)), int(form.get("num_after", 0))
        if anchor == "newest":
            chosen = found[-(before + 1):] if found else []
        else:
            point = int(anchor)
            chosen = [m for m in found if m["id"] < point][-before:] if before else []
            chosen += [m for m in found if m["id"] >= point][:after + 1]
        return ok(messages=[visible(m) for m in chosen], found_anchor=True)

    async def _add_reaction(self, request: web.Request) -> web.Response:
        message = self._find(request)
        if message is None:
            return error("Invalid message(s)")
        name = self._form(request).get("emoji_name", "")
        if any(r["emoji_name"] == name and r["user_id"] == self.bot.user_id
               for r in message["reactions"]):
            return error("Reaction already exists.", "REACTION_ALREADY_EXISTS")
        message["reactions"].append({"emoji_name": name, "user_id": self.bot.user_id})
        await self._push({"type": "reaction", "op": "add", "user_id": self.bot.user_id,
                          "message_id": message["id"], "emoji_name": name})
        return ok()

    def _user_of(self, request: web.Request) -> ZulipUser | None:
        return self.users.get(int(request.match_info["id"]))

    async def _user(self, request: web.Request) -> web.Response:
        user = self._user_of(request)
        return ok(user=user.payload) if user else error("No such user")

    async def _deactivate(self, request: web.Request) -> web.Response:
        return self._set_active(request, False)

    async def _reactivate(self, request: web.Request) -> web.Response:
        return self._set_active(request, True)

    def _set_active(self, request: web.Request, active: bool) -> web.Response:
        user = self._user_of(request)
        if user is None or (not active and not user.is_active):
            return error("No such user")  # what Zulip says of a deactivated user, too
        if self.bot.role > ADMIN:
            return error("Insufficient permission", "UNAUTHORIZED")
        user.is_active = active
        return ok()

    async def _stream_id(self, request: web.Request) -> web.Response:
        name = request.query.get("stream", "")
        if name not in self.streams:
            return error(f"Invalid stream name '{name}'")
        return ok(stream_id=self.streams[name])
