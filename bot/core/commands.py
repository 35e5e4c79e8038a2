"""Commands, declared once and rendered by every transport.

A command has a path (`("escalation", "ack")`), a description, typed parameters and the
least role allowed. Text transports parse `/escalation ack 5` with `CommandRegistry.parse`;
Discord builds slash commands from the same declarations and binds the values it receives
with `bind_values`. Parameter kinds:

- `word`, `int`, `duration`, `login`, `target`, `choice`: one token each;
- `text`: the rest of the line (quotes optional), always last;
- `flag`: `--name`, a boolean; `option`: `--name value` (typed by `of`); an option of
  `text` takes every word up to the next option or the end (`--reason it was spam`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from governance.audit import Actor
from governance.durations import DURATION_HINT, parse_duration
from governance.errors import Forbidden, Refusal
from governance.people.roles import Role
from governance.people.service import LOGIN_HINT, Profile, normalize_login

Kind = Literal["word", "int", "duration", "login", "target", "choice", "text", "flag", "option"]
ValueKind = Literal["word", "int", "duration", "login", "target", "choice", "text"]

NAME = re.compile(r"[a-z0-9][-_a-z0-9]{0,31}")
MAX_DESCRIPTION = 100
MAX_PARAMS = 25


@dataclass(frozen=True)
class Param:
    name: str
    help: str
    kind: Kind = "word"
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()
    of: ValueKind = "word"
    autocomplete: str = ""

    @property
    def positional(self) -> bool:
        return self.kind not in ("flag", "option")

    @property
    def value_kind(self) -> str:
        return self.of if self.kind == "option" else self.kind

    def usage(self) -> str:
        if self.kind == "flag":
            return f"[--{self.name}]"
        if self.kind == "option":
            return f"[--{self.name} <{self.of}>]"
        shown = "|".join(self.choices) if self.kind == "choice" else self.name
        shown = f"{shown}…" if self.kind == "text" else shown
        return f"<{shown}>" if self.required else f"[{shown}]"


def Arg(name: str, help: str, *, kind: ValueKind = "word", optional: bool = False,
        default: Any = None, choices: Iterable[str] = (), autocomplete: str = "") -> Param:
    """A positional parameter of one token."""
    kind = "choice" if choices and kind == "word" else kind
    return Param(name, help, kind, not optional, default, tuple(choices), "word", autocomplete)


def Text(name: str, help: str, *, optional: bool = False, default: str = "") -> Param:
    """The rest of the line."""
    return Param(name, help, "text", not optional, default)


def Flag(name: str, help: str) -> Param:
    return Param(name, help, "flag", False, False)


def Option(name: str, help: str, *, of: ValueKind = "word", default: Any = None,
           choices: Iterable[str] = ()) -> Param:
    return Param(name, help, "option", False, default, tuple(choices), of)


@dataclass(frozen=True)
class Target:
    """Who a moderation command is aimed at: a GitHub login or a chat account."""

    platform: str
    id: str

    def __str__(self) -> str:
        return self.id if self.platform == "github" else f"{self.platform}:{self.id}"


_TARGET = re.compile(r"(discord|zulip|console):(\S+)")


@dataclass(frozen=True)
class Invocation:
    """One use of a command: who, where, when."""

    platform: str
    user_id: str
    display_name: str
    place: str
    profile: Profile
    now: datetime

    @property
    def actor(self) -> Actor:
        if self.profile.login:
            return Actor.github(self.profile.login)
        return Actor.chat(self.platform, self.user_id)

    def require_linked(self) -> str:
        """The caller's GitHub login, or a refusal explaining how to link."""
        if not self.profile.login:
            raise Forbidden("Roadie does not know your GitHub login yet.",
                            "Run `/link <github-login>` first.")
        return self.profile.login


Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class CommandSpec:
    path: tuple[str, ...]
    help: str
    params: tuple[Param, ...] = ()
    role: Role = Role.ANYONE
    handler: Handler | None = None
    platforms: frozenset[str] | None = None
    group_default: bool = False
    owner: str = ""

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def usage(self) -> str:
        words = [*self.path[:-1], f"[{self.path[-1]}]"] if self.group_default else self.path
        return " ".join(["/" + " ".join(words), *(p.usage() for p in self.params)])

    def available_on(self, platform: str) -> bool:
        return self.platforms is None or platform in self.platforms

    def describe(self) -> str:
        lines = [f"`{self.usage()}`", self.help]
        for p in self.params:
            extra = f" (one of: {', '.join(p.choices)})" if p.choices else ""
            lines.append(f"- `{p.name}`: {p.help}{extra}")
        if self.role > Role.ANYONE:
            lines.append(f"Needs the {self.role.label} role.")
        return "\n".join(lines)


