"""The rules of a vote and the count: pure functions of the rules and the ballots.

A nomination is decided between +1 (for) and -1 (against); a dispute between its options
(revert, keep, review). A ballot of 0 abstains: it counts towards the quorum and for no
side. Only binding ballots decide; advisory ones are shown and not counted.

Thresholds:
- `majority`: the leading side has more binding ballots than any other;
- `supermajority`: the leading side has at least `fraction` of the binding ballots that
  took a side (an exact fraction: `2/3` passes 4 of 6; `0.67` does not);
- `consensus`: nobody objects with a reason. A binding ballot against the leading side
  (for a nomination: a -1) must carry a reason, or it has no weight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from typing import Any, Literal

from governance.errors import Refusal
from governance.votes.models import NOMINATION

Electorate = Literal["project-team", "org"]
Threshold = Literal["majority", "supermajority", "consensus"]

FOR, AGAINST, ABSTAIN = "+1", "-1", "0"
PASSED, FAILED, UNDECIDED = "passed", "failed", "undecided"
NOMINATION_SIDES = (FOR, AGAINST)
MAX_DENOMINATOR = 1000


def parse_fraction(value: object) -> Fraction:
    """A threshold fraction as written in the config or stored with a vote: `"2/3"`, `0.75`,
    `"0.67"`. Decimals are read as written (0.67 is 67/100), not as binary floats."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a fraction; write one such as \"2/3\" or 0.75")
    try:
        fraction = Fraction(str(value).strip()) if not isinstance(value, float) \
            else Fraction(repr(value))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{value!r} is not a fraction; write one such as \"2/3\" or 0.75") \
            from None
    return fraction.limit_denominator(MAX_DENOMINATOR)


def fraction_text(fraction: Fraction) -> str:
    """`2/3`, or `75%` when the fraction is a whole percentage."""
    percent = fraction * 100
    if percent.denominator == 1:
        return f"{percent.numerator}%"
    return f"{fraction.numerator}/{fraction.denominator}"


_SPELLINGS = {"+1": FOR, "1": FOR, "-1": AGAINST, "0": ABSTAIN, "+0": ABSTAIN, "-0": ABSTAIN,
              "abstain": ABSTAIN}


@dataclass(frozen=True)
class Rules:
    """How one vote is run; snapshotted into the vote when it opens."""

    kind: str
    electorate: Electorate = "org"
    advisory: bool = True
    min_duration: timedelta = timedelta(hours=72)
    quorum: int = 3
    threshold: Threshold = "majority"
    fraction: Fraction = Fraction(2, 3)
    secret: bool = False
    options: tuple[str, ...] = NOMINATION_SIDES

    @property
    def sides(self) -> tuple[str, ...]:
        """What a ballot may choose besides abstaining."""
        return NOMINATION_SIDES if self.kind == NOMINATION else self.options

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.kind, "electorate": self.electorate, "advisory": self.advisory,
                "min_duration": int(self.min_duration.total_seconds()), "quorum": self.quorum,
                "threshold": self.threshold, "fraction": str(self.fraction),
                "secret": self.secret,
                "options": list(self.options)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Rules:
        return cls(kind=data["kind"], electorate=data["electorate"], advisory=data["advisory"],
                   min_duration=timedelta(seconds=data["min_duration"]), quorum=data["quorum"],
                   threshold=data["threshold"], fraction=parse_fraction(data["fraction"]),
                   secret=data["secret"], options=tuple(data["options"]))

    def describe(self) -> str:
        """The rules in a line, as the status message shows them."""
        rule = {"majority": "more ballots for than against" if self.kind == NOMINATION
                else "more ballots for one option than for any other",
                "supermajority": f"at least {fraction_text(self.fraction)} of the binding "
                                 "ballots that take a side",
                "consensus": "no reasoned objection"}[self.threshold]
        secret = ", secret ballots until the close" if self.secret else ""
        return f"{self.threshold} ({rule}), quorum {self.quorum} binding ballots{secret}"

    def parse_choice(self, text: str) -> str:
        """A ballot's choice as written by a voter, or a Refusal naming the valid ones."""
        word = text.strip().lower()
        if self.kind == NOMINATION:
            choice = _SPELLINGS.get(word)
            if choice is not None:
                return choice
            raise Refusal(f"{text!r} is not a ballot on a nomination.",
                          "Vote +1 (for), 0 (abstain) or -1 (against), such as `/vote 4 +1`.")
        if word in self.options:
            return word
        if word in ("0", "+0", "-0", "abstain"):
            return ABSTAIN
        raise Refusal(f"{text!r} is not an option of this dispute.",
                      "Choose one of: " + ", ".join(self.options) + ", or 0 to abstain.")


@dataclass(frozen=True)
class Cast:
    """A ballot as the count sees it."""

    voter: str
    choice: str
    reason: str = ""
    binding: bool = True


