"""What people read about votes: the status message, the result, reminders, the list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.core.messages import Choice, Field, Message, Tone
from bot.core.moments import relative, when
from governance.votes.models import (
    CANCELLED,
    CLOSED,
    DECLINED,
    NOMINATION,
    OPEN,
    PENDING,
    Ballot,
    Concern,
    Vote,
)
from governance.votes.rules import ABSTAIN, AGAINST, FOR, PASSED, Rules
from governance.votes.service import Standing

CHOICE_LABEL = {FOR: "+1", ABSTAIN: "0", AGAINST: "-1"}
OPTION_LABEL = {"revert": "Revert", "keep": "Keep", "review": "Keep, with a follow-up review"}
RESULT_BALLOTS = 40
TONE: dict[str, Tone] = {PASSED: "success", "failed": "danger", "undecided": "warning"}


def subject(vote: Vote) -> str:
    if vote.kind == NOMINATION:
        return f"{vote.subject} as lead of {vote.project}"
    return f"the direct push {vote.subject[:10]} to {vote.project}"


def title(vote: Vote) -> str:
    return f"Vote #{vote.number}: {subject(vote)}"


def option_label(option: str) -> str:
    return OPTION_LABEL.get(option, option)


def choice_text(choice: str) -> str:
    return CHOICE_LABEL.get(choice, choice)


def ballot_line(ballot: Ballot) -> str:
    advisory = " (advisory)" if not ballot.binding else ""
    reason = f": {ballot.reason}" if ballot.reason else ""
    return f"{ballot.display} {choice_text(ballot.choice)}{advisory}{reason}"


def ballots_text(ballots: Sequence[Ballot], rules: Rules, *, revealed: bool,
                 total: int | None = None) -> str:
    """The ballots, or who cast them when secret; `ballots` may be the latest of `total`."""
    total = len(ballots) if total is None else total
    if not total:
        return "none yet"
    earlier = total - len(ballots)
    if rules.secret and not revealed:
        names = ", ".join(b.display for b in ballots)
        by = f"{names} and {earlier} more" if earlier else names
        return f"{total} cast, by {by} (secret until the close)"
    text = "; ".join(ballot_line(b) for b in ballots)
    return f"{earlier} earlier, then: {text}" if earlier else text


COUNT_LABEL = {FOR: "for", AGAINST: "against", ABSTAIN: "abstaining"}


def counts_text(counts: dict[str, int], rules: Rules) -> str:
    return ", ".join(f"{counts.get(s, 0)} {COUNT_LABEL.get(s, s)}"
                     for s in (*rules.sides, ABSTAIN))


def tally_text(binding: dict[str, int], advisory: dict[str, int], rules: Rules) -> str:
    text = f"binding: {counts_text(binding, rules)}"
    if sum(advisory.values()):
        text += f"; advisory (not counted): {counts_text(advisory, rules)}"
    return text


def how_to_vote(vote: Vote, rules: Rules) -> str:
    if vote.kind == NOMINATION:
        return f"Vote with `/vote {vote.number} +1|0|-1 [reason]`."
    return (f"Vote with `/vote {vote.number} {'|'.join(rules.sides)}|0 [reason]` "
            f"({', '.join(f'{o}: {option_label(o)}' for o in rules.sides)}).")


def ballot_choices(vote: Vote, rules: Rules) -> tuple[Choice, ...]:
    if vote.kind == NOMINATION:
        return (Choice("+1", f"vote {vote.number} +1", "success"),
                Choice("0", f"vote {vote.number} 0"),
                Choice("-1", f"vote {vote.number} -1", "danger"))
    return (*(Choice(option_label(o), f"vote {vote.number} {o}", "primary")
              for o in rules.sides), Choice("Abstain", f"vote {vote.number} 0"))


def status(vote: Vote, standing: Standing, concerns: Sequence[Concern],
           now: datetime) -> Message:
    """The vote's one status message, edited in place as things happen."""
    rules = Rules.from_data(vote.rules_data())
    closed = vote.state not in (PENDING, OPEN)
    fields = [Field("Proposed by", vote.proposer), Field("Rules", rules.describe(), False),
              Field("Electorate", f"{len(vote.voters())} binding voters "
                                  f"({'the org' if rules.electorate == 'org' else 'the team'})")]
    choices: tuple[Choice, ...] = ()
    if vote.state == PENDING:
        assert vote.accept_by is not None
        by = f"{when(vote.accept_by)} ({relative(vote.accept_by, now)})"
        fields.append(Field("Waiting for", f"{vote.subject} to accept, by {by}", False))
        choices = (Choice("Accept", f"vote accept {vote.number}", "success"),
                   Choice("Decline", f"vote decline {vote.number}"))
    elif vote.ballot_opened_at is not None:  # not a nomination declined or lapsed unopened
        revealed = closed or not rules.secret
        fields.append(Field("Ballots", ballots_text(standing.latest, rules, revealed=revealed,
                                                    total=standing.total), False))
        if revealed and standing.total:
            fields.append(Field("Count", tally_text(standing.binding, standing.advisory, rules),
                                False))
    if vote.state == OPEN:
        assert vote.closes_at is not None
        closes = f"{when(vote.closes_at)} ({relative(vote.closes_at, now)})"
        if concerns and vote.closes_at <= now:
            closes = "held by open concerns"
        fields.append(Field("Closes", closes))
        choices = ballot_choices(vote, rules)
    if concerns:
        fields.append(Field("Open concerns", "; ".join(f"{c.name!r} by {c.author}"
                                                       for c in concerns), False))
    if closed:
        fields.append(Field("Result", result_text(vote), False))
    footer = how_to_vote(vote, rules) if vote.state == OPEN else ""
    return Message(title=title(vote), body=vote.reason, fields=tuple(fields), choices=choices,
                   tone=TONE.get(vote.outcome, "info") if closed else "info", footer=footer,
                   private_choices=rules.secret and vote.state == OPEN)


