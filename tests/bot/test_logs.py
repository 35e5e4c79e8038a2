"""The log: Roadie's lines at its level, libraries at WARNING unless asked, text or JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.runtime.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    configure_logging("WARNING")
    for name in ("discord", "apscheduler", "roadie.sender"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_library_chatter_stays_below_warning_unless_asked() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", {"discord": "INFO"}, stream=stream)
    logging.getLogger("roadie").info("Roadie is up")
    logging.getLogger("apscheduler.executors.default").info("Running job tick")
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTPS connection")
    logging.getLogger("discord.gateway").info("Shard connected")
    logging.getLogger("aiohttp.access").warning("slow answer")
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO roadie: Roadie is up", "INFO discord.gateway: Shard connected",
        "WARNING aiohttp.access: slow answer"]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_and_levels_changed_again() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("roadie.sender").exception("send failed for %s", "admins")
    entry = json.loads(stream.getvalue().splitlines()[0])
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "roadie.sender"
    assert entry["message"] == "send failed for admins"
    assert "ValueError: boom" in entry["exception"]
    assert entry["time"].endswith("Z")

    changed = configure_logging("WARNING", "json", {"roadie.sender": "DEBUG"}, stream=stream)
    assert changed == ["roadie at WARNING", "roadie.sender at DEBUG"]
    assert logging.getLogger("roadie.sender").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("roadie").isEnabledFor(logging.INFO)
    assert configure_logging("WARNING", "json", stream=stream) == [
        "roadie.sender back to the default"]