@dataclass(frozen=True)
class Outcome:
    """The result of a count: `result` is passed/failed for a nomination, the winning
    option (or undecided) for a dispute; `explanation` says why in a sentence."""

    result: str
    explanation: str
    binding: dict[str, int] = field(default_factory=dict)
    advisory: dict[str, int] = field(default_factory=dict)
    weightless: tuple[str, ...] = ()

    @property
    def decided(self) -> bool:
        return self.result not in (FAILED, UNDECIDED)

    def tally_data(self) -> dict[str, Any]:
        return {"result": self.result, "explanation": self.explanation,
                "binding": self.binding, "advisory": self.advisory,
                "weightless": list(self.weightless)}


def _counts(ballots: Iterable[Cast], rules: Rules) -> dict[str, int]:
    counter = Counter(b.choice for b in ballots)
    return {choice: counter.get(choice, 0) for choice in (*rules.sides, ABSTAIN)}


def count(rules: Rules, ballots: Iterable[Cast]) -> Outcome:
    """Decide a vote from its ballots under its rules."""
    ballots = list(ballots)
    binding = [b for b in ballots if b.binding]
    counts = _counts(binding, rules)
    advisory = _counts((b for b in ballots if not b.binding), rules)
    failed = FAILED if rules.kind == NOMINATION else UNDECIDED

    def outcome(result: str, why: str, weightless: tuple[str, ...] = ()) -> Outcome:
        return Outcome(result, why, counts, advisory, weightless)

    if len(binding) < rules.quorum:
        return outcome(failed, f"no quorum: {len(binding)} binding ballot(s) of the "
                               f"{rules.quorum} needed")
    leader, runner_up = _leaders(rules, counts)
    taking_sides = sum(counts[s] for s in rules.sides)
    if rules.threshold == "consensus":
        return _consensus(rules, binding, leader, counts, outcome)
    if counts[leader] == 0 or counts[leader] <= counts.get(runner_up, 0):
        return outcome(failed, "not carried: " + _sides_text(rules, counts))
    if rules.threshold == "supermajority" and counts[leader] < rules.fraction * taking_sides:
        return outcome(failed, f"{counts[leader]} of {taking_sides} falls short: at least "
                               f"{fraction_text(rules.fraction)} is needed")
    return _won(rules, leader, counts, outcome)


def _leaders(rules: Rules, counts: dict[str, int]) -> tuple[str, str]:
    """The side with the most ballots and the next one (for a nomination: +1 and -1)."""
    if rules.kind == NOMINATION:
        return FOR, AGAINST
    ranked = sorted(rules.sides, key=lambda s: (-counts[s], rules.sides.index(s)))
    return ranked[0], ranked[1] if len(ranked) > 1 else ""


def _won(rules: Rules, leader: str, counts: dict[str, int], outcome: Any) -> Outcome:
    return outcome(PASSED if rules.kind == NOMINATION else leader,
                   "carried: " + _sides_text(rules, counts))


def _consensus(rules: Rules, binding: list[Cast], leader: str, counts: dict[str, int],
               outcome: Any) -> Outcome:
    failed = FAILED if rules.kind == NOMINATION else UNDECIDED
    against = [b for b in binding if b.choice not in (leader, ABSTAIN)]
    objections = [b for b in against if b.reason.strip()]
    weightless = tuple(sorted(b.voter for b in against if not b.reason.strip()))
    if objections:
        names = ", ".join(sorted(b.voter for b in objections))
        return outcome(failed, f"objected to with a reason by {names}", weightless)
    if counts[leader] == 0:
        return outcome(failed, "nobody voted for it", weightless)
    if rules.kind != NOMINATION and sum(1 for s in rules.sides if counts[s] == counts[leader]) > 1:
        return outcome(failed, "not carried: " + _sides_text(rules, counts), weightless)
    result = PASSED if rules.kind == NOMINATION else leader
    why = "no reasoned objection: " + _sides_text(rules, counts)
    if weightless:
        why += f"; without a reason, the objection of {', '.join(weightless)} has no weight"
    return outcome(result, why, weightless)


def _sides_text(rules: Rules, counts: dict[str, int]) -> str:
    if rules.kind == NOMINATION:
        text = f"{counts[FOR]} for, {counts[AGAINST]} against"
    else:
        text = ", ".join(f"{counts[s]} {s}" for s in rules.sides)
    return text + (f", {counts[ABSTAIN]} abstaining" if counts[ABSTAIN] else "")


def settled(rules: Rules, ballots: list[Cast], electorate: Iterable[str]) -> bool:
    """Whether a vote may close before its deadline: every binding voter has voted, and no
    one of them could change the outcome by changing their ballot."""
    binding = {b.voter for b in ballots if b.binding}
    if not set(electorate) <= binding:
        return False
    result = count(rules, ballots).result
    # The count sees only choices and whether a reason was given, so one voter of each kind
    # stands for all of that kind: at most a few dozen recounts, however many voted.
    kinds: dict[tuple[str, bool], int] = {}
    for index, ballot in enumerate(ballots):
        if ballot.binding:
            kinds.setdefault((ballot.choice, bool(ballot.reason.strip())), index)
    for index in kinds.values():
        voter = ballots[index].voter
        for choice in (*rules.sides, ABSTAIN):
            for reason in ("", "a reason"):
                changed = [*ballots[:index], Cast(voter, choice, reason, True),
                           *ballots[index + 1:]]
                if count(rules, changed).result != result:
                    return False
    return True