def result_text(vote: Vote) -> str:
    if vote.state == CLOSED:
        if vote.kind == NOMINATION:
            verdict = "passed" if vote.outcome == PASSED else "failed"
        elif vote.outcome in ("undecided", "failed"):
            verdict = "no decision"
        else:
            verdict = f"decided: {option_label(vote.outcome)}"
        return f"{verdict} ({vote.explanation})"
    if vote.state in (CANCELLED, DECLINED):
        return vote.explanation
    return f"{vote.state}: {vote.explanation}"


def opened_reply(vote: Vote) -> str:
    if vote.state == PENDING:
        assert vote.accept_by is not None
        return (f"Nomination #{vote.number} is made; {vote.subject} has been asked to accept "
                f"by {when(vote.accept_by)} (`/vote accept {vote.number}`). The ballot opens "
                "then.")
    assert vote.closes_at is not None
    return (f"Vote #{vote.number} on {subject(vote)} is open until {when(vote.closes_at)}. "
            f"`/vote {vote.number}` shows it.")


def nominee_request(vote: Vote) -> Message:
    assert vote.accept_by is not None
    return Message(
        title=f"You are nominated as a lead of {vote.project}",
        body=f"{vote.proposer} nominated you: {vote.reason}",
        fields=(Field("Answer by", when(vote.accept_by)),),
        choices=(Choice("Accept", f"vote accept {vote.number}", "success"),
                 Choice("Decline", f"vote decline {vote.number}")),
        footer="The ballot opens when you accept; a nomination you do not answer lapses.")


def unreminded(vote: Vote, logins: Sequence[str], now: datetime) -> Message:
    """To the proposer: voters Roadie could not remind, having no chat account to reach."""
    assert vote.closes_at is not None
    return Message(title=f"Vote #{vote.number} closes {relative(vote.closes_at, now)}: "
                         f"{len(logins)} voter(s) could not be reminded",
                   body=f"{', '.join(logins)} have not voted on {subject(vote)} and have no "
                        "chat account linked to Roadie, so Roadie could not remind them. Ask "
                        f"them on GitHub or elsewhere: `/vote {vote.number}` shows the vote.",
                   mentions=(vote.proposer,), tone="warning")


