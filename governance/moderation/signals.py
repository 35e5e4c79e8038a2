"""Spam signals: how suspicious a newcomer looks, from what is known of their account.

A pure function of the facts and the thresholds; unknown facts score nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from governance.durations import format_duration


@dataclass(frozen=True)
class Weights:
    new_account: int = 2
    few_repos: int = 1
    few_followers: int = 1
    empty_profile: int = 1
    name_pattern: int = 2
    join_burst: int = 2


@dataclass(frozen=True)
class Thresholds:
    new_account_age: timedelta
    min_public_repos: int
    min_followers: int
    name_patterns: tuple[str, ...]
    join_burst: int
    weights: Weights = Weights()


@dataclass(frozen=True)
class Newcomer:
    """What is known of someone who joined; None where it is not known."""

    names: tuple[str, ...]
    """The login and display names, matched against the name patterns."""
    created_at: datetime | None = None
    public_repos: int | None = None
    followers: int | None = None
    empty_profile: bool | None = None
    recent_joins: int = 1
    """Joins on the same platform within the join window, this one included."""


@dataclass(frozen=True)
class Signal:
    name: str
    points: int
    detail: str


@dataclass(frozen=True)
class Score:
    points: int
    signals: tuple[Signal, ...]

    def summary(self) -> str:
        return ", ".join(s.detail for s in self.signals)


def score(newcomer: Newcomer, thresholds: Thresholds, now: datetime) -> Score:
    weights = thresholds.weights
    found: list[Signal] = []
    if newcomer.created_at is not None:
        age = now - newcomer.created_at
        if age < thresholds.new_account_age:
            found.append(Signal("new_account", weights.new_account,
                                f"account {format_duration(max(age, timedelta()))} old"))
    if newcomer.public_repos is not None and newcomer.public_repos < thresholds.min_public_repos:
        found.append(Signal("few_repos", weights.few_repos,
                            _count(newcomer.public_repos, "public repository",
                                   "public repositories")))
    if newcomer.followers is not None and newcomer.followers < thresholds.min_followers:
        found.append(Signal("few_followers", weights.few_followers,
                            _count(newcomer.followers, "follower", "followers")))
    if newcomer.empty_profile:
        found.append(Signal("empty_profile", weights.empty_profile, "empty profile"))
    if any(re.search(p, name) for p in thresholds.name_patterns for name in newcomer.names):
        found.append(Signal("name_pattern", weights.name_pattern, "name matches a spam pattern"))
    if thresholds.join_burst and newcomer.recent_joins >= thresholds.join_burst:
        found.append(Signal("join_burst", weights.join_burst,
                            f"one of {newcomer.recent_joins} joins in a short time"))
    return Score(sum(s.points for s in found), tuple(found))


def _count(n: int, one: str, many: str) -> str:
    if n == 0:
        return f"no {many}"
    return f"{n} {one if n == 1 else many}"
