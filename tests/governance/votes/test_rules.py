"""The count: quorum, thresholds, consensus and advisory ballots, as pure functions."""

from __future__ import annotations

from fractions import Fraction

import pytest

from governance.errors import Refusal
from governance.votes.models import DISPUTE, NOMINATION
from governance.votes.rules import Cast, Rules, count, parse_fraction, settled

NOMINATION_RULES = Rules(kind=NOMINATION, quorum=3, threshold="majority")
DISPUTE_RULES = Rules(kind=DISPUTE, quorum=3, threshold="majority",
                      options=("revert", "keep", "review"))


def ballots(*choices: str, advisory: tuple[str, ...] = ()) -> list[Cast]:
    cast = [Cast(f"v{i}", c.split(":")[0], c.partition(":")[2]) for i, c in enumerate(choices)]
    return cast + [Cast(f"a{i}", c, "", binding=False) for i, c in enumerate(advisory)]


@pytest.mark.parametrize(("threshold", "choices", "result"), [
    ("majority", ("+1", "+1", "-1"), "passed"),
    ("majority", ("+1", "-1", "0"), "failed"),           # a tie does not carry
    ("majority", ("+1", "0", "0"), "passed"),            # abstentions count for the quorum
    ("majority", ("-1", "-1", "+1"), "failed"),
    ("supermajority", ("+1", "+1", "-1"), "failed"),     # 2/3 < 0.7
    ("supermajority", ("+1", "+1", "+1", "-1"), "passed"),
    ("consensus", ("+1", "+1", "-1"), "passed"),         # an unreasoned -1 has no weight
    ("consensus", ("+1", "+1", "-1:breaks the release"), "failed"),
    ("consensus", ("0", "0", "0"), "failed"),            # nobody for it
])
def test_thresholds_on_a_nomination(threshold: str, choices: tuple[str, ...],
                                    result: str) -> None:
    rules = Rules(kind=NOMINATION, quorum=3, threshold=threshold,  # type: ignore[arg-type]
                  fraction=Fraction(7, 10))
    assert count(rules, ballots(*choices)).result == result


def test_quorum_counts_binding_ballots_only() -> None:
    outcome = count(NOMINATION_RULES, ballots("+1", "+1", advisory=("+1", "+1")))
    assert outcome.result == "failed"
    assert outcome.explanation == "no quorum: 2 binding ballot(s) of the 3 needed"
    assert outcome.advisory["+1"] == 2


def test_advisory_ballots_do_not_decide() -> None:
    outcome = count(NOMINATION_RULES, ballots("+1", "+1", "-1", advisory=("-1",) * 5))
    assert outcome.result == "passed"
    assert outcome.binding == {"+1": 2, "-1": 1, "0": 0}


@pytest.mark.parametrize(("threshold", "choices", "result"), [
    ("majority", ("revert", "revert", "keep"), "revert"),
    ("majority", ("revert", "keep", "review"), "undecided"),
    ("majority", ("review", "review", "0", "keep"), "review"),
    ("supermajority", ("revert", "revert", "keep"), "revert"),
    ("supermajority", ("revert", "keep", "review", "revert"), "undecided"),
    ("consensus", ("keep", "keep", "revert"), "keep"),
    ("consensus", ("keep", "keep", "revert:it skipped the tests"), "undecided"),
])
def test_thresholds_on_a_dispute(threshold: str, choices: tuple[str, ...], result: str) -> None:
    rules = Rules(kind=DISPUTE, quorum=3, threshold=threshold,  # type: ignore[arg-type]
                  fraction=Fraction(66, 100), options=("revert", "keep", "review"))
    assert count(rules, ballots(*choices)).result == result


def test_choices_are_read_as_people_write_them() -> None:
    assert NOMINATION_RULES.parse_choice(" +1 ") == "+1"
    assert NOMINATION_RULES.parse_choice("1") == "+1"
    assert NOMINATION_RULES.parse_choice("abstain") == "0"
    assert DISPUTE_RULES.parse_choice("Revert") == "revert"
    with pytest.raises(Refusal, match="Vote \\+1 \\(for\\), 0 \\(abstain\\) or -1"):
        NOMINATION_RULES.parse_choice("yes")
    with pytest.raises(Refusal, match="Choose one of: revert, keep, review, or 0 to abstain"):
        DISPUTE_RULES.parse_choice("+1")


def test_a_vote_settles_early_only_when_no_single_change_matters() -> None:
    electorate = ["v0", "v1", "v2"]
    assert settled(NOMINATION_RULES, ballots("+1", "+1", "+1"), electorate)
    # One voter changing to -1 would make it a tie: not settled.
    assert not settled(NOMINATION_RULES, ballots("+1", "+1", "-1"), electorate)
    # Someone has not voted yet.
    assert not settled(NOMINATION_RULES, ballots("+1", "+1"), electorate)


def test_rules_survive_their_snapshot() -> None:
    assert Rules.from_data(DISPUTE_RULES.to_data()) == DISPUTE_RULES


def test_two_thirds_is_exact_and_thresholds_say_at_least_or_more_than() -> None:
    four_of_six = ballots("+1", "+1", "+1", "+1", "-1", "-1")
    two_thirds = Rules(kind=NOMINATION, quorum=3, threshold="supermajority",
                       fraction=parse_fraction("2/3"))
    assert count(two_thirds, four_of_six).result == "passed"
    assert "at least 2/3 of the binding ballots that take a side" in two_thirds.describe()
    decimal = Rules(kind=NOMINATION, quorum=3, threshold="supermajority",
                    fraction=parse_fraction(0.67))
    outcome = count(decimal, four_of_six)
    assert outcome.result == "failed"
    assert outcome.explanation == "4 of 6 falls short: at least 67% is needed"
    assert "more ballots for than against" in NOMINATION_RULES.describe()
    assert "more ballots for one option than for any other" in DISPUTE_RULES.describe()
    # Stored with the vote and read back, the fraction stays exact; old floats read as 2/3.
    assert Rules.from_data(two_thirds.to_data()).fraction == Fraction(2, 3)
    assert Rules.from_data({**two_thirds.to_data(), "fraction": 2 / 3}).fraction == \
        Fraction(2, 3)
    with pytest.raises(ValueError, match="not a fraction"):
        parse_fraction("two thirds")
