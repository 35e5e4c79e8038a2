"""Discord, through discord.py 2.x."""

from bot.transports.discord.transport import DiscordTransport

__all__ = ["DiscordTransport"]
