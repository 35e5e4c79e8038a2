"""The `[voting]` section of the config, with a table of rules per kind of vote."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.core.settings import Duration, Section, duration_default
from governance.votes.models import DISPUTE, NOMINATION
from governance.votes.rules import Rules, parse_fraction

_OPTION = re.compile(r"[a-z][a-z0-9-]{0,19}")
_TEAM = re.compile(r"[A-Za-z0-9._{}-]{1,100}")


class KindRules(Section):
    """The rules of one kind of vote (defaults after Apache's votes and rfcbot)."""

    electorate: Literal["project-team", "org"] = "org"
    advisory: bool = True
    min_duration: Duration = duration_default("72h")
    quorum: int = Field(default=3, ge=1, le=1000)
    threshold: Literal["majority", "supermajority", "consensus"] = "majority"
    fraction: Fraction = Fraction(2, 3)
    """At least this share of the binding ballots that take a side (supermajority)."""
    secret: bool = False

    @field_validator("fraction", mode="before")
    @classmethod
    def _fraction(cls, value: object) -> Fraction:
        fraction = parse_fraction(value)
        if not Fraction(1, 2) < fraction <= 1:
            raise ValueError(f"{value!r} is not more than 1/2 and at most 1; write one such "
                             'as "2/3" or 0.75')
        return fraction


class NominationRules(KindRules):
    threshold: Literal["majority", "supermajority", "consensus"] = "consensus"
    nominee_accepts: bool = True
    accept_within: Duration = duration_default("7d")

    def rules(self) -> Rules:
        return Rules(kind=NOMINATION, electorate=self.electorate, advisory=self.advisory,
                     min_duration=self.min_duration, quorum=self.quorum,
                     threshold=self.threshold, fraction=self.fraction, secret=self.secret)


class DisputeRules(KindRules):
    options: list[str] = Field(default_factory=lambda: ["revert", "keep", "review"])
    escalate_on: list[str] = Field(default_factory=lambda: ["revert"])

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str]) -> list[str]:
        for option in value:
            if not _OPTION.fullmatch(option):
                raise ValueError(f"{option!r} is not an option name: use lower-case letters, "
                                 "digits and hyphens, starting with a letter, such as revert")
        if len(value) < 2 or len(set(value)) != len(value):
            raise ValueError("expected at least two different options, such as "
                             '["revert", "keep", "review"]')
        return value

    @model_validator(mode="after")
    def _escalations_are_options(self) -> DisputeRules:
        unknown = [o for o in self.escalate_on if o not in self.options]
        if unknown:
            raise ValueError(f"escalate_on names {', '.join(unknown)}, which is not among the "
                             f"options ({', '.join(self.options)})")
        return self

    def rules(self) -> Rules:
        return Rules(kind=DISPUTE, electorate=self.electorate, advisory=self.advisory,
                     min_duration=self.min_duration, quorum=self.quorum,
                     threshold=self.threshold, fraction=self.fraction, secret=self.secret,
                     options=tuple(self.options))


class VotingSettings(Section):
    check_interval: Duration = duration_default("1m")
    remind_before: Duration = duration_default("24h")
    project_team: str = "{project}"
    leads_team: str = "{project}-leads"
    invitation_expires_after: Duration = duration_default("7d")
    escalation_kind: str = "permissions"
    nomination: NominationRules = Field(default_factory=NominationRules)
    dispute: DisputeRules = Field(default_factory=DisputeRules)

    @field_validator("project_team", "leads_team")
    @classmethod
    def _team(cls, value: str) -> str:
        if not _TEAM.fullmatch(value) or value.replace("{project}", "x").count("{"):
            raise ValueError("expected a GitHub team slug, where {project} stands for the "
                             "project's name, such as {project}-leads")
        return value

    def team(self, pattern: str, project: str) -> str:
        return pattern.replace("{project}", project.lower())
