"""Random command lines from random people against a running Roadie with every cog.

Whatever is typed, and whoever types it: the parser answers with a parse or a UsageError,
the dispatcher answers without a traceback, and a refusal leaves every table as it was (a
refused moderation request only leaves its trace: an audit entry and a modlog line).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, select

from bot.config import DEFAULT_COGS
from bot.core.commands import UsageError, bind_values
from bot.runtime.app import Roadie
from bot.runtime.dispatcher import Speaker
from governance.clock import FakeClock
from tests.support import Console, make_config

BUDGET = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])
"""A fixed budget, the same examples on every run (each command costs a few transactions)."""
COMMANDS_BUDGET = settings(BUDGET, max_examples=120)
PEOPLE = ("stranger", "dave", "carol", "bob", "alice")
"""Anyone (unlinked), a member, a lead of django-sample, a moderator and an admin."""
HOUSEKEEPING = {"lease", "job_tick"}
"""Tables the scheduler keeps, whatever commands do."""
CRASH = "Something went wrong inside Roadie"

WORDS = st.sampled_from([
    "django-sample", "pip-tools-demo", "no-such", "alice", "bob", "carol", "dave", "erin",
    "roadie-bot", "zulip:12", "discord:99", "console:x", "@carol", "#1", "1", "2", "0", "-1",
    "+1", "revert", "keep", "review", "ci", "webhook", "secrets", "reason", "appeal", "mine",
    "all", "admin", "lead", "member", "moderator", "7d", "3h", "99999999999w", "1e9s", "0s",
    "--urgent", "--github", "--chat", "--for", "--delete-messages", "--reason", "--", "--x=1",
    '"two words"', "'", '"', "“curly”", "@**all**", "@*admins*", "**Escalation #1 resolved**",
    "roadie-link-ABCDEFGH", "\x00", "\u202e", "\ue000", "\n", "a" * 300, "9" * 30,
    "9223372036854775808", "2147483648", "١٢",
])
TOKENS = st.one_of(WORDS, st.integers(-2**70, 2**70).map(str),
                   st.text(max_size=12), st.from_regex(r"[0-9]{1,6}[smhdw]", fullmatch=True))
BY_KIND = {
    "int": st.one_of(st.integers(-3, 5).map(str), st.integers(-2**70, 2**70).map(str),
                     st.sampled_from(["#1", "9223372036854775808", "2147483648", "1.5", "١"])),
    "duration": st.one_of(st.from_regex(r"[0-9]{1,12}(\.[0-9])?[smhdw]", fullmatch=True),
                          st.sampled_from(["7d", "99999999999w", "0s", "1d12h", "forever"])),
    "login": st.sampled_from(["alice", "bob", "carol", "dave", "erin", "roadie-bot", "-x",
                              "a" * 40, "@carol"]),
    "target": st.sampled_from(["alice", "erin", "spammer", "console:stranger", "zulip:12",
                               "discord:", "@bob"]),
    "text": st.one_of(st.text(max_size=40), st.sampled_from(
        ["@**all** look", "line\n**Escalation #1 resolved**", "x" * 5000, '"quoted" text'])),
}
"""Values that fit a parameter's kind, and values just beyond what it takes."""


@st.composite
def command_line(draw: st.DrawFn, spec: Any) -> str:
    """A command's words, a value of the right sort (or not) for each of its parameters, and
    now and then a stray token."""
    words = list(spec.path)
    for param in spec.params:
        if not param.positional:
            if draw(st.booleans()):
                words.append(f"--{param.name}")
                if param.kind == "option":
                    words.append(draw(BY_KIND.get(param.of, TOKENS)))
            continue
        if not param.required and draw(st.booleans()):
            break
        if param.choices:
            words.append(draw(st.one_of(st.sampled_from(param.choices), TOKENS)))
        else:
            words.append(draw(st.one_of(BY_KIND.get(param.kind, WORDS), TOKENS)))
    words += draw(st.lists(TOKENS, max_size=2))
    return " ".join(words)


@dataclass
class Live:
    """A Roadie started once for the module, driven from synchronous hypothesis tests."""

    runner: asyncio.Runner
    roadie: Roadie
    errors: list[logging.LogRecord]
    tables: MetaData

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)


class Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.into.append(record)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    config = make_config(tmp_path_factory.mktemp("fuzz"), {"bot": {"cogs": DEFAULT_COGS}})
    runner = asyncio.Runner()
    console = Console()  # for `/as`, which links a console account directly
    roadie = Roadie(config, clock=FakeClock(), transports=[console.transport],
                    use_config_github=False)
    errors: list[logging.LogRecord] = []
    handler = Collect(errors)
    logging.getLogger("roadie").addHandler(handler)
    try:
        runner.run(roadie.start())
        state = Live(runner, roadie, errors, reflected(roadie))
        for login in PEOPLE[1:]:  # link each console account to its login
            state.run(console.say(f"/as {login}"))
        state.run(roadie.run_text(speaker("stranger"), "whoami"))  # seen, never linked
        state.run(roadie.run_text(speaker("alice"), "grant carol lead django-sample"))
        state.run(roadie.settle())
        yield state
    finally:
        logging.getLogger("roadie").removeHandler(handler)
        runner.run(roadie.stop())
        runner.close()


def speaker(login: str, *, private: bool = True) -> Speaker:
    return Speaker("console", login, login, "console", private=private)


def reflected(roadie: Roadie) -> MetaData:
    metadata = MetaData()
    metadata.reflect(roadie.db.engine)
    return metadata


def snapshot(live: Live) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the scheduler's, without the traces a refusal leaves."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with live.roadie.db.engine.connect() as connection:
        for name, table in live.tables.tables.items():
            if name in HOUSEKEEPING or name == "alembic_version":
                continue
            rows = connection.execute(select(table)).mappings().all()
            tables[name] = sorted(tuple(sorted((k, repr(v)) for k, v in row.items()))
                                   for row in rows if not trace_of_refusal(name, row))
    return tables


def trace_of_refusal(table: str, row: Any) -> bool:
    if table == "audit_log":
        return row["action"] == "moderation.refuse"
    if table == "audit_head":
        return True  # moves with every audit entry; the entries themselves are compared
    if table == "outbox":
        return '"title":"Refused: ' in row["payload"]
    return False


def refusal_of(work: Callable[[], object]) -> UsageError | None:
    """None when `work` went through; its UsageError when refused; anything else raises."""
    try:
        work()
    except UsageError as refusal:
        return refusal
    return None


LIMITS = {
    "int": ["9223372036854775808", "-9223372036854775809", "2147483648", "9" * 5000],
    "duration": ["99999999999w", "9" * 400 + "s", "0.0000001s", "1" * 30 + "d"],
    "login": ["a" * 40, "-", "@" * 300],
    "target": ["zulip:" + "9" * 300, "discord:", "a" * 300],
    "word": ["x" * 300, "\x00", ""],
    "choice": ["x" * 300],
    "text": ["y" * 5000, "\x00" * 10],
}
"""Values at and beyond each kind's limits."""


def test_every_command_at_the_limits_of_its_parameters(live: Live) -> None:
    for spec in live.roadie.registry:
        for variant in range(4):
            words, raw = list(spec.path), {}
            for param in spec.params:
                values = LIMITS[param.value_kind if param.kind != "flag" else "word"]
                value = values[variant % len(values)]
                raw[param.name] = value
                if param.positional:
                    words.append(f'"{value}"' if param.kind != "text" else value)
                elif param.kind == "option":
                    words += [f"--{param.name}", f'"{value}"']
            refusal_of(lambda: live.roadie.registry.parse(" ".join(words)))
            refusal_of(lambda: bind_values(spec, raw))


@given(line=st.one_of(st.text(max_size=80), st.lists(TOKENS, max_size=8).map(" ".join)))
@BUDGET
def test_the_parser_answers_any_line(live: Live, line: str) -> None:
    refused = refusal_of(lambda: live.roadie.registry.parse(line))
    assert refused is None or refused.reason


@given(data=st.data())
@BUDGET
def test_discord_values_bind_or_are_refused(live: Live, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(list(live.roadie.registry)))
    raw = {p.name: data.draw(st.one_of(st.none(), TOKENS, st.integers(-2**70, 2**70),
                                       st.booleans())) for p in spec.params}
    refused = refusal_of(lambda: bind_values(spec, raw))
    assert refused is None or refused.reason


@given(data=st.data())
@COMMANDS_BUDGET
def test_every_command_from_anyone_answers_and_a_refusal_changes_nothing(
        live: Live, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(list(live.roadie.registry)))
    line = data.draw(command_line(spec))
    who = speaker(data.draw(st.sampled_from(PEOPLE)), private=data.draw(st.booleans()))
    roadie = live.roadie
    live.run(roadie.settle())
    before = snapshot(live)
    errors = len(live.errors)

    reply = live.run(roadie.run_text(who, line))
    live.run(roadie.settle())

    assert CRASH not in reply.text, (line, who, reply.text)
    assert live.errors[errors:] == [], (line, who)
    if reply.refused:
        assert snapshot(live) == before, (line, who, reply.text)
