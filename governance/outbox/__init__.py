"""Outgoing chat messages, written down before they are sent."""