class UsageError(Refusal):
    """The words of a command did not fit its declaration."""

    def __init__(self, reason: str, spec: CommandSpec | None = None, hint: str = "") -> None:
        if spec is not None and not hint:
            hint = f"Usage: `{spec.usage()}` (`/help {spec.name}` explains it)."
        super().__init__(reason, hint or "`/help` lists the commands.")
        self.spec = spec


class CommandCollision(Exception):
    pass


# --- tokens -------------------------------------------------------------------------------

_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’"}


@dataclass(frozen=True)
class Token:
    value: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split on white space; a quote that opens a word groups words up to its closing quote.

    Quotes inside a word (`it's`) and quotes that never close are kept as written, so free
    text needs no quoting at all.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, value = i, []
        while i < n and not text[i].isspace():
            char = text[i]
            close = text.find(_QUOTES[char], i + 1) if char in _QUOTES and i == start else -1
            if close >= 0:
                value.append(text[i + 1:close])
                i = close + 1
            else:
                value.append(char)
                i += 1
        tokens.append(Token("".join(value), start, i))
    return tokens


# --- values -------------------------------------------------------------------------------


def convert(param: Param, raw: Any, spec: CommandSpec | None = None) -> Any:
    """Turn a raw value into the parameter's type, or raise a UsageError saying what fits."""
    kind = param.value_kind
    if kind == "flag":
        return bool(raw)
    text = str(raw).strip()
    try:
        if kind == "int":
            if isinstance(raw, int):
                return raw
            return int(text.removeprefix("#"))
        if kind == "duration":
            return raw if isinstance(raw, timedelta) else parse_duration(text)
        if kind == "login":
            return normalize_login(text)
        if kind == "target":
            return parse_target(text)
        if kind == "choice" or param.choices:
            for choice in param.choices:
                if text.lower() == choice.lower():
                    return choice
            raise ValueError(f"one of: {', '.join(param.choices)}")
        return text
    except Refusal as error:
        raise UsageError(f"`{param.name}`: {error.reason}", spec) from None
    except ValueError as error:
        expected = {"int": "a whole number such as 12", "duration": DURATION_HINT,
                    "target": f"{LOGIN_HINT}, or a chat mention"}.get(kind, str(error))
        raise UsageError(f"`{param.name}` should be {expected}, not {text!r}.", spec) from None


def parse_target(text: str) -> Target:
    match = _TARGET.fullmatch(text)
    if match:
        return Target(match.group(1), match.group(2))
    return Target("github", normalize_login(text))


