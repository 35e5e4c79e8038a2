"""The `[onboarding]` section of the config, with the default checklist."""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.core.settings import Duration, Section, duration_default
from governance.onboarding.tasklist import ItemSpec

KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
PLACEHOLDERS = ("org", "project", "sender", "admin_wait")
Who = Literal["member", "lead", "admin"]

DEFAULT_TITLE = "Welcome to {org}: the onboarding checklist of {project}"
DEFAULT_INTRO = (
    "Welcome to {org}, {project}! This checklist tracks the steps of moving in. Tick each "
    "item when it is done, here or in chat with `/onboarding {project} done <item>`. Each "
    "line says who can do it. The items only an org admin can do are escalated to the admins "
    "when nothing else is left, or when one has waited {admin_wait}: nobody waits silently. "
    "Closing this issue completes the checklist."
)
DEFAULT_ITEMS: list[dict[str, str]] = [
    {"key": "links", "who": "member",
     "text": "Fix the links to the old repository: README, docs, package metadata"},
    {"key": "badge", "who": "member", "text": "Add the {org} badge to the README"},
    {"key": "contributing", "who": "member",
     "text": "Add the contributing guideline and the code of conduct"},
    {"key": "ci", "who": "member",
     "text": "Check that CI runs on pushes and pull requests, and reports coverage"},
    {"key": "required-checks", "who": "admin",
     "text": "Make the CI jobs required checks on the default branch"},
    {"key": "pypi", "who": "admin",
     "text": "Give {org} the owner role on PyPI (needed for trusted publishing)"},
    {"key": "docs", "who": "lead", "text": "Add the {org} bot as a maintainer on Read the Docs"},
    {"key": "webhook", "who": "admin",
     "text": "Add the Read the Docs webhook to the repository"},
    {"key": "project-url", "who": "lead",
     "text": "Fix the project URL on PyPI and in the repository's About box"},
    {"key": "services", "who": "lead",
     "text": "Move other services (coverage, pre-commit, badges) to the new repository"},
    {"key": "lead", "who": "admin", "text": "Decide who leads the project, and appoint them"},
    {"key": "release", "who": "admin",
     "text": "Set up the release workflow and its secrets"},
]
DEFAULT_ESCALATION_KINDS = {"required-checks": "required-checks", "pypi": "pypi",
                            "webhook": "webhook", "lead": "permissions", "release": "release"}
FALLBACK_KIND = "other"


def _check_placeholders(text: str, where: str) -> None:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None and name not in PLACEHOLDERS:
            raise ValueError(f"{where}: unknown placeholder {{{name}}}; use "
                             + ", ".join("{" + p + "}" for p in PLACEHOLDERS))


class ItemSetting(Section):
    key: str
    who: Who
    text: str = Field(min_length=1, max_length=300)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY.fullmatch(value):
            raise ValueError(f"{value!r} is not an item key: use lower-case letters, digits "
                             "and hyphens, such as required-checks")
        return value


class OnboardingSettings(Section):
    actions: list[Literal["transferred", "created"]] = Field(
        default_factory=lambda: ["transferred", "created"])
    exclude: list[str] = Field(default_factory=lambda: [".github", ".github-private"])
    title: str = Field(default=DEFAULT_TITLE, min_length=1, max_length=200)
    intro: str = DEFAULT_INTRO
    items: list[ItemSetting] = Field(
        default_factory=lambda: [ItemSetting(**item) for item in DEFAULT_ITEMS],
        min_length=1, max_length=50)
    escalation_kinds: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ESCALATION_KINDS))
    lead_item: str = "lead"
    """The item that `/grant <login> lead <project>` ticks ("" for none)."""
    admin_wait: Duration = duration_default("7d")
    stuck_after: Duration = duration_default("14d")
    checkin_after: Duration = duration_default("30d")
    sweep_interval: Duration = duration_default("1m")

    @model_validator(mode="after")
    def _consistent(self) -> OnboardingSettings:
        keys = [item.key for item in self.items]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"items: the key {repeated[0]!r} is used twice; keys name items")
        admin_keys = {item.key for item in self.items if item.who == "admin"}
        for key, kind in self.escalation_kinds.items():
            if key not in admin_keys and "escalation_kinds" in self.model_fields_set:
                raise ValueError(f"escalation_kinds.{key}: no admin item has this key (admin "
                                 f"items: {', '.join(sorted(admin_keys)) or 'none'})")
            if not KEY.fullmatch(kind):
                raise ValueError(f"escalation_kinds.{key}: {kind!r} is not an escalation kind")
        if self.lead_item and self.lead_item not in keys and "lead_item" in self.model_fields_set:
            raise ValueError(f"lead_item: no item has the key {self.lead_item!r} (items: "
                             f"{', '.join(keys)})")
        _check_placeholders(self.title, "title")
        _check_placeholders(self.intro, "intro")
        for index, item in enumerate(self.items):
            _check_placeholders(item.text, f"items[{index}].text")
        return self

    def kind_of(self, key: str) -> str:
        return self.escalation_kinds.get(key, FALLBACK_KIND)

    def item_specs(self, values: dict[str, str]) -> list[ItemSpec]:
        return [ItemSpec(item.key, item.text.format(**values), item.who) for item in self.items]
