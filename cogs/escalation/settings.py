"""The `[escalations]` section of the config."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from bot.core.settings import Duration, Section, duration_default
from governance.escalations.models import NORMAL, URGENT
from governance.escalations.policy import DEFAULT_KINDS, Assignment, Deadlines, Policy

_KIND = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")


class EscalationSettings(Section):
    kinds: list[str] = Field(default_factory=lambda: list(DEFAULT_KINDS), min_length=1)
    normal_acknowledge_within: Duration = duration_default("72h")
    normal_resolve_within: Duration = duration_default("7d")
    urgent_acknowledge_within: Duration = duration_default("4h")
    urgent_resolve_within: Duration = duration_default("24h")
    reminder_points: list[int] = Field(default_factory=lambda: [50, 90])
    breach_repeat: Duration = duration_default("24h")
    assignment: Assignment = "balanced"
    max_away: Duration = duration_default("90d")
    sweep_interval: Duration = duration_default("1m")
    github_repo: str = ""

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        for kind in value:
            if not _KIND.fullmatch(kind):
                raise ValueError(f"{kind!r} is not a kind: use lower-case letters, digits and "
                                 "hyphens, such as required-checks")
        if len(set(value)) != len(value):
            raise ValueError("a kind is listed twice")
        return value

    @field_validator("reminder_points")
    @classmethod
    def _points(cls, value: list[int]) -> list[int]:
        if any(not 1 <= p <= 99 for p in value) or value != sorted(set(value)):
            raise ValueError("expected percentages of the window between 1 and 99, ascending, "
                             "such as [50, 90]")
        return value

    @field_validator("github_repo")
    @classmethod
    def _repo(cls, value: str) -> str:
        if value and not _REPO.fullmatch(value):
            raise ValueError("expected the name of a repository of the org, without the owner, "
                             "such as help")
        return value

    @model_validator(mode="after")
    def _acknowledge_before_resolve(self) -> EscalationSettings:
        for severity in (NORMAL, URGENT):
            if (getattr(self, f"{severity}_acknowledge_within")
                    > getattr(self, f"{severity}_resolve_within")):
                raise ValueError(f"{severity}_acknowledge_within is longer than "
                                 f"{severity}_resolve_within; a ticket is acknowledged first")
        return self

    def policy(self) -> Policy:
        return Policy(
            kinds=tuple(self.kinds),
            deadlines={
                NORMAL: Deadlines(self.normal_acknowledge_within, self.normal_resolve_within),
                URGENT: Deadlines(self.urgent_acknowledge_within, self.urgent_resolve_within)},
            reminder_points=tuple(p / 100 for p in self.reminder_points),
            breach_repeat=self.breach_repeat, assignment=self.assignment,
            max_away=self.max_away)
