"""Onboarding: a tracked checklist issue for every project that joins the org.

The cog lives in `cogs.onboarding.cog`; the issue is kept up to date by
`cogs.onboarding.issue`.
"""

from cogs.onboarding.cog import COG

__all__ = ["COG"]
