"""Logging: Roadie's own lines at the configured level, libraries at WARNING unless asked.

Libraries (discord.py, aiohttp's access log, APScheduler's ticks, urllib3, Alembic) log a lot
at INFO; an operator reading Roadie's log wants Roadie's lines. `[bot] log_levels` raises or
lowers any logger by name, such as `discord = "INFO"`. `log_format = "json"` writes one JSON
object per line, for log collectors.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

ROADIE = "roadie"
LIBRARIES = "WARNING"
_HANDLER_NAME = "roadie"
_configured: set[str] = set()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(level: str, log_format: str = "text",
                      levels: Mapping[str, str] | None = None,
                      stream: TextIO | None = None) -> list[str]:
    """Set up (or set again, on SIGHUP) the log; answers what changed, for the log itself."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)  # its stream may be gone (a test's captured stderr)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    wanted = {ROADIE: level, **dict(levels or {})}
    changed = []
    root_level = max(logging.getLevelName(LIBRARIES), logging.getLevelName(level))
    root.setLevel(root_level)
    for name in sorted(_configured - set(wanted)):
        logging.getLogger(name).setLevel(logging.NOTSET)
        changed.append(f"{name} back to the default")
    for name, value in sorted(wanted.items()):
        logger = logging.getLogger(name)
        if logger.level != logging.getLevelName(value):
            changed.append(f"{name} at {value}")
        logger.setLevel(value)
    _configured.clear()
    _configured.update(wanted)
    return changed