def bind_tokens(spec: CommandSpec, tokens: list[Token], text: str) -> dict[str, Any]:
    """Bind tokens (after the command's path) to its parameters; `text` is the whole line."""
    options = {p.name: p for p in spec.params if not p.positional}
    values: dict[str, Any] = {p.name: p.default for p in spec.params}
    rest: list[Token] = []
    i, options_done = 0, False
    while i < len(tokens):
        token = tokens[i]
        if not options_done and token.value == "--":
            options_done = True
        elif not options_done and token.value.startswith("--") and len(token.value) > 2:
            name, _, inline = token.value[2:].partition("=")
            param = options.get(name)
            if param is None:
                known = ", ".join(f"--{o}" for o in options) or "no options"
                raise UsageError(f"`--{name}` is not an option of /{spec.name} (it takes {known}).",
                                 spec)
            if param.kind == "flag":
                values[name] = True
            else:
                if not inline:
                    if i + 1 >= len(tokens):
                        raise UsageError(f"`--{name}` needs a value.", spec)
                    i += 1
                    inline = tokens[i].value
                    if param.of == "text":
                        words = [tokens[i]]
                        while i + 1 < len(tokens) and not _names_option(tokens[i + 1], options):
                            i += 1
                            words.append(tokens[i])
                        inline = _raw_span(text, words) if len(words) > 1 else inline
                values[name] = convert(param, inline, spec)
        else:
            rest.append(token)
        i += 1
    positionals = [p for p in spec.params if p.positional]
    for param in positionals:
        if param.kind == "text":
            if rest:
                values[param.name] = _raw_span(text, rest) if len(rest) > 1 else rest[0].value
                rest = []
            break
        if not rest:
            break
        values[param.name] = convert(param, rest.pop(0).value, spec)
    if rest:
        extra = " ".join(t.value for t in rest)
        raise UsageError(f"Too many words: {extra!r} does not fit.", spec,
                         hint=f"Usage: `{spec.usage()}`; quote a value that has spaces.")
    for param in positionals:
        if param.required and values.get(param.name) in (None, ""):
            raise UsageError(f"`{param.name}` is missing: {param.help}.", spec)
    return values


def _names_option(token: Token, options: dict[str, Param]) -> bool:
    value = token.value
    return value == "--" or (value.startswith("--") and value[2:].partition("=")[0] in options)


def _raw_span(text: str, tokens: list[Token]) -> str:
    """The text the tokens cover as typed, but only if they are contiguous in it."""
    contiguous = all(not text[a.end:b.start].strip() for a, b in itertools.pairwise(tokens))
    if contiguous:
        return text[tokens[0].start:tokens[-1].end]
    return " ".join(t.value for t in tokens)


def bind_values(spec: CommandSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """Bind already separated values (Discord options) to the parameters, converting each."""
    values: dict[str, Any] = {}
    for param in spec.params:
        value = raw.get(param.name)
        if value is None or value == "":
            if param.required and param.positional:
                raise UsageError(f"`{param.name}` is missing: {param.help}.", spec)
            values[param.name] = param.default
        else:
            values[param.name] = convert(param, value, spec) if param.kind != "text" else str(value)
    return values


# --- the registry -------------------------------------------------------------------------


@dataclass
class Parsed:
    spec: CommandSpec
    values: dict[str, Any] = field(default_factory=dict)


class CommandRegistry:
    def __init__(self) -> None:
        self._specs: dict[tuple[str, ...], CommandSpec] = {}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._specs.values(), key=lambda s: s.path))

    def __len__(self) -> int:
        return len(self._specs)

    def add(self, spec: CommandSpec) -> None:
        check_declaration(spec)
        if spec.path in self._specs:
            other = self._specs[spec.path].owner
            raise CommandCollision(f"/{spec.name} is declared by both {other} and {spec.owner}")
        for path in self._specs:
            shorter, longer = sorted((path, spec.path), key=len)
            if shorter != longer and longer[:len(shorter)] == shorter:
                raise CommandCollision(
                    f"/{' '.join(shorter)} is both a command and a group of /{' '.join(longer)}; "
                    "make it a subcommand with group_default=True"
                )
        if spec.group_default and len(spec.path) > 1:
            group = spec.path[:-1]
            for other in self._specs.values():
                if other.group_default and other.path[:-1] == group:
                    raise CommandCollision(f"/{' '.join(group)} has two default subcommands")
        self._specs[spec.path] = spec

    def get(self, path: tuple[str, ...]) -> CommandSpec | None:
        return self._specs.get(path)

    def groups(self) -> set[tuple[str, ...]]:
        return {spec.path[:i] for spec in self._specs.values() for i in range(1, len(spec.path))}

    def resolve(self, words: list[str]) -> tuple[CommandSpec, int]:
        """The command named by the leading words, and how many words its path took."""
        lowered = [w.lower() for w in words]
        for length in range(min(len(lowered), 3), 0, -1):
            spec = self._specs.get(tuple(lowered[:length]))
            if spec is not None:
                return spec, length
        groups = self.groups()
        for length in range(min(len(lowered), 2), 0, -1):
            group = tuple(lowered[:length])
            if group in groups:
                default = next((s for s in self._specs.values()
                                if s.group_default and s.path[:-1] == group), None)
                if default is not None:
                    return default, length
                subs = sorted(s.path[length] for s in self._specs.values()
                              if s.path[:length] == group)
                raise UsageError(f"/{' '.join(group)} needs a subcommand.",
                                 hint="One of: " + ", ".join(dict.fromkeys(subs)) + ".")
        name = words[0] if words else ""
        near = sorted({s.path[0] for s in self._specs.values() if s.path[0][:2] == name[:2]})
        hint = f"Did you mean: {', '.join('/' + n for n in near)}? " if near else ""
        raise UsageError(f"There is no command /{name}.", hint=hint + "`/help` lists the commands.")

    def parse(self, text: str) -> Parsed:
        """Parse a command line (without its leading `/` or mention)."""
        tokens = tokenize(text)
        if not tokens:
            raise UsageError("That is an empty command.")
        spec, used = self.resolve([t.value for t in tokens])
        return Parsed(spec, bind_tokens(spec, tokens[used:], text))

    def visible(self, role: Role, platform: str) -> list[CommandSpec]:
        return [s for s in self if s.role <= role and s.available_on(platform)]


