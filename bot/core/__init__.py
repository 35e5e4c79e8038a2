"""The platform-neutral vocabulary cogs speak: messages, ports, commands, cogs, settings."""
