"""The moderation capability: blocks on GitHub and in chat, with a case log and spam signals."""

from cogs.moderation.cog import ModerationCog

COG = ModerationCog

__all__ = ["COG", "ModerationCog"]
