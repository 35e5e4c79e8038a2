"""`roadie run` serves on uvloop where it is installed, and so do the tests."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.runtime import eventloop


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
def test_roadie_run_serves_on_uvloop() -> None:
    assert eventloop.run(_loop_module()).startswith("uvloop")


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built for Windows")
async def test_the_tests_run_on_the_loop_roadie_serves_on() -> None:
    assert (await _loop_module()).startswith("uvloop")


def test_without_uvloop_it_is_asyncios_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as where it is not installed
    assert eventloop.run(_loop_module()).startswith("asyncio.")
