"""The daily digest: stuck onboarding, escalations near or past their deadline, votes, blocks,
projects without a lead and admins away, gathered from every capability once a day."""

from cogs.digest.cog import COG

__all__ = ["COG"]
