"""Roadie's capabilities, one module or package each, loaded by dotted name from the config."""
