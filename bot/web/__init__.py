"""Roadie's public pages: server-rendered HTML and a JSON twin of each, read-only."""
