"""What `roadie doctor` asks Discord: the token, the intent, the guild, the permissions."""

from __future__ import annotations

from collections.abc import Mapping

import discord
from discord import app_commands

from bot.doctor import Finding, good, missing
from bot.transports.discord.transport import NETWORK_ERRORS, platform_error

GUILD_PERMISSIONS = {"ban_members": "Ban Members (for /block)",
                     "manage_messages": "Manage Messages (to remove spam)"}
CHANNEL_PERMISSIONS = {"view_channel": "View Channel", "send_messages": "Send Messages",
                       "embed_links": "Embed Links"}


def _lacking(permissions: discord.Permissions, needed: Mapping[str, str]) -> list[str]:
    return [label for attr, label in needed.items() if not getattr(permissions, attr)]


async def check(token: str, guild_id: str, channels: Mapping[str, str]) -> list[Finding]:
    client = discord.Client(intents=discord.Intents(guilds=True))
    try:
        try:
            await client.login(token)
        except discord.LoginFailure:
            return [missing("the bot token was refused: copy it again from the Developer "
                            "Portal (Bot > Reset Token)")]
        except NETWORK_ERRORS as error:
            return [missing(f"cannot reach Discord: {platform_error(error).detail}")]
        return await _check_guild(client, int(guild_id), channels)
    finally:
        await client.close()


async def _check_guild(client: discord.Client, guild_id: int,
                       channels: Mapping[str, str]) -> list[Finding]:
    assert client.user is not None
    findings = [good(f"logged in as {client.user.name} (application {client.application_id})")]
    flags = client.application_flags
    if flags.gateway_guild_members or flags.gateway_guild_members_limited:
        findings.append(good("the Server Members intent is on"))
    else:
        findings.append(missing("the Server Members intent is off: turn it on in the Developer "
                                "Portal (Bot > Privileged Gateway Intents); without it member "
                                "joins cannot feed the spam signals"))
    try:
        guild = await client.fetch_guild(guild_id)
        me = await guild.fetch_member(client.user.id)
        in_guild = await guild.fetch_channels()
    except (discord.NotFound, discord.Forbidden):
        findings.append(missing(f"the bot is not in guild {guild_id}: invite it (see "
                                "docs/platforms.md)"))
        return findings
    except NETWORK_ERRORS as error:
        findings.append(missing(f"cannot read guild {guild_id}: {platform_error(error).detail}"))
        return findings
    lacking = _lacking(me.guild_permissions, GUILD_PERMISSIONS)
    findings.append(missing(f"in {guild.name}, the bot lacks: {', '.join(lacking)}") if lacking
                    else good(f"in {guild.name}, the bot may ban members and manage messages"))
    try:
        synced = await app_commands.CommandTree(client).fetch_commands(
            guild=discord.Object(guild_id))
        findings.append(good(f"{len(synced)} slash commands registered in the guild"))
    except NETWORK_ERRORS as error:
        findings.append(missing(f"cannot manage slash commands ({platform_error(error).detail})"
                                ": invite the bot with the applications.commands scope"))
    by_id = {str(c.id): c for c in in_guild}
    for destination, channel_id in sorted(channels.items()):
        if not channel_id:
            findings.append(missing(f"{destination}: no discord_channel in the config"))
            continue
        channel = by_id.get(channel_id)
        if channel is None:
            findings.append(missing(f"{destination}: channel {channel_id} is not in the guild"))
            continue
        lacking = _lacking(channel.permissions_for(me), CHANNEL_PERMISSIONS)
        findings.append(missing(f"{destination}: in #{channel.name} the bot lacks "
                                f"{', '.join(lacking)}") if lacking
                        else good(f"{destination}: #{channel.name}"))
    return findings
