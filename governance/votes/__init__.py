"""Votes: project-lead nominations and direct-push disputes."""
