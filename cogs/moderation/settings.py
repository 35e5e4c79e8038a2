"""The `[moderation]` config section."""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import Field, field_validator

from bot.core.settings import Duration, Section
from governance.moderation.service import RetryPolicy
from governance.moderation.signals import Thresholds

STANDING = ("org-member", "project-lead", "account-age")
APPEAL_FIELDS = {"org", "case", "reason", "how"}
DEFAULT_APPEAL = ("You are being blocked from the {org} community (case #{case}): {reason}. "
                  "If you think this is a mistake, appeal: {how}.")


def how_to_appeal(settings: ModerationSettings, org: str, case: int) -> str:
    """How a blocked person appeals, for the notice they get."""
    chat = "`/appeal <why>` to Roadie in a direct message, if you are still in chat"
    repo = settings.appeals_repo_name(org)
    if not repo:
        return f"{chat}, or write to the {org} moderators and name case #{case}"
    template = f"https://github.com/{repo}/issues/new?template=appeal.yml"
    return f"open an issue from the appeal template ({template}), or {chat}"


class SignalSettings(Section):
    alert_score: int = Field(default=3, ge=1)
    auto_block_score: int | None = Field(default=None, ge=1)
    new_account_age: Duration = Field(default="30d", validate_default=True)  # type: ignore[assignment]
    min_public_repos: int = Field(default=1, ge=0)
    min_followers: int = Field(default=1, ge=0)
    name_patterns: list[str] = Field(default_factory=list)
    join_burst: int = Field(default=5, ge=0)
    join_window: Duration = Field(default="10m", validate_default=True)  # type: ignore[assignment]

    @field_validator("name_patterns")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression ({error})") from None
        return patterns

    def thresholds(self) -> Thresholds:
        return Thresholds(new_account_age=self.new_account_age,
                          min_public_repos=self.min_public_repos,
                          min_followers=self.min_followers,
                          name_patterns=tuple(self.name_patterns), join_burst=self.join_burst)


class ModerationSettings(Section):
    two_person: Literal["always", "established", "never"] = "established"
    standing: list[Literal["org-member", "project-lead", "account-age"]] = Field(
        default_factory=lambda: list(STANDING))
    established_age: Duration = Field(default="365d", validate_default=True)  # type: ignore[assignment]
    confirm_window: Duration = Field(default="24h", validate_default=True)  # type: ignore[assignment]
    rate_limit: int = Field(default=20, ge=1)
    rate_window: Duration = Field(default="1h", validate_default=True)  # type: ignore[assignment]
    delete_message_days: int = Field(default=0, ge=0, le=7)
    appeal_message: str = DEFAULT_APPEAL
    appeals_repo: str = Field(default="", max_length=140, pattern=r"^([\w.-]+/)?[\w.-]*$")
    appeal_label: str = Field(default="appeal", max_length=50)
    retry_wait: Duration = Field(default="30s", validate_default=True)  # type: ignore[assignment]
    max_retry_wait: Duration = Field(default="1h", validate_default=True)  # type: ignore[assignment]
    give_up_after: int = Field(default=12, ge=1)
    signals: SignalSettings = SignalSettings()

    @field_validator("appeal_message")
    @classmethod
    def _placeholders(cls, text: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as error:
            raise ValueError(f"not a valid message template ({error})") from None
        unknown = names - APPEAL_FIELDS
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use "
                             + ", ".join(f"{{{n}}}" for n in sorted(APPEAL_FIELDS)))
        return text

    def appeals_repo_name(self, org: str) -> str:
        """The appeals repository's full name (`owner/name`), or "" when there is none."""
        repo = self.appeals_repo
        return "" if not repo else repo if "/" in repo else f"{org}/{repo}"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_wait, self.max_retry_wait, self.give_up_after)