def waiting_line(vote: Vote, now: datetime) -> str:
    assert vote.accept_by is not None
    return (f"#{vote.number} {subject(vote)}: waits for {vote.subject} to accept, until "
            f"{relative(vote.accept_by, now)}")


def reminder(vote: Vote, now: datetime) -> Message:
    assert vote.closes_at is not None
    rules = Rules.from_data(vote.rules_data())
    return Message(title=f"Vote #{vote.number} closes {relative(vote.closes_at, now)}",
                   body=f"You have not voted on {subject(vote)} yet. {how_to_vote(vote, rules)}",
                   choices=ballot_choices(vote, rules))


def result(vote: Vote, ballots: Sequence[Ballot]) -> Message:
    """The announcement of a closed vote, to the project's feed: the full tally, and the
    ballots (the last RESULT_BALLOTS of them; the audit log holds every one)."""
    rules = Rules.from_data(vote.rules_data())
    tally = json.loads(vote.tally)
    shown = ballots[-RESULT_BALLOTS:]
    fields = (Field("Count", tally_text(tally["binding"], tally["advisory"], rules), False),
              Field("Ballots", ballots_text(shown, rules, revealed=True, total=len(ballots)),
                    False))
    return Message(title=f"Vote #{vote.number} closed: {subject(vote)}",
                   body=_sentence(result_text(vote)), fields=fields,
                   tone=TONE.get(vote.outcome, "info"))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def listing(votes: Sequence[Vote], now: datetime) -> str:
    if not votes:
        return "No votes are open. `/nominate` or `/dispute` opens one."
    lines = []
    for vote in votes:
        if vote.state == PENDING:
            state = f"waits for {vote.subject} to accept"
        else:
            assert vote.closes_at is not None
            state = f"closes {relative(vote.closes_at, now)}"
        lines.append(f"#{vote.number} {subject(vote)}: {state}")
    return "Open votes:\n" + "\n".join(lines)


def digest_line(vote: Vote, now: datetime, standing: Standing | None) -> str:
    if vote.state == OPEN and vote.closes_at is not None:
        count = ""
        if standing is not None:
            count = f" ({sum(standing.binding.values())} binding ballot(s))"
        return f"#{vote.number} {subject(vote)}: closes {relative(vote.closes_at, now)}{count}"
    return f"#{vote.number} {subject(vote)}: {result_text(vote)}"


def casting_reply(vote: Vote, ballot: Ballot, previous: str | None, rules: Rules, *,
                  closing: bool = False) -> str:
    """The answer to a ballot; `closing` when this ballot settled the vote, which closes."""
    if previous is None:
        kind = "binding" if ballot.binding else "advisory"
        said = f"Your {kind} ballot on vote #{vote.number} is {choice_text(ballot.choice)}."
    elif previous == ballot.choice:
        said = f"Your ballot on vote #{vote.number} stays {choice_text(ballot.choice)}."
    else:
        said = (f"Your ballot on vote #{vote.number} changed from {choice_text(previous)} to "
                f"{choice_text(ballot.choice)}.")
    notes = [] if ballot.binding else ["You are not in the electorate: it is shown, not counted."]
    if (rules.threshold == "consensus" and ballot.binding and not ballot.reason
            and vote.kind == NOMINATION and ballot.choice == AGAINST):
        notes.append(f"Under consensus an objection without a reason has no weight; give one "
                     f"with `/vote {vote.number} {ballot.choice} <reason>`.")
    if rules.secret:
        notes.append("How you voted stays secret until the close.")
    if not closing:
        notes.append("You can change it until the close.")
    return " ".join([said, *notes])
