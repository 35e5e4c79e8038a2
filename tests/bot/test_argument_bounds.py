"""Every typed argument is bounded by the parser, before any role check or database work, and
nothing anyone types stops Roadie from reading and answering the next line."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.commands import (
    MAX_LINE,
    MAX_TEXT,
    Arg,
    CommandRegistry,
    CommandSpec,
    Option,
    Text,
    UsageError,
    bind_values,
)
from bot.transports.console import ConsoleTransport
from governance.durations import MAX_DURATION, parse_duration
from governance.errors import Refusal
from governance.people.roles import Role
from tests.support import Console, make_config, running


async def _noop(*_args: object, **_kwargs: object) -> None:
    return None


SPEC = CommandSpec(("thing",), "A thing", (
    Arg("number", "a number", kind="int"),
    Text("note", "a note", optional=True),
    Option("for", "how long", of="duration"),
), Role.ADMIN, _noop)


def registry() -> CommandRegistry:
    commands = CommandRegistry()
    commands.add(SPEC)
    return commands


def test_durations_longer_than_ten_years_are_refused_with_the_limit() -> None:
    assert parse_duration("520w") == MAX_DURATION
    for text in ("99999999999w", "521w", "9" * 400 + "s", "1" * 5000 + "d"):
        with pytest.raises(Refusal, match="longest duration Roadie accepts"):
            parse_duration(text)


@pytest.mark.parametrize("value", ["9223372036854775808", "2147483648", "-1", "#99999999999",
                                   "1" * 5000])
def test_whole_numbers_beyond_a_database_column_are_refused(value: str) -> None:
    with pytest.raises(UsageError, match=r"from 0 to 2147483647|characters long"):
        registry().parse(f"thing {value}")


def test_only_ascii_digits_make_a_number() -> None:
    with pytest.raises(UsageError, match="whole number"):
        registry().parse("thing ١٢")  # Arabic-Indic digits, which int() would take
    with pytest.raises(UsageError, match="whole number"):
        registry().parse("thing 1_000")
    assert registry().parse("thing #12").values["number"] == 12


def test_text_and_whole_lines_have_a_length_limit() -> None:
    with pytest.raises(UsageError, match=f"at most {MAX_TEXT} fit"):
        registry().parse("thing 1 " + "word " * (MAX_TEXT // 4))
    with pytest.raises(UsageError, match=f"at most {MAX_LINE} are read"):
        registry().parse("thing " + "x" * MAX_LINE)
    assert registry().parse("thing 1 " + "y" * MAX_TEXT).values["note"] == "y" * MAX_TEXT


def test_values_from_discord_are_bounded_the_same_way() -> None:
    with pytest.raises(UsageError, match="from 0 to 2147483647"):
        bind_values(SPEC, {"number": 2**63})
    with pytest.raises(UsageError, match=f"at most {MAX_TEXT} fit"):
        bind_values(SPEC, {"number": 3, "note": "z" * (MAX_TEXT + 1)})
    with pytest.raises(UsageError, match="longest duration"):
        bind_values(SPEC, {"number": 3, "for": "99999999999w"})
    assert bind_values(SPEC, {"number": 3, "for": "2w"})["for"] == timedelta(weeks=2)


async def test_an_absurd_duration_is_refused_before_the_role_check(tmp_path: Path) -> None:
    console = Console()
    async with running(make_config(tmp_path), transports=[console.transport]):
        out = await console.say("/away 99999999999w")  # an unlinked speaker: not an admin
        assert "✋ `duration`: '99999999999w' is longer than the longest duration" in out
        assert "needs the admin role" not in out
        await console.say("/as alice")
        out = await console.say("/escalation 9223372036854775808")
        assert "✋ `number` should be a whole number from 0 to 2147483647" in out
        out = await console.say("/escalate django-sample ci " + "a" * (MAX_TEXT + 1))
        assert f"at most {MAX_TEXT} fit" in out


async def test_the_console_keeps_reading_after_a_line_that_failed(tmp_path: Path) -> None:
    lines = "/away 99999999999w\n/as alice\n/away 99999999999w\n/whoami\n"
    output = io.StringIO()
    console = ConsoleTransport(["admins"], stdin=io.StringIO(lines), stdout=output, prompt=False)
    async with running(make_config(tmp_path), transports=[console]):
        await console.finished.wait()
    printed = output.getvalue()
    assert printed.count("longer than the longest duration") == 2
    assert "You are alice on GitHub." in printed
