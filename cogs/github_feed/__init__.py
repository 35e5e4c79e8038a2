"""The GitHub feed: org activity in the right place on chat, without noise."""

from cogs.github_feed.cog import GitHubFeedCog

COG = GitHubFeedCog

__all__ = ["COG", "GitHubFeedCog"]
