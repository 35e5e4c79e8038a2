"""Wiring and the moving parts: dispatcher, outbox sender, webhook worker, scheduler, server."""
