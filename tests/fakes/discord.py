"""A fake Discord (REST API and gateway websocket) for the real discord.py, on 127.0.0.1.

Point discord.py at it by patching only the base URLs:
`discord.http.Route.BASE = fake.rest_base` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`.

It holds one guild with channels, roles and members, records what the bot did (messages
with their edits, bans, DMs, synced slash commands, interaction answers), and plays users:
`await fake.slash(user, "link start", login="alice")` sends an INTERACTION_CREATE built from
the commands the bot synced, and returns the bot's answer. Failures on demand: `fail(...)`
(any status), `rate_limit(...)` (429 with retry_after), `drop()` (the gateway connection
dies; events sent meanwhile are replayed when the bot resumes).

The fake keeps Discord's rules (tests/fakes/discord_rules.py): content, embed and component
limits (400, code 50035), an interaction answered within `interaction_deadline` (3 s, else
10062) through a token that lasts `token_lifetime` (15 min), 40060 on a second initial
answer, per-route buckets with `X-RateLimit-*` headers on every answer and the global limit
(`rate_limits`), 429 with `retry_after`, `global` and `X-RateLimit-Scope`. Gateway: an
IDENTIFY asking for the Server Members intent while the application does not have it
(`application_flags`) is closed with 4014, a wrong token with 4004; on demand
`request_reconnect()` (op 7), `invalidate_session()` (op 9) and `close_gateway(code)`.

Traps kept in mind: answers carry exactly `Content-Type: application/json`; a 429 carries a
`Via` header (without it discord.py takes it for a Cloudflare ban); gateway frames go out as
text, so that no compression is needed.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_rules import RateLimits, choice_errors, message_errors
from tests.fakes.http import BODY, FakeService, answer, json_response

API = "/api/v10"
EPOCH_MS = 1420070400000

VIEW_CHANNEL, SEND_MESSAGES, MANAGE_MESSAGES = 1 << 10, 1 << 11, 1 << 13
EMBED_LINKS, READ_HISTORY, BAN_MEMBERS, ADMINISTRATOR = 1 << 14, 1 << 16, 1 << 2, 1 << 3
BOT_PERMISSIONS = (VIEW_CHANNEL | SEND_MESSAGES | MANAGE_MESSAGES | EMBED_LINKS | READ_HISTORY
                   | BAN_MEMBERS)
EVERYONE_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | READ_HISTORY
GATEWAY_GUILD_MEMBERS, GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 14, 1 << 15
INTENT_GUILD_MEMBERS = 1 << 1
EPHEMERAL = 1 << 6
INTERACTION_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0
INITIAL_ANSWERS = (4, 5, 6, 7, 8, 9, 12)
"""Interaction callback types that are an initial answer (only one is allowed)."""

OPTION_TYPES = {"sub_command": 1, "group": 2, "string": 3, "integer": 4, "boolean": 5,
                "user": 6}


class _Snowflakes:
    """Ids as Discord makes them: the time of making in their high bits (clients read an
    interaction's age from its id), then a counter."""

    def __init__(self) -> None:
        self._last = 0
        self._made_at = itertools.count(1)

    def __call__(self) -> str:
        self._last = max(self._last + 1, int(time.time() * 1000 - EPOCH_MS) << 22)
        return str(self._last)

    def made_at(self, moment: datetime) -> str:
        """A new id that says it was made at `moment` (an account's creation time)."""
        return str((int(moment.timestamp() * 1000) - EPOCH_MS) << 22
                   | next(self._made_at) & 0x3FFFFF)


def text_of(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message: content, then each embed's parts."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        for item in embed.get("fields", []):
            parts += [item.get("name", ""), item.get("value", "")]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(p for p in parts if p)


def user_object(user_id: str, name: str, *, bot: bool = False,
                global_name: str | None = None) -> dict[str, Any]:
    """A user as Discord's answers carry one (UserResponse)."""
    return {"id": user_id, "username": name, "discriminator": "0", "global_name": global_name,
            "avatar": None, "bot": bot, "public_flags": 0, "flags": 0, "banner": None,
            "accent_color": None, "avatar_decoration_data": None, "collectibles": None,
            "primary_guild": None}


def with_component_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Components as Discord answers them: each numbered in the message."""
    numbers = itertools.count(1)
    return [{**row, "id": row.get("id") or next(numbers),
             "components": [{**item, "id": item.get("id") or next(numbers)}
                            for item in row.get("components", [])]} for row in rows]


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components", [])
            if c.get("type") == 2]


@dataclass
class DiscordUser:
    """A person in the fake guild."""

    id: str
    name: str
    roles: list[str] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        return user_object(self.id, self.name, global_name=self.name)

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Answer:
    """What the bot answered to one interaction, as the user sees it."""

    message: dict[str, Any]
    ephemeral: bool
    deferred: bool = False

    @property
    def text(self) -> str:
        return text_of(self.message)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return buttons_of(self.message)


@dataclass
class FakeInteraction:
    id: str
    token: str
    user: DiscordUser
    payload: dict[str, Any]
    deferred: bool = False
    deferred_ephemeral: bool = False
    original: dict[str, Any] | None = None
    original_deleted: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    created: float = field(default_factory=time.monotonic)
    acknowledged: bool = False
    refusals: list[dict[str, Any]] = field(default_factory=list)
    """Discord's errors to the bot's calls about this interaction (too late, twice...)."""

    def age(self) -> float:
        return time.monotonic() - self.created

    def answer(self) -> Answer:
        if self.followups:
            last = self.followups[-1]
            return Answer(last, bool(int(last.get("flags") or 0) & EPHEMERAL), self.deferred)
        assert self.original is not None
        flags = int(self.original.get("flags") or 0)
        return Answer(self.original, bool(flags & EPHEMERAL) or self.deferred_ephemeral,
                      self.deferred)


class FakeDiscord(FakeService):
    contract_name = "discord"
    api_prefix = API
    strict_responses = True

    def __init__(self) -> None:
        super().__init__()
        self.snowflake = _Snowflakes()
        self.app_id = self.snowflake()
        self.guild_id = self.snowflake()
        self.owner_id = self.snowflake()
        self.application_flags = GATEWAY_GUILD_MEMBERS_LIMITED
        """The Developer Portal's switches: the Server Members intent is on."""
        self.interaction_deadline = INTERACTION_DEADLINE
        self.token_lifetime = TOKEN_LIFETIME
        self.rate_limits = RateLimits()
        self.gateway_closes: list[int] = []
        """Close codes the fake's gateway sent."""
        encoded_id = base64.urlsafe_b64encode(self.app_id.encode()).decode().rstrip("=")
        self.token = f"{encoded_id}.GfAkEd.fake-discord-bot-token-for-tests-only"
        """Shaped like a real bot token (the application id in base64, then two parts)."""
        self.bot_user = user_object(self.app_id, "roadie", bot=True)
        self.everyone = self._role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, 0)
        self.bot_role = self._role(self.snowflake(), "Roadie", BOT_PERMISSIONS, 1)
        self.roles: dict[str, dict[str, Any]] = {r["id"]: r for r in (self.everyone,
                                                                       self.bot_role)}
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, DiscordUser] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []
        self.bans: dict[str, dict[str, Any]] = {}
        self.ban_log: list[tuple[str, str, dict[str, Any]]] = []
        self.dm_channels: dict[str, str] = {}
        self.commands: list[dict[str, Any]] = []
        self.interactions: dict[str, FakeInteraction] = {}
        self.identified = asyncio.Event()
        self.resumed = asyncio.Event()
        self.sessions = 0
        self._ws: web.WebSocketResponse | None = None
        self._session_valid = False
        self._seq = 0
        self._dispatched: list[dict[str, Any]] = []
        self._message_added = asyncio.Condition()

    # --- world building ---------------------------------------------------------------------

    def _role(self, role_id: str, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {"id": role_id, "name": name, "position": position, "permissions": str(permissions),
                "color": 0, "colors": {"primary_color": 0, "secondary_color": None,
                                       "tertiary_color": None},
                "hoist": False, "managed": False, "mentionable": False, "icon": None,
                "unicode_emoji": None, "flags": 0}

    def add_role(self, name: str, permissions: int = 0) -> str:
        role = self._role(self.snowflake(), name, permissions, len(self.roles))
        self.roles[role["id"]] = role
        return role["id"]

    def add_channel(self, name: str, *, hidden_from_bot: bool = False) -> str:
        channel_id = self.snowflake()
        overwrites = []
        if hidden_from_bot:
            overwrites.append({"id": self.bot_role["id"], "type": 0, "allow": "0",
                               "deny": str(VIEW_CHANNEL)})
        self.channels[channel_id] = {"id": channel_id, "type": 0, "name": name,
                                     "position": len(self.channels), "guild_id": self.guild_id,
                                     "permission_overwrites": overwrites, "nsfw": False,
                                     "parent_id": None, "topic": None, "flags": 0,
                                     "rate_limit_per_user": 0, "last_message_id": None}
        return channel_id

    def set_bot_permissions(self, permissions: int) -> None:
        self.bot_role["permissions"] = str(permissions)

    def _member_payload(self, user: DiscordUser) -> dict[str, Any]:
        return self._member_object(user.payload, list(user.roles))

    @staticmethod
    def _member_object(user: dict[str, Any], roles: list[str]) -> dict[str, Any]:
        return {"user": user, "roles": roles, "nick": None, "avatar": None, "banner": None,
                "joined_at": "2024-01-01T00:00:00+00:00", "premium_since": None, "deaf": False,
                "mute": False, "flags": 0, "pending": False,
                "communication_disabled_until": None}

    def _bot_member(self) -> dict[str, Any]:
        return self._member_object(self.bot_user, [self.bot_role["id"]])

    def add_user(self, name: str, *, roles: list[str] | None = None,
                 created_at: datetime | None = None) -> DiscordUser:
        """Someone already in the guild (before the bot connects). Their account was made
        at `created_at` (Discord reads it from the id), by default just now in real time."""
        user_id = self.snowflake() if created_at is None else self.snowflake.made_at(created_at)
        user = DiscordUser(user_id, name, list(roles or []))
        self.users[user.id] = user
        self.members[user.id] = self._member_payload(user)
        return user

    async def join(self, name: str, *, created_at: datetime | None = None) -> DiscordUser:
        """Someone joins the guild now: the bot gets GUILD_MEMBER_ADD."""
        user = self.add_user(name, created_at=created_at)
        member = self.members[user.id]
        member["joined_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        await self.dispatch("GUILD_MEMBER_ADD", {**member, "guild_id": self.guild_id})
        return user

    def _guild_payload(self, *, with_state: bool = True) -> dict[str, Any]:
        guild: dict[str, Any] = {
            "id": self.guild_id, "name": "fake-guild", "owner_id": self.owner_id,
            "unavailable": False, "roles": list(self.roles.values()), "emojis": [],
            "stickers": [], "features": [], "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0,
            "system_channel_flags": 0, "icon": None, "splash": None, "banner": None,
            "description": None, "afk_timeout": 300, "afk_channel_id": None,
            "system_channel_id": None, "rules_channel_id": None,
            "public_updates_channel_id": None, "vanity_url_code": None,
            "premium_subscription_count": 0, "max_members": 1000, "application_id": None,
            "home_header": None, "discovery_splash": None, "region": "deprecated",
            "widget_enabled": False, "widget_channel_id": None, "max_presences": None,
            "max_stage_video_channel_users": 50, "max_video_channel_users": 25,
            "safety_alerts_channel_id": None, "premium_progress_bar_enabled": False,
            "nsfw": False, "incidents_data": None}
        if with_state:
            guild.update({
                "member_count": len(self.members) + 1, "large": False,
                "members": [self._bot_member(), *self.members.values()],
                "channels": list(self.channels.values()), "threads": [], "voice_states": [],
                "presences": [], "stage_instances": [], "guild_scheduled_events": [],
                "soundboard_sounds": [], "joined_at": "2024-01-01T00:00:00+00:00"})
        return guild

    # --- what the bot did -------------------------------------------------------------------

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel_id"] == channel_id]

    def dms_to(self, user: DiscordUser) -> list[dict[str, Any]]:
        channel_id = self.dm_channels.get(user.id)
        return self.messages_in(channel_id) if channel_id else []

    async def wait_for_message(self, channel_id: str, count: int = 1,
                               timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until the channel holds at least `count` messages; return them all."""
        async def enough() -> None:
            async with self._message_added:
                await self._message_added.wait_for(
                    lambda: len(self.messages_in(channel_id)) >= count)
        await asyncio.wait_for(enough(), timeout)
        return self.messages_in(channel_id)

    async def _added(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        async with self._message_added:
            self._message_added.notify_all()

    # --- failures ---------------------------------------------------------------------------

    def rate_limit(self, method: str, path: str, *, retry_after: float, times: int = 1) -> None:
        """The next `times` matching requests get a 429 asking to wait `retry_after` s."""
        limited = RateLimits.limited(retry_after, "user", {
            "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}"})
        self.fail(method, API + path, status=429, times=times, headers=limited.headers,
                  body={**limited.body, "retry_after": retry_after})

    def fail_api(self, method: str, path: str, *, status: int = 503, times: int = 1) -> None:
        self.fail(method, API + path, status=status, times=times,
                  body={"message": f"fake failure {status}", "code": 0})

    async def request_reconnect(self) -> None:
        """Gateway op 7: Discord asks the bot to reconnect (and resume)."""
        assert self._ws is not None
        await self._ws.send_str(json.dumps({"op": 7, "d": None}))

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Gateway op 9: the session is invalid; unless resumable, the bot must identify
        anew (and the events of the old session are not replayed)."""
        assert self._ws is not None
        if not resumable:
            self._session_valid = False
        await self._ws.send_str(json.dumps({"op": 9, "d": resumable}))

    async def close_gateway(self, code: int, reason: str = "") -> None:
        """Close the gateway connection with a close code (4004, 4014, ...)."""
        ws, self._ws = self._ws, None
        self.resumed.clear()
        if ws is not None:
            self.gateway_closes.append(code)
            await ws.close(code=code, message=reason.encode())

    async def drop(self) -> None:
        """Kill the gateway connection as a network failure would (close code 4000)."""
        ws, self._ws = self._ws, None
        self.resumed.clear()
        if ws is not None:
            await ws.close(code=4000, message=b"dropped by the fake")

    # --- routes -----------------------------------------------------------------------------

    @property
    def rest_base(self) -> str:
        return self.url + API

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._rate_limited)
        r = app.router
        r.add_get("/gateway", self._gateway)
        a = API
        r.add_get(a + "/users/@me", answer(lambda: self._ok({
            **self.bot_user, "mfa_enabled": False, "locale": "en-US", "verified": True,
            "email": None})))
        r.add_get(a + "/oauth2/applications/@me", self._application)
        r.add_get(a + "/gateway/bot", self._gateway_bot)
        r.add_route("*", a + "/applications/{app}/guilds/{guild}/commands", self._sync)
        r.add_post(a + "/channels/{channel}/messages", self._post_message)
        r.add_patch(a + "/channels/{channel}/messages/{message}", self._edit_message)
        r.add_delete(a + "/channels/{channel}/messages/{message}", self._delete_message)
        r.add_get(a + "/channels/{channel}", self._channel)
        r.add_post(a + "/users/@me/channels", self._open_dm)
        r.add_get(a + "/users/{user}", self._user)
        r.add_get(a + "/guilds/{guild}", answer(lambda: self._ok(
            self._guild_payload(with_state=False))))
        r.add_get(a + "/guilds/{guild}/channels", answer(lambda: self._ok(
            list(self.channels.values()))))
        r.add_get(a + "/guilds/{guild}/roles", answer(lambda: self._ok(list(self.roles.values()))))
        r.add_get(a + "/guilds/{guild}/members/{user}", self._member)
        r.add_route("*", a + "/guilds/{guild}/bans/{user}", self._ban)
        r.add_post(a + "/interactions/{id}/{token}/callback", self._callback)
        r.add_route("*", a + "/webhooks/{app}/{token}/messages/@original", self._original)
        r.add_post(a + "/webhooks/{app}/{token}", self._followup)

    @web.middleware
    async def _rate_limited(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Per-route buckets and the global limit; their headers go on every answer."""
        route = request.match_info.route.resource
        if route is None or request.path == "/gateway":
            return await handler(request)
        info = request.match_info
        major = info.get("channel") or info.get("guild") or info.get("token") or info.get(
            "id", "")
        limited, headers = self.rate_limits.check(request.method, route.canonical, major)
        if limited is not None:
            return json_response(limited.body, 429, limited.headers)
        response = await handler(request)
        response.headers.update(headers)
        return response

    @staticmethod
    def _visible(message: dict[str, Any]) -> dict[str, Any]:
        """A message as Discord answers it, without what the fake keeps for the tests."""
        return {k: v for k, v in message.items() if k not in ("edits", "allowed_mentions")}

    @staticmethod
    def _ok(data: Any, status: int = 200) -> web.Response:
        return json_response(data, status)

    @staticmethod
    def _error(status: int, message: str, code: int,
               errors: dict[str, Any] | None = None) -> web.Response:
        body: dict[str, Any] = {"message": message, "code": code}
        if errors:
            body["errors"] = errors
        return json_response(body, status)

    def _invalid(self, body: dict[str, Any], *, new: bool,
                 prefix: str = "") -> web.Response | None:
        """Discord's 400 for a message over its limits, or an empty new message."""
        errors = message_errors(body)
        if errors:
            return self._error(400, "Invalid Form Body", 50035,
                               {prefix: errors} if prefix else errors)
        if new and not (body.get("content") or body.get("embeds") or body.get("components")
                        or body.get("attachments") or body.get("sticker_ids")):
            return self._error(400, "Cannot send an empty message", 50006)
        return None

    async def _application(self, _request: web.Request) -> web.Response:
        return self._ok({"id": self.app_id, "name": "roadie", "description": "", "icon": None,
                         "bot_public": False, "bot_require_code_grant": False,
                         "owner": user_object(self.owner_id, "owner"),
                         "verify_key": "00", "flags": self.application_flags, "team": None,
                         "interactions_endpoint_url": None, "type": None,
                         "flags_new": str(self.application_flags), "redirect_uris": [],
                         "role_connections_verification_url": None,
                         "approximate_guild_count": 1, "approximate_user_install_count": 0,
                         "approximate_user_authorization_count": 0,
                         "explicit_content_filter": 0, "eligible_oauth2_scopes": [],
                         "bot": self.bot_user})

    async def _gateway_bot(self, _request: web.Request) -> web.Response:
        return self._ok({"url": self.gateway_url, "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}})

    async def _sync(self, request: web.Request) -> web.Response:
        if request.method == "PUT":
            self.commands = [{**c, "id": self.snowflake(), "application_id": self.app_id,
                              "guild_id": self.guild_id, "version": self.snowflake(),
                              "type": c.get("type", 1), "default_member_permissions": None,
                              "nsfw": False, "integration_types": c.get("integration_types")
                              or [0], "contexts": c.get("contexts"),
                              "dm_permission": c.get("dm_permission", True)}
                             for c in request[BODY] or []]
        return self._ok(self.commands)

    def _message(self, channel_id: str, body: dict[str, Any], *,
                 flags: int = 0, interaction: FakeInteraction | None = None) -> dict[str, Any]:
        message = {"id": self.snowflake(), "channel_id": channel_id, "author": self.bot_user,
                   "content": body.get("content") or "",
                   "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
                   "components": with_component_ids(body.get("components") or []),
                   "attachments": [],
                   "mentions": [], "mention_roles": [], "mention_everyone": False,
                   "pinned": False, "tts": False, "type": 0 if interaction is None else 20,
                   "timestamp": "2024-01-01T00:00:00+00:00", "edited_timestamp": None,
                   "flags": flags | int(body.get("flags") or 0),
                   "allowed_mentions": body.get("allowed_mentions"),
                   "nonce": body.get("nonce"), "edits": []}
        if channel_id in self.channels:
            message["guild_id"] = self.guild_id
        if message["nonce"] is None:
            del message["nonce"]  # Discord leaves it out
        return message

    async def _post_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel"]
        if channel_id not in self.channels and channel_id not in self.dm_channels.values():
            return self._error(404, "Unknown Channel", 10003)
        channel = self.channels.get(channel_id)
        if channel and any(int(o["deny"]) & VIEW_CHANNEL for o in channel["permission_overwrites"]
                           if o["id"] == self.bot_role["id"]):
            return self._error(403, "Missing Access", 50001)
        body = request[BODY] or {}
        invalid = self._invalid(body, new=True)
        if invalid is not None:
            return invalid
        nonce = body.get("nonce")
        if nonce and body.get("enforce_nonce"):
            for earlier in self.messages_in(channel_id):
                if earlier["nonce"] == nonce:
                    return self._ok(self._visible(earlier))
        message = self._message(channel_id, body)
        await self._added(message)
        return self._ok(self._visible(message))

    async def _edit_message(self, request: web.Request) -> web.Response:
        found = next((m for m in self.messages if m["id"] == request.match_info["message"]), None)
        if found is None:
            return self._error(404, "Unknown Message", 10008)
        body = request[BODY] or {}
        invalid = self._invalid(body, new=False)
        if invalid is not None:
            return invalid
        found["edits"].append({k: found.get(k) for k in ("content", "embeds", "components")})
        changed = self._message(found["channel_id"], body)
        for key in ("content", "embeds", "components"):
            if key in body:
                found[key] = changed[key]
        return self._ok(self._visible(found))

    async def _delete_message(self, request: web.Request) -> web.Response:
        found = next((m for m in self.messages if m["id"] == request.match_info["message"]
                      and m["channel_id"] == request.match_info["channel"]), None)
        if found is None:
            return self._error(404, "Unknown Message", 10008)
        self.messages.remove(found)
        self.deleted.append(found)
        return web.Response(status=204)

    async def _channel(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel"])
        if channel is None:
            return self._error(404, "Unknown Channel", 10003)
        return self._ok(channel)

    async def _open_dm(self, request: web.Request) -> web.Response:
        user_id = str((request[BODY] or {}).get("recipient_id"))
        user = self.users.get(user_id)
        if user is None:
            return self._error(400, "Invalid Recipient(s)", 50033)
        channel_id = self.dm_channels.setdefault(user_id, self.snowflake())
        return self._ok({"id": channel_id, "type": 1, "flags": 0, "recipients": [user.payload],
                         "last_message_id": None})

    async def _user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["user"])
        return self._ok(user.payload) if user else self._error(404, "Unknown User", 10013)

    async def _member(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user"]
        if user_id == self.app_id:
            return self._ok(self._bot_member())
        member = self.members.get(user_id)
        return self._ok(member) if member else self._error(404, "Unknown Member", 10007)

    def _bot_can(self, permission: int) -> bool:
        granted = int(self.everyone["permissions"]) | int(self.bot_role["permissions"])
        return bool(granted & (permission | ADMINISTRATOR))

    async def _ban(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user"]
        if request.method == "GET":
            ban = self.bans.get(user_id)
            return self._ok(ban) if ban else self._error(404, "Unknown Ban", 10026)
        if not self._bot_can(BAN_MEMBERS):
            return self._error(403, "Missing Permissions", 50013)
        reason = urllib.parse.unquote(request.headers.get("X-Audit-Log-Reason", ""))
        details: dict[str, Any] = {"reason": reason}
        seconds = request.query.get("delete_message_seconds") or (request[BODY] or {}).get(
            "delete_message_seconds")
        if seconds is not None:
            details["delete_message_seconds"] = int(seconds)
        self.ban_log.append((request.method, user_id, details))
        if request.method == "PUT":
            user = self.users.get(user_id)
            self.bans[user_id] = {"user": user.payload if user else user_object(user_id, "gone"),
                                  "reason": reason or None}
            self.members.pop(user_id, None)
            return web.Response(status=204)
        if request.method == "DELETE":
            if self.bans.pop(user_id, None) is None:
                return self._error(404, "Unknown Ban", 10026)
            return web.Response(status=204)
        return web.Response(status=405)

    # --- interactions -----------------------------------------------------------------------

    def _interaction_by_token(self, token: str) -> FakeInteraction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def _refuse(self, interaction: FakeInteraction, status: int, message: str,
                code: int) -> web.Response:
        interaction.refusals.append({"status": status, "message": message, "code": code})
        return self._error(status, message, code)

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(request.match_info["id"])
        if interaction is None or interaction.token != request.match_info["token"]:
            return self._error(404, "Unknown interaction", 10062)
        body = request[BODY] or {}
        kind, data = body.get("type"), body.get("data") or {}
        channel_id = interaction.payload["channel_id"]
        if interaction.age() > self.interaction_deadline:
            return self._refuse(interaction, 404, "Unknown interaction", 10062)
        if kind in INITIAL_ANSWERS and interaction.acknowledged:
            return self._refuse(interaction, 400, "Interaction has already been acknowledged.",
                                40060)
        errors = choice_errors(data.get("choices") or []) if kind == 8 else {}
        invalid = (self._error(400, "Invalid Form Body", 50035, {"data": errors}) if errors
                   else self._invalid(data, new=False, prefix="data") if kind in (4, 7)
                   else None)
        if invalid is not None:
            interaction.refusals.append({"status": 400, "code": 50035})
            return invalid
        interaction.acknowledged = True
        if kind == 8:  # autocomplete result
            interaction.choices = data.get("choices", [])
            interaction.answered.set()
        elif kind == 5:  # deferred: "the bot is thinking"
            interaction.deferred = True
            interaction.deferred_ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        elif kind in (4, 7):
            interaction.original = self._message(channel_id, data, interaction=interaction)
            interaction.answered.set()
        message = interaction.original or {}
        answered: dict[str, Any] = {
            "interaction": {"id": interaction.id, "type": interaction.payload["type"],
                            "response_message_loading": kind == 5,
                            "response_message_ephemeral": bool(
                                int(data.get("flags") or 0) & EPHEMERAL)}}
        if kind in (4, 7) and message:
            answered["interaction"]["response_message_id"] = message["id"]
            answered["resource"] = {"type": kind, "message": self._visible(message)}
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        return self._ok(answered)

    def _token_refusal(self, interaction: FakeInteraction | None) -> web.Response | None:
        """Webhook calls need a live token of an interaction that was answered."""
        if interaction is None or interaction.age() > self.token_lifetime:
            if interaction is not None:
                interaction.refusals.append({"status": 401, "code": 50027})
            return self._error(401, "Invalid Webhook Token", 50027)
        if not interaction.acknowledged:
            return self._refuse(interaction, 404, "Unknown Webhook", 10015)
        return None

    async def _original(self, request: web.Request) -> web.Response:
        interaction = self._interaction_by_token(request.match_info["token"])
        refusal = self._token_refusal(interaction)
        if refusal is not None:
            return refusal
        assert interaction is not None
        if request.method == "PATCH":
            invalid = self._invalid(request[BODY] or {}, new=False)
            if invalid is not None:
                return invalid
        if request.method == "DELETE":
            interaction.original_deleted = True
            interaction.original = None
            return web.Response(status=204)
        channel_id = interaction.payload["channel_id"]
        if request.method == "PATCH":
            flags = EPHEMERAL if interaction.deferred_ephemeral else 0
            interaction.original = self._message(channel_id, request[BODY] or {}, flags=flags,
                                                 interaction=interaction)
            interaction.answered.set()
        if interaction.original is None:
            return self._error(404, "Unknown Message", 10008)
        return self._ok(self._visible(interaction.original))

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._interaction_by_token(request.match_info["token"])
        refusal = self._token_refusal(interaction)
        if refusal is not None:
            return refusal
        assert interaction is not None
        body = request[BODY] or {}
        invalid = self._invalid(body, new=True)
        if invalid is not None:
            return invalid
        flags = 0
        if interaction.deferred and interaction.original is None and not \
                interaction.original_deleted:
            # The first followup after a deferral resolves it, keeping the deferral's flags.
            flags = EPHEMERAL if interaction.deferred_ephemeral else 0
            body = {**body, "flags": flags}
        message = self._message(interaction.payload["channel_id"], body, interaction=interaction)
        interaction.followups.append(message)
        interaction.answered.set()
        return self._ok(self._visible(message))

    def _interaction(self, user: DiscordUser, kind: int, data: dict[str, Any], *,
                     channel_id: str | None = None,
                     message: dict[str, Any] | None = None) -> FakeInteraction:
        channel_id = channel_id or next(iter(self.channels))
        member = self.members.get(user.id) or self._member_payload(user)
        payload = {
            "id": self.snowflake(), "application_id": self.app_id, "type": kind,
            "token": "tok-" + self.snowflake(), "version": 1, "guild_id": self.guild_id,
            "channel_id": channel_id, "locale": "en-US", "guild_locale": "en-US",
            "channel": {**self.channels.get(channel_id, {"id": channel_id, "type": 0})},
            "member": {**member, "permissions": str(EVERYONE_PERMISSIONS)},
            "app_permissions": str(BOT_PERMISSIONS), "entitlements": [],
            "authorizing_integration_owners": {"0": self.guild_id}, "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024, "data": data}
        if message is not None:
            payload["message"] = self._visible(message)
        interaction = FakeInteraction(payload["id"], payload["token"], user, payload)
        self.interactions[interaction.id] = interaction
        return interaction

    def _command(self, name: str) -> dict[str, Any]:
        for command in self.commands:
            if command["name"] == name:
                return command
        raise AssertionError(f"/{name} was not synced; synced: "
                             f"{sorted(c['name'] for c in self.commands)}")

    def _options(self, path: list[str], values: dict[str, Any],
                 focused: str | None) -> tuple[dict[str, Any], list[dict[str, Any]], dict]:
        """The data of a slash command: nested subcommands, typed options, resolved users."""
        command = self._command(path[0])
        declared = command.get("options") or []
        chain: list[dict[str, Any]] = []
        for word in path[1:]:
            node = next((o for o in declared if o["name"] == word and o["type"] in (1, 2)), None)
            if node is None:
                raise AssertionError(f"/{' '.join(path)}: no subcommand {word!r}")
            chain.append({"type": node["type"], "name": word})
            declared = node.get("options") or []
        options, resolved = [], {"users": {}, "members": {}}
        for name, value in values.items():
            spec = next((o for o in declared if o["name"] == name), None)
            if spec is None:
                known = [o["name"] for o in declared]
                raise AssertionError(f"/{' '.join(path)} has no option {name!r} ({known})")
            option: dict[str, Any] = {"name": name, "type": spec["type"]}
            if isinstance(value, DiscordUser):
                # A user option carries the id; in a string option, the client writes the
                # person picked from its mention list as `<@id>`.
                string = spec["type"] == OPTION_TYPES["string"]
                option["value"] = value.mention if string else value.id
                resolved["users"][value.id] = value.payload
                member = {k: v for k, v in self.members.get(value.id, {}).items() if k != "user"}
                resolved["members"][value.id] = member | {"permissions": "0"}
            else:
                option["value"] = value
            if name == focused:
                option["focused"] = True
            options.append(option)
        for node in reversed(chain):
            options = [{**node, "options": options}]
        return command, options, resolved

    async def dispatch_slash(self, user: DiscordUser, path: str, *, channel_id: str | None = None,
                             focused: str | None = None, **values: Any) -> FakeInteraction:
        words = path.split()
        command, options, resolved = self._options(words, values, focused)
        data: dict[str, Any] = {"id": command["id"], "name": words[0], "type": 1,
                                "guild_id": self.guild_id, "options": options}
        if resolved["users"]:
            data["resolved"] = resolved
        interaction = self._interaction(user, 4 if focused else 2, data, channel_id=channel_id)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def slash(self, user: DiscordUser, path: str, *, channel_id: str | None = None,
                    timeout: float = 5.0, **values: Any) -> Answer:
        """Run a slash command as `user`; return the bot's answer once it is complete."""
        interaction = await self.dispatch_slash(user, path, channel_id=channel_id, **values)
        await asyncio.wait_for(interaction.answered.wait(), timeout)
        return interaction.answer()

    async def autocomplete(self, user: DiscordUser, path: str, focused: str,
                           **values: Any) -> list[dict[str, Any]]:
        interaction = await self.dispatch_slash(user, path, focused=focused, **values)
        await asyncio.wait_for(interaction.answered.wait(), 5)
        return interaction.choices or []

    async def dispatch_click(self, user: DiscordUser, message: dict[str, Any],
                             label: str) -> FakeInteraction:
        """Click the button labelled `label` on a message; the interaction, not yet answered."""
        button = next((b for b in buttons_of(message) if b.get("label") == label), None)
        if button is None:
            raise AssertionError(f"no button {label!r}; there are "
                                 f"{[b.get('label') for b in buttons_of(message)]}")
        interaction = self._interaction(user, 3, {"custom_id": button["custom_id"],
                                                  "component_type": 2},
                                        channel_id=message["channel_id"], message=message)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def click(self, user: DiscordUser, message: dict[str, Any], label: str, *,
                    timeout: float = 5.0) -> Answer:
        """Click the button labelled `label` on a message; return the bot's answer."""
        interaction = await self.dispatch_click(user, message, label)
        await asyncio.wait_for(interaction.answered.wait(), timeout)
        return interaction.answer()

    # --- gateway ----------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event; while the bot is disconnected it waits for the resume."""
        self._seq += 1
        frame = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._dispatched.append(frame)
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps(frame))

    def _identify_refusal(self, identify: dict[str, Any]) -> tuple[int, str] | None:
        """The close code Discord answers an IDENTIFY with, if any."""
        if identify.get("token") != self.token:
            return 4004, "Authentication failed."
        members = GATEWAY_GUILD_MEMBERS | GATEWAY_GUILD_MEMBERS_LIMITED
        if int(identify.get("intents") or 0) & INTENT_GUILD_MEMBERS and not (
                self.application_flags & members):
            return 4014, "Disallowed intent(s)."
        return None

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op = payload["op"]
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                refusal = self._identify_refusal(payload["d"])
                if refusal is not None:
                    self.gateway_closes.append(refusal[0])
                    await ws.close(code=refusal[0], message=refusal[1].encode())
                    break
                self._ws = ws
                self._session_valid = True
                self._dispatched.clear()  # a new session: the old one's events are gone
                self._seq = 0
                self.sessions += 1
                await self.dispatch("READY", {
                    "v": 10, "user": self.bot_user, "session_id": f"session-{self.sessions}",
                    "resume_gateway_url": self.gateway_url, "shard": [0, 1],
                    "guilds": [{"id": self.guild_id, "unavailable": True}],
                    "application": {"id": self.app_id, "flags": self.application_flags}})
                await self.dispatch("GUILD_CREATE", self._guild_payload())
                self.identified.set()
            elif op == 6:
                if not self._session_valid or payload["d"].get("session_id") != \
                        f"session-{self.sessions}":
                    await ws.send_str(json.dumps({"op": 9, "d": False}))
                    continue
                self._ws = ws
                seen = int(payload["d"].get("seq") or 0)
                for frame in [f for f in self._dispatched if f["s"] > seen]:
                    await ws.send_str(json.dumps(frame))
                await self.dispatch("RESUMED", {})
                self.resumed.set()
        return ws
