"""Moderation: numbered cases of blocks across GitHub and chat, with their outcomes."""
