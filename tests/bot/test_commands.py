"""The command framework: one declaration, parsed from text or bound from values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import DEFAULT_COGS
from bot.core.commands import (
    Arg,
    CommandCollision,
    CommandRegistry,
    CommandSpec,
    Flag,
    Option,
    Target,
    Text,
    UsageError,
    bind_values,
    tokenize,
)
from bot.runtime.app import Roadie
from governance.people.roles import Role
from tests.support import make_config


async def _noop(*_args: object, **_kwargs: object) -> None:
    return None


ESCALATE = CommandSpec(("escalate",), "Open a ticket", (
    Arg("project", "the project"),
    Arg("kind", "what is needed", choices=("ci", "webhook")),
    Text("summary", "what is blocked"),
    Flag("urgent", "needs an answer within hours"),
    Option("due", "when", of="duration"),
), Role.MEMBER, _noop)


def _registry(*specs: CommandSpec) -> CommandRegistry:
    registry = CommandRegistry()
    for spec in specs:
        registry.add(spec)
    return registry


def test_free_text_keeps_apostrophes() -> None:
    parsed = _registry(ESCALATE).parse("escalate p ci the CI job's token isn't set")
    assert parsed.values["summary"] == "the CI job's token isn't set"


def test_text_rest_and_flags_anywhere() -> None:
    parsed = _registry(ESCALATE).parse('escalate django-foo CI  the "required" check --urgent')
    assert parsed.values == {"project": "django-foo", "kind": "ci", "urgent": True,
                             "summary": 'the "required" check', "due": None}


def test_quotes_and_typographic_quotes() -> None:
    assert [t.value for t in tokenize('a "b c" “d e” \'f\'')] == ["a", "b c", "d e", "f"]
    assert [t.value for t in tokenize("it's broken, isn't it")] == ["it's", "broken,",
                                                                     "isn't", "it"]
    assert [t.value for t in tokenize('say "hi')] == ["say", '"hi']


def test_typed_option_and_errors_name_the_parameter() -> None:
    registry = _registry(ESCALATE)
    assert registry.parse("escalate p ci x --due 3d").values["due"] == timedelta(days=3)
    with pytest.raises(UsageError, match="`due` should be a duration"):
        registry.parse("escalate p ci x --due soon")
    with pytest.raises(UsageError, match="`kind` should be one of: ci, webhook"):
        registry.parse("escalate p pypi x")
    with pytest.raises(UsageError, match="`summary` is missing") as error:
        registry.parse("escalate p ci")
    assert "Usage: `/escalate <project> <ci|webhook> <summary…>" in error.value.hint
    with pytest.raises(UsageError, match="--loud` is not an option"):
        registry.parse("escalate p ci x --loud")


def test_groups_and_defaults() -> None:
    show = CommandSpec(("case", "show"), "Show a case", (Arg("n", "number", kind="int"),),
                       handler=_noop, group_default=True)
    reason = CommandSpec(("case", "reason"), "Amend", (Arg("n", "number", kind="int"),
                                                        Text("text", "new reason")),
                         handler=_noop)
    registry = _registry(show, reason)
    assert registry.parse("case #12").spec is show
    assert registry.parse("case #12").values == {"n": 12}
    assert registry.parse("case reason 3 spam, really").values == {"n": 3,
                                                                    "text": "spam, really"}
    with pytest.raises(UsageError, match="no command /cose"):
        registry.parse("cose 3")


def test_targets() -> None:
    spec = CommandSpec(("block",), "Block", (Arg("who", "target", kind="target"),),
                       handler=_noop)
    registry = _registry(spec)
    assert registry.parse("block @spammer").values["who"] == Target("github", "spammer")
    assert registry.parse("block discord:1234").values["who"] == Target("discord", "1234")
    with pytest.raises(UsageError, match="not a GitHub login"):
        registry.parse("block bad--name")


def test_bind_values_uses_the_same_rules() -> None:
    values = bind_values(ESCALATE, {"project": "p", "kind": "WEBHOOK", "summary": "x y",
                                    "urgent": True})
    assert values["kind"] == "webhook"
    assert values["urgent"] is True
    with pytest.raises(UsageError, match="`kind` is missing"):
        bind_values(ESCALATE, {"project": "p"})


def test_collisions_are_refused() -> None:
    registry = _registry(ESCALATE)
    with pytest.raises(CommandCollision, match="declared by both"):
        registry.add(ESCALATE)
    with pytest.raises(CommandCollision, match="both a command and a group"):
        registry.add(CommandSpec(("escalate", "ack"), "Ack", handler=_noop))
    with pytest.raises(CommandCollision, match="text parameter must come last"):
        registry.add(CommandSpec(("x",), "X", (Text("a", "a"), Arg("b", "b")), handler=_noop))
    with pytest.raises(CommandCollision, match="not a valid command name"):
        registry.add(CommandSpec(("Bad Name",), "X", handler=_noop))


def test_no_two_commands_of_roadie_collide(tmp_path: Path) -> None:
    """Every cog and transport together: the registry refuses any collision at start."""
    roadie = Roadie(make_config(tmp_path, {"bot": {"cogs": DEFAULT_COGS}}), transports=[],
                    use_config_github=False)
    names = [spec.name for spec in roadie.registry]
    assert len(names) == len(set(names))
    assert "help" in names
    for spec in roadie.registry:
        assert spec.help
        assert len(spec.help) <= 100
    roadie.db.dispose()


def test_a_text_option_takes_the_words_up_to_the_next_option() -> None:
    grant = CommandSpec(("grant",), "Give a role", (
        Arg("login", "their login"), Arg("role", "the role"),
        Arg("project", "the project", optional=True, default=""),
        Option("reason", "why", of="text", default=""), Flag("quiet", "say nothing")),
        Role.ADMIN, _noop)
    registry = _registry(grant)
    parsed = registry.parse("grant carol lead django-sample --reason she ran the last "
                            "two releases --quiet")
    assert parsed.values == {"login": "carol", "role": "lead", "project": "django-sample",
                             "reason": "she ran the last two releases", "quiet": True}
    assert registry.parse("grant carol member --reason elected").values["reason"] == "elected"
    assert registry.parse('grant carol member --reason "as agreed"').values["reason"] == \
        "as agreed"
