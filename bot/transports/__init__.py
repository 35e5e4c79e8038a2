"""Chat transports: the console, Discord and Zulip."""
