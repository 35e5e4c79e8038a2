"""Escalations: `/escalate` a blocker only an admin can clear; admins get SLA reminders.

The cog lives in `cogs.escalation.cog`; other capabilities open tickets through
`cogs.escalation.api.open_escalation`.
"""

from cogs.escalation.cog import COG

__all__ = ["COG"]