def check_declaration(spec: CommandSpec) -> None:
    """Refuse declarations that some platform could not render."""
    where = f"/{spec.name} ({spec.owner})"
    if not 1 <= len(spec.path) <= 3:
        raise CommandCollision(f"{where}: a command path has one to three words")
    for word in spec.path:
        if not NAME.fullmatch(word):
            raise CommandCollision(f"{where}: {word!r} is not a valid command name")
    if not spec.help or len(spec.help) > MAX_DESCRIPTION:
        raise CommandCollision(f"{where}: the description must be 1 to {MAX_DESCRIPTION} chars")
    if len(spec.params) > MAX_PARAMS:
        raise CommandCollision(f"{where}: more than {MAX_PARAMS} parameters")
    names = [p.name for p in spec.params]
    if len(set(names)) != len(names):
        raise CommandCollision(f"{where}: two parameters share a name")
    positional = [p for p in spec.params if p.positional]
    seen_optional = False
    for index, param in enumerate(positional):
        if not NAME.fullmatch(param.name):
            raise CommandCollision(f"{where}: {param.name!r} is not a valid parameter name")
        if not param.help or len(param.help) > MAX_DESCRIPTION:
            raise CommandCollision(f"{where}: `{param.name}` needs a help text of at most "
                                   f"{MAX_DESCRIPTION} characters")
        if param.kind == "text" and index != len(positional) - 1:
            raise CommandCollision(f"{where}: a text parameter must come last")
        if seen_optional and param.required:
            raise CommandCollision(f"{where}: a required parameter follows an optional one")
        seen_optional = seen_optional or not param.required


# --- declaring commands on cogs -------------------------------------------------------------

COMMAND_ATTR = "__roadie_command__"


def command(path: str, help: str, *params: Param, role: Role = Role.ANYONE,
            platforms: Iterable[str] | None = None,
            group_default: bool = False) -> Callable[[Handler], Handler]:
    """Declare a method as a command. `path` is the command's words: "escalation ack"."""
    spec = CommandSpec(tuple(path.split()), help, tuple(params), role, None,
                       frozenset(platforms) if platforms is not None else None, group_default)

    def mark(func: Handler) -> Handler:
        setattr(func, COMMAND_ATTR, spec)
        return func

    return mark


def bound_specs(owner: object, owner_name: str) -> list[CommandSpec]:
    """The commands declared on an object's methods, bound to it."""
    specs = []
    for attr in dir(type(owner)):
        spec = getattr(getattr(type(owner), attr), COMMAND_ATTR, None)
        if isinstance(spec, CommandSpec):
            specs.append(replace(spec, handler=getattr(owner, attr), owner=owner_name))
    return specs
