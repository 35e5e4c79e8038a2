"""Discord through discord.py: slash commands, choice buttons, notices as embeds, bans.

Only REST calls and the gateway are used; nothing depends on discord.py's caches being
warm, so sending works as soon as the bot has logged in. Every interaction is answered
within Discord's 3 seconds: when a command takes longer than `defer_after`, the answer is
deferred (privately) and sent when the command is done.

The Server Members intent is privileged: when the application does not have it, the gateway
closes with 4014; Roadie says so in one line and goes on without it (member joins unheard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.core.commands import CommandSpec
from bot.core.events import MemberJoined
from bot.core.messages import Choice, Message, Reply
from bot.core.outbox import DIRECT_PREFIX
from bot.core.ports import ChatMember, PlatformError, Rate
from bot.runtime.dispatcher import Speaker, refusal_reply
from bot.transports.base import Hub
from bot.transports.common import choices_of_sent, clip, error_for_status, mention_ids, nonce_for
from bot.transports.discord import render
from bot.transports.discord.tree import build_tree

log = logging.getLogger("roadie.discord")

PLATFORM = "discord"
MAX_BAN_DELETE_DAYS = 7
AUDIT_REASON = 512
MENTION = re.compile(r"<@!?(\d{15,21})>")
UNKNOWN_BAN = 10026
MAX_RATE_LIMIT_WAIT = 30.0  # the least discord.py accepts
DEFER_AFTER = 1.5
"""Seconds before a slow answer is deferred: Discord refuses answers after 3 s, and the
deferral itself must reach it in time."""
CONNECTIONS = 64
"""Connections to Discord's API at most. discord.py's own pool has no bound: a burst of
commands opened a connection for each answer at once (on Discord, a TLS handshake each,
run on the event loop), and where the listener's queue overflowed, some answers waited a
second for their connection to be tried again. Beyond this, requests wait for a
connection already open, which the answers before them hold for one round trip."""
MEMBERS_INTENT_OFF = (
    "Discord: the Server Members intent is off for this bot (gateway close code 4014): turn "
    "on Server Members Intent in the Developer Portal (Bot > Privileged Gateway Intents). "
    "Until then Roadie serves Discord without it: member joins go unheard (no spam signals).")
CLOSE_HINTS = {4004: "the bot token was refused; check discord.token_env (or token_file)",
               4014: MEMBERS_INTENT_OFF}


def platform_error(error: BaseException) -> PlatformError:
    """What a discord.py or network failure means for a retry."""
    if isinstance(error, PlatformError):
        return error
    if isinstance(error, discord.RateLimited):
        return PlatformError(PLATFORM, "rate limited", retry_after=error.retry_after, status=429)
    if isinstance(error, discord.HTTPException):
        retry_after = None
        header = error.response.headers.get("Retry-After") if error.response else None
        with contextlib.suppress(TypeError, ValueError):
            retry_after = float(header) if header is not None else None
        detail = f"{error.text or type(error).__name__} (code {error.code})"
        return error_for_status(PLATFORM, error.status, detail, retry_after=retry_after)
    return PlatformError(PLATFORM, f"unreachable: {type(error).__name__}: {error}")


NETWORK_ERRORS = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError,
                  TimeoutError)


def as_target(value: Any) -> Any:
    """A user option or a `<@123>` mention, as the target `discord:123`."""
    if isinstance(value, discord.abc.User):
        return f"{PLATFORM}:{value.id}"
    if isinstance(value, str):
        match = MENTION.fullmatch(value.strip())
        if match:
            return f"{PLATFORM}:{match.group(1)}"
    return value


class RoadieClient(discord.Client):
    """The discord.py client, with the hooks the transport needs."""

    def __init__(self, transport: DiscordTransport, **options: Any) -> None:
        super().__init__(**options)
        self.transport = transport

    async def setup_hook(self) -> None:
        self.add_dynamic_items(render.ChoiceButton)

    async def on_roadie_choice(self, interaction: discord.Interaction, custom_id: str) -> None:
        await self.transport.on_choice(interaction, custom_id)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        if guild.id == self.transport.guild_id:
            self.transport.connected.set()

    async def on_member_join(self, member: discord.Member) -> None:
        await self.transport.on_member_join(member)


class DiscordTransport:
    platform = PLATFORM

    def __init__(self, *, token: str, guild_id: str, channels: Mapping[str, str],
                 defer_after: float = DEFER_AFTER, connect_timeout: float = 30.0) -> None:
        self._token = token
        self.guild_id = int(guild_id)
        self._channels = {name: channel for name, channel in channels.items() if channel}
        self.defer_after = defer_after
        """Seconds a command may take before its answer is deferred (Discord allows 3)."""
        self._connect_timeout = connect_timeout
        self._hub: Hub | None = None
        self.client: RoadieClient | None = None
        self.tree: app_commands.CommandTree[Any] | None = None
        self.connected = asyncio.Event()
        self._gateway: asyncio.Task[None] | None = None
        self._dm_channels: dict[str, int] = {}
        self._guild: discord.Guild | None = None
        self.members_intent = True
        """False once Discord refused the Server Members intent (close code 4014)."""

    # --- ChatPort ---------------------------------------------------------------------

    def place_for(self, destination: str) -> str | None:
        if destination.startswith(DIRECT_PREFIX):
            return destination
        return self._channels.get(destination)

    def rates(self) -> tuple[Rate | None, Rate | None]:
        # 5 messages per 5 s in a channel; 50 requests per second for the whole bot.
        return Rate(5, 5.0), Rate(50, 1.0)

    def mention(self, user_id: str) -> str:
        return render.user_mention(user_id)

    async def send(self, place: str, message: Message, *, key: str,
                   mentions: dict[str, str]) -> str:
        rendered = render.notice(message, mentions)
        try:
            channel = await self._messageable(place)
            # Discord keeps the nonce for a few minutes: a retried send is not doubled.
            sent = await channel.send(**rendered.send_kwargs(), nonce=nonce_for(key))
        except NETWORK_ERRORS as error:
            raise platform_error(error) from error
        return str(sent.id)

    async def edit(self, place: str, remote_id: str, message: Message, *,
                   mentions: dict[str, str]) -> None:
        rendered = render.notice(message, mentions)
        try:
            channel = await self._messageable(place)
            await channel.get_partial_message(int(remote_id)).edit(**rendered.edit_kwargs())
        except NETWORK_ERRORS as error:
            raise platform_error(error) from error

    async def delete(self, place: str, remote_id: str) -> None:
        try:
            channel = await self._messageable(place)
            await channel.get_partial_message(int(remote_id)).delete()
        except NETWORK_ERRORS as error:
            raise platform_error(error) from error

    async def ban(self, user_id: str, *, reason: str, delete_message_days: int = 0) -> None:
        days = max(0, min(delete_message_days, MAX_BAN_DELETE_DAYS))
        try:
            guild = await self._get_guild()
            await guild.ban(discord.Object(self._user_id(user_id)),
                            reason=clip(reason, AUDIT_REASON),
                            delete_message_seconds=days * 86400)
        except NETWORK_ERRORS as error:
            raise platform_error(error) from error

    async def unban(self, user_id: str, *, reason: str) -> None:
        try:
            guild = await self._get_guild()
            await guild.unban(discord.Object(self._user_id(user_id)),
                              reason=clip(reason, AUDIT_REASON))
        except discord.NotFound as error:
            if error.code != UNKNOWN_BAN:  # not banned: nothing to undo
                raise platform_error(error) from error
        except NETWORK_ERRORS as error:
            raise platform_error(error) from error

    async def lookup_member(self, user_id: str) -> ChatMember | None:
        try:
            guild = await self._get_guild()
            member = await guild.fetch_member(self._user_id(user_id))
        except discord.NotFound:
            return None
        except NETWORK_ERRORS as error:
            raise platform_error(error) from error
        return ChatMember(PLATFORM, str(member.id), member.display_name, is_bot=member.bot,
                          joined_at=member.joined_at, account_created_at=member.created_at,
                          roles=tuple(r.name for r in member.roles if not r.is_default()))

    # --- Transport --------------------------------------------------------------------

    def commands(self) -> list[CommandSpec]:
        return []

    def _build_client(self, hub: Hub) -> int:
        """A discord.py client with its command tree; the number of slash commands."""
        intents = discord.Intents.none()
        intents.guilds = True
        intents.members = self.members_intent  # privileged: member joins feed spam signals
        # A 429 asking for more than MAX_RATE_LIMIT_WAIT s is not waited out by discord.py but
        # handed to the outbox, which then holds back the channel (or Discord) as asked.
        self.client = RoadieClient(
            self, intents=intents, chunk_guilds_at_startup=False,
            max_ratelimit_timeout=MAX_RATE_LIMIT_WAIT, allowed_mentions=render.NO_MENTIONS,
            connector=aiohttp.TCPConnector(limit=CONNECTIONS))
        self.tree = app_commands.CommandTree(self.client)
        self.tree.error(self._on_tree_error)
        return build_tree(self.tree, hub.registry, discord.Object(self.guild_id),
                          self._run_command, hub.complete)

    async def start(self, hub: Hub) -> None:
        self._hub = hub
        count = self._build_client(hub)
        guild = discord.Object(self.guild_id)
        assert self.client is not None
        assert self.tree is not None
        try:
            await self.client.login(self._token)
        except discord.LoginFailure as error:
            raise PlatformError(PLATFORM, "the bot token was refused; check "
                                "discord.token_env (or token_file)", permanent=True) from error
        except NETWORK_ERRORS as error:
            raise platform_error(error) from error
        try:
            await self.tree.sync(guild=guild)
        except NETWORK_ERRORS as error:
            cause = platform_error(error)
            raise PlatformError(PLATFORM, f"could not register the slash commands in guild "
                                f"{self.guild_id}: {cause.detail}; is the bot in that guild, "
                                "invited with the applications.commands scope?",
                                permanent=cause.permanent, status=cause.status) from error
        self._gateway = asyncio.create_task(self._connect(), name="discord-gateway")
        ready = asyncio.ensure_future(self.connected.wait())
        await asyncio.wait({ready, self._gateway}, timeout=self._connect_timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if not self.connected.is_set() and not self._gateway.done():
            log.warning("Discord: guild %s not available after %ss; still trying",
                        self.guild_id, self._connect_timeout)
        log.info("Discord: %d slash commands in guild %s", count, self.guild_id)

    def ready(self) -> bool:
        """The guild was available and the gateway socket is open (for /readyz)."""
        client = self.client
        socket = getattr(client, "ws", None) if client is not None else None
        return (client is not None and not client.is_closed() and self.connected.is_set()
                and socket is not None and socket.open and self._gateway is not None
                and not self._gateway.done())

    async def _connect(self) -> None:
        """Keep the gateway connection (discord.py resumes and reconnects as Discord asks);
        end, with one line that says why, only when Discord refuses for good."""
        while self.client is not None:
            try:
                await self.client.connect(reconnect=True)
                return  # closed by stop()
            except asyncio.CancelledError:
                raise
            except discord.PrivilegedIntentsRequired:
                if not self.members_intent:
                    log.error("Discord: the gateway refused even the unprivileged intents")
                    return
                log.error(MEMBERS_INTENT_OFF)
                if not await self._restart_without_members():
                    return
            except discord.ConnectionClosed as error:
                hint = CLOSE_HINTS.get(error.code, "Roadie no longer hears Discord")
                log.error("Discord: the gateway closed the connection for good (close code "
                          "%s%s): %s", error.code, f", {error.reason}" if error.reason else "",
                          hint)
                return
            except Exception:
                log.exception("Discord: the gateway connection ended for good")
                return

    async def _restart_without_members(self) -> bool:
        """A new client without the Server Members intent, logged in; False if it failed."""
        assert self._hub is not None
        assert self.client is not None
        await self.client.close()
        self.members_intent = False
        self._build_client(self._hub)
        assert self.client is not None
        try:
            await self.client.login(self._token)
        except (discord.LoginFailure, *NETWORK_ERRORS) as error:
            log.error("Discord: could not log in again: %s", platform_error(error).detail)
            return False
        return True

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self._gateway is not None:
            self._gateway.cancel()
            await asyncio.gather(self._gateway, return_exceptions=True)

    # --- interactions -----------------------------------------------------------------

    def _speaker(self, interaction: discord.Interaction) -> Speaker:
        user = interaction.user
        # An interaction is seen by its user alone unless Roadie answers it publicly.
        return Speaker(PLATFORM, str(user.id), user.display_name,
                       str(interaction.channel_id or ""), private=True)

    async def _run_command(self, interaction: discord.Interaction, path: tuple[str, ...],
                           raw: dict[str, Any]) -> None:
        assert self._hub is not None
        spec = self._hub.registry.get(path)
        if spec is not None:
            targets = {p.name for p in spec.params if p.value_kind == "target"}
            raw = {name: as_target(v) if name in targets else v for name, v in raw.items()}
        await self._answer(interaction, self._hub.run_values(self._speaker(interaction), path, raw))

    async def on_choice(self, interaction: discord.Interaction, custom_id: str) -> None:
        await self._answer(interaction, self._choose(interaction, custom_id), private=True)

    async def _choose(self, interaction: discord.Interaction, custom_id: str) -> Reply:
        assert self._hub is not None
        choices: tuple[Choice, ...] = ()
        if interaction.message is not None and custom_id.startswith("roadie#"):
            choices = await choices_of_sent(self._hub.db, PLATFORM, str(interaction.message.id))
        command = render.command_for(custom_id, choices)
        if command is None:
            return refusal_reply("This button no longer leads anywhere.",
                                 "Run the command it offered instead.")
        return await self._hub.run_text(self._speaker(interaction), command)

    async def _answer(self, interaction: discord.Interaction, work: Awaitable[Reply], *,
                      private: bool = False) -> None:
        """Answer within Discord's 3 seconds: at once, or deferred (privately) and then sent.
        The wait covers all the work before the answer can go, its rendering included."""
        task = asyncio.ensure_future(self._prepared(work, private))
        # Counted from when Discord made the interaction: a busy moment may have held it up.
        waited = (datetime.now(UTC) - interaction.created_at).total_seconds()
        done, _ = await asyncio.wait({task}, timeout=min(self.defer_after,
                                                         max(0.0, self.defer_after - waited)))
        deferred = not done
        if deferred:
            with contextlib.suppress(*NETWORK_ERRORS):
                await interaction.response.defer(ephemeral=True, thinking=True)
        rendered, ephemeral = await task
        try:
            if not deferred:
                await interaction.response.send_message(**rendered.send_kwargs(),
                                                        ephemeral=ephemeral)
            elif ephemeral:
                await interaction.edit_original_response(**rendered.edit_kwargs())
            else:
                # A deferred private "thinking" cannot turn public: replace it by a followup.
                await interaction.delete_original_response()
                await interaction.followup.send(**rendered.send_kwargs(), ephemeral=False)
        except NETWORK_ERRORS:
            log.exception("Discord: could not answer an interaction (%s)",
                          interaction.command.qualified_name if interaction.command else "button")

    async def _prepared(self, work: Awaitable[Reply],
                        private: bool) -> tuple[render.Rendered, bool]:
        """The answer, rendered, and whether only the asker may see it."""
        assert self._hub is not None
        try:
            answer = await work
        except Exception:  # the dispatcher answers command errors; this is a bug of ours
            log.exception("Discord: an interaction failed")
            answer = refusal_reply("Something went wrong inside Roadie; nothing was changed.",
                                   "The operators can find the error in Roadie's log.")
        rendered = render.reply(answer, await mention_ids(self._hub.db, PLATFORM, answer.message))
        return rendered, private or answer.private

    async def _on_tree_error(self, interaction: discord.Interaction,
                             error: app_commands.AppCommandError) -> None:
        log.error("Discord: command failed before Roadie ran it: %s", error)
        answer = refusal_reply(f"Discord could not read that command: {error}",
                               "`/help` shows how to use it.")
        with contextlib.suppress(*NETWORK_ERRORS, discord.InteractionResponded):
            await interaction.response.send_message(answer.text, ephemeral=True)

    # --- gateway events ---------------------------------------------------------------

    async def on_member_join(self, member: discord.Member) -> None:
        if member.guild.id != self.guild_id or self._hub is None:
            return
        joined = member.joined_at or self._hub.clock.now()
        await self._hub.member_joined(MemberJoined(
            PLATFORM, str(member.id), member.display_name, joined.astimezone(UTC),
            account_created_at=member.created_at, is_bot=member.bot))

    # --- helpers ----------------------------------------------------------------------

    def _client(self) -> RoadieClient:
        if self.client is None or self.client.is_closed():
            raise PlatformError(PLATFORM, "not connected (Roadie is starting or stopping)")
        return self.client

    @staticmethod
    def _user_id(user_id: str) -> int:
        if not user_id.isdigit():
            raise PlatformError(PLATFORM, f"{user_id!r} is not a Discord user id", permanent=True)
        return int(user_id)

    async def _messageable(self, place: str) -> discord.PartialMessageable:
        client = self._client()
        if place.startswith(DIRECT_PREFIX):
            user_id = place.removeprefix(DIRECT_PREFIX)
            channel_id = self._dm_channels.get(user_id)
            if channel_id is None:
                dm = await client.create_dm(discord.Object(self._user_id(user_id)))
                channel_id = self._dm_channels[user_id] = dm.id
            return client.get_partial_messageable(channel_id, type=discord.ChannelType.private)
        if not place.isdigit():
            raise PlatformError(PLATFORM, f"{place!r} is not a channel id", permanent=True)
        return client.get_partial_messageable(int(place), guild_id=self.guild_id,
                                              type=discord.ChannelType.text)

    async def _get_guild(self) -> discord.Guild:
        client = self._client()
        guild = client.get_guild(self.guild_id) or self._guild
        if guild is None:
            guild = self._guild = await client.fetch_guild(self.guild_id)
        return guild

