"""Zulip, through the zulip client (run in threads)."""

from bot.transports.zulip.transport import ZulipTransport

__all__ = ["ZulipTransport"]
