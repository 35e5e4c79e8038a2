"""Votes on project-lead nominations and direct-push disputes.

The cog lives in `cogs.voting.cog`; the rules and the count in `governance.votes`.
"""

from cogs.voting.cog import COG

__all__ = ["COG"]
