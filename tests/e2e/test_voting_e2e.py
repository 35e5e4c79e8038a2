"""Votes end to end, on Discord and on Zulip: a vote's one status message in the project's
feed, ballots by button and by command, the same message edited in place as they arrive,
refusals that stay with the one who tried, secret ballots, the close and what follows it
(a lead joins the team; a revert goes to the admins), and a dispute opened from the feed's
direct-push alert.

People vote as their GitHub login: the org on the fake GitHub (ORG_MEMBERS) is the electorate
of a vote of the org, plus the admins (alice); the nominee does not vote."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

from tests.e2e.conftest import MakeWorld
from tests.e2e.harness import World
from tests.fakes.discord import buttons_of, text_of
from tests.support import audit_key_file, eventually, github_payload

ORG_MEMBERS = ("alice", "bob", "carol", "dave", "erin")
"""The org on GitHub, so the electorate of a vote of the org (the nominee aside)."""
MINUTE_VOTES = {"nomination": {"min_duration": "60s", "quorum": 2},
                "dispute": {"min_duration": "60s", "quorum": 2}}
SEND_WAIT = 10.0
"""Discord sends at most 5 messages (edits too) per 5 s in a channel: the close may wait."""
STYLE = {"success": 3, "secondary": 2, "danger": 4}


def org_on_github(world: World) -> None:
    for login in ORG_MEMBERS:
        world.github.add_user(login, member=True)
    world.github.add_user("frank")
    world.github.teams["django-sample-leads"] = set()


def labels(message: dict[str, Any]) -> list[str]:
    return [b["label"] for b in buttons_of(message)]


def votes_on_discord(world: World) -> list[dict[str, Any]]:
    """What Roadie said about votes in the feed channel (links and GitHub activity aside)."""
    return [m for m in world.discord.messages_in(world.channels["feed"])
            if text_of(m).startswith("Vote #")]


def votes_on_zulip(world: World) -> list[dict[str, Any]]:
    return [m for m in world.zulip.messages_in(*world.topics["feed"])
            if m["content"].startswith("**Vote #")]


def line(content: str, name: str) -> str:
    """The value of a field as Zulip shows it (`- **Ballots**: ...`)."""
    prefix = f"- **{name}**: "
    return next((row.removeprefix(prefix) for row in content.splitlines()
                 if row.startswith(prefix)), "")


async def test_a_nomination_voted_with_buttons_on_discord(make_world: MakeWorld) -> None:
    config = {"people": {"members": ["carol", "dave", "erin", "frank"]},
              "voting": {"nomination": {**MINUTE_VOTES["nomination"], "advisory": False}}}
    async with make_world(config) as world:
        org_on_github(world)
        people = {login: world.discord_user(login)
                  for login in ("alice", "carol", "dave", "erin", "frank", "zed")}
        for login, user in people.items():
            await world.link(login, discord=user)
        alice, carol, dave, erin = (people[n] for n in ("alice", "carol", "dave", "erin"))
        stranger = world.discord_user("stranger")  # never linked

        answer = await world.discord.slash(carol, "nominate", login="carol",
                                           project="django-sample",
                                           reason="I would like to lead it")
        assert not answer.ephemeral
        assert answer.text == ("Vote #1 on carol as lead of django-sample is open until "
                               "2026-01-05 09:01 UTC. `/vote 1` shows it.")
        await world.settle()
        [status] = votes_on_discord(world)
        assert text_of(status) == (
            "Vote #1: carol as lead of django-sample\nI would like to lead it\n"
            "Proposed by\ncarol\n"
            "Rules\nconsensus (no reasoned objection), quorum 2 binding ballots\n"
            "Electorate\n4 binding voters (the org)\nBallots\nnone yet\n"
            "Closes\n2026-01-05 09:01 UTC (in 1m)\nVote with `/vote 1 +1|0|-1 [reason]`.")
        assert labels(status) == ["+1", "0", "-1"]
        assert [b["style"] for b in buttons_of(status)] == [STYLE[s] for s in
                                                             ("success", "secondary", "danger")]

        answer = await world.discord.click(dave, status, "+1")
        assert answer.ephemeral
        assert answer.text == ("Your binding ballot on vote #1 is +1. You can change it until "
                               "the close.")
        await eventually(lambda: "Ballots\ndave +1\n" in text_of(status), SEND_WAIT)
        assert "Count\nbinding: 1 for, 0 against, 0 abstaining\n" in text_of(status)

        answer = await world.discord.click(erin, status, "-1")
        assert answer.ephemeral
        assert answer.text == (
            "Your binding ballot on vote #1 is -1. Under consensus an objection without a "
            "reason has no weight; give one with `/vote 1 -1 <reason>`. You can change it "
            "until the close.")
        answer = await world.discord.click(erin, status, "0")
        assert answer.text == ("Your ballot on vote #1 changed from -1 to 0. You can change "
                               "it until the close.")
        answer = await world.discord.click(alice, status, "+1")
        assert answer.text.startswith("Your binding ballot on vote #1 is +1.")
        await eventually(lambda: "Ballots\ndave +1; erin 0; alice +1\n" in text_of(status),
                         SEND_WAIT)
        assert "Count\nbinding: 2 for, 0 against, 1 abstaining\n" in text_of(status)
        assert labels(status) == ["+1", "0", "-1"]  # still open

        refusals = {
            "carol": "✋ The nominee does not vote on their own nomination.",
            "frank": "✋ You are not in the electorate of vote #1 (every member of the org, as "
                     "of its opening), and this vote takes no advisory ballots. An admin can "
                     "read the electorate again with `/vote refresh 1` if you joined since.",
            "zed": "✋ /vote cast needs the member role; Roadie knows you as zed (anyone). Ask "
                   "an admin to grant it with `/grant`.",
            "stranger": "✋ /vote cast needs the member role; Roadie knows you as an unlinked "
                        "chat account (anyone). Link your GitHub account first: "
                        "`/link <github-login>`.",
        }
        for login, refusal in refusals.items():
            answer = await world.discord.click(people.get(login, stranger), status, "+1")
            assert answer.ephemeral, login
            assert answer.text == refusal, login
        await world.settle()
        assert "Ballots\ndave +1; erin 0; alice +1\n" in text_of(status)  # nothing changed

        # One message all along, edited in place: no second status was posted.
        assert [m["id"] for m in votes_on_discord(world)] == [status["id"]]
        assert len(status["edits"]) >= 2
        before_the_close = copy.deepcopy(status)

        await world.advance(61)
        await eventually(lambda: len(votes_on_discord(world)) == 2, SEND_WAIT)
        first, result = votes_on_discord(world)
        assert first["id"] == status["id"]
        assert text_of(status).endswith(
            "Ballots\ndave +1; erin 0; alice +1\n"
            "Count\nbinding: 2 for, 0 against, 1 abstaining\n"
            "Result\npassed (no reasoned objection: 2 for, 0 against, 1 abstaining)")
        assert labels(status) == []  # no more ballots: the buttons are gone
        assert text_of(result) == (
            "Vote #1 closed: carol as lead of django-sample\n"
            "Passed (no reasoned objection: 2 for, 0 against, 1 abstaining)\n"
            "Count\nbinding: 2 for, 0 against, 1 abstaining\n"
            "Ballots\ndave +1; erin 0; alice +1")
        assert labels(result) == []
        await eventually(lambda: "carol is now in the GitHub team django-sample-leads, as "
                                 "vote #1 decided." in world.on_discord("feed"), SEND_WAIT)
        assert world.github.teams["django-sample-leads"] == {"carol"}

        # A button on a copy of the message from before the close no longer casts a ballot.
        answer = await world.discord.click(dave, before_the_close, "-1")
        assert answer.ephemeral
        assert answer.text == ("✋ Vote #1 was closed at 2026-01-05 09:01 UTC: no ballots "
                               "after that. `/vote 1` shows the result.")


async def test_a_secret_nomination_voted_by_command_on_zulip(make_world: MakeWorld,
                                                             tmp_path: Path) -> None:
    config = {"voting": {"nomination": {**MINUTE_VOTES["nomination"], "secret": True}},
              "audit": {"key_file": audit_key_file(tmp_path)}}
    async with make_world(config) as world:
        org_on_github(world)
        names = {"alice": "Alice Liddell", "carol": "Carol Danvers", "dave": "Dave Grohl",
                 "erin": "Erin Brockovich"}
        people = {login: world.zulip_user(name) for login, name in names.items()}
        for login, user in people.items():
            await world.link(login, zulip=user)
        alice, carol, dave, erin = people.values()

        reply = await world.zulip.command(
            carol, "@**Roadie** nominate carol django-sample I would like to lead it",
            stream="general", topic="leads")
        assert (reply["type"], reply["subject"]) == ("stream", "leads")
        assert reply["content"] == ("Vote #1 on carol as lead of django-sample is open until "
                                    "2026-01-05 09:01 UTC. `/vote 1` shows it.")
        await world.settle()
        [status] = votes_on_zulip(world)
        assert status["content"] == (
            "**Vote #1: carol as lead of django-sample**\nI would like to lead it\n"
            "- **Proposed by**: carol\n"
            "- **Rules**: consensus (no reasoned objection), quorum 2 binding ballots, "
            "secret ballots until the close\n"
            "- **Electorate**: 4 binding voters (the org)\n- **Ballots**: none yet\n"
            "- **Closes**: 2026-01-05 09:01 UTC (in 1m)\n"
            "*Vote with `/vote 1 +1|0|-1 [reason]`.*\n"
            "1. +1: `/vote 1 +1`\n2. 0: `/vote 1 0`\n3. -1: `/vote 1 -1`\n"
            "Answer with the command in a direct message to the bot: here, everyone would see "
            "your choice.")
        # Reactions and `/choose` happen where everyone sees them: a secret vote offers neither.
        assert status["reactions"] == []
        reply = await world.zulip.command(dave, "/choose 1", stream="general", topic="leads")
        assert "There is nothing to choose from here." in reply["content"]
        edits = f"/api/v1/messages/{status['id']}"

        # In a stream, by mentioning Roadie: the answer goes to the voter alone.
        reply = await world.zulip.command(dave, "@**Roadie** vote 1 +1 knows the code best",
                                          stream="general", topic="leads")
        assert reply["type"] == "private"
        assert reply["content"] == (
            "Your binding ballot on vote #1 is +1. How you voted stays secret until the "
            "close. You can change it until the close.")
        await world.settle()
        assert line(status["content"], "Ballots") == "1 cast, by dave (secret until the close)"
        assert len(world.zulip.called("PATCH", edits)) == 1

        # In a direct message.
        reply = await world.zulip.command(erin, "vote 1 -1 too early")
        assert reply["type"] == "private"
        assert reply["content"].startswith("Your binding ballot on vote #1 is -1. How you "
                                           "voted stays secret until the close.")
        await world.settle()
        assert line(status["content"], "Ballots") == ("2 cast, by dave, erin (secret until "
                                                      "the close)")
        assert "too early" not in status["content"]
        assert "knows the code" not in status["content"]
        assert "**Count**" not in status["content"]  # a count would tell how they voted

        reply = await world.zulip.command(alice, "/vote 1", stream="general", topic="leads")
        assert line(reply["content"], "Ballots") == ("2 cast, by dave, erin (secret until "
                                                     "the close)")
        assert "too early" not in reply["content"]
        assert [m["id"] for m in votes_on_zulip(world)] == [status["id"]]  # edited, not reposted
        assert len(world.zulip.called("PATCH", edits)) == 2
        assert not [m for m in world.zulip.messages_in("general", "leads")
                    if m["content"].startswith("Your")]  # no ballot was answered in the stream

        await world.advance(61)
        first, result = votes_on_zulip(world)
        assert first["id"] == status["id"]
        assert line(status["content"], "Ballots") == "dave +1: knows the code best; erin -1: " \
                                                     "too early"
        assert line(status["content"], "Result") == "failed (objected to with a reason by erin)"
        assert "/vote 1 +1" not in status["content"]  # no more choices offered
        assert len(world.zulip.called("PATCH", edits)) == 3
        assert result["content"] == (
            "**Vote #1 closed: carol as lead of django-sample**\n"
            "Failed (objected to with a reason by erin)\n"
            "- **Count**: binding: 1 for, 1 against, 0 abstaining\n"
            "- **Ballots**: dave +1: knows the code best; erin -1: too early")
        assert world.github.teams["django-sample-leads"] == set()


async def test_a_secret_ballot_cast_in_a_discord_channel_is_answered_privately(
        make_world: MakeWorld, tmp_path: Path) -> None:
    config = {"voting": {"nomination": {**MINUTE_VOTES["nomination"], "secret": True}},
              "audit": {"key_file": audit_key_file(tmp_path)}}
    async with make_world(config) as world:
        org_on_github(world)
        carol, dave = world.discord_user("carol"), world.discord_user("dave")
        await world.link("carol", discord=carol)
        await world.link("dave", discord=dave)
        await world.discord.slash(carol, "nominate", login="carol", project="django-sample",
                                  reason="I would like to lead it")
        await world.settle()
        [status] = votes_on_discord(world)

        answer = await world.discord.slash(dave, "vote cast", number=1, choice="-1",
                                           reason="too early")
        assert answer.ephemeral
        assert answer.text.startswith("Your binding ballot on vote #1 is -1. How you voted "
                                      "stays secret until the close.")
        await eventually(lambda: "Ballots\n1 cast, by dave (secret until the close)\n"
                                 in text_of(status), SEND_WAIT)
        answer = await world.discord.slash(carol, "vote cast", number=1)  # shows the vote
        assert not answer.ephemeral
        assert "1 cast, by dave (secret until the close)" in answer.text
        assert "too early" not in answer.text


def direct_push(project: str) -> dict[str, Any]:
    """A push to the default branch of `project` by Codertocat, through no pull request."""
    push = github_payload("push/with-new-branch")
    push.update(created=False, before="a" * 40)
    push["repository"].update(name=project, full_name=f"jazzband/{project}")
    return push


async def test_a_dispute_opened_from_a_direct_push_alert_ends_in_a_revert(
        make_world: MakeWorld) -> None:
    async with make_world({"voting": MINUTE_VOTES}) as world:
        org_on_github(world)
        people = {login: world.discord_user(login) for login in ("alice", "carol", "dave",
                                                                 "erin")}
        for login, user in people.items():
            await world.link(login, discord=user)
        alice, carol, dave, erin = people.values()
        push = direct_push("django-sample")
        sha = push["after"]

        await world.webhook("push", push)
        [alert] = [m for m in world.discord.messages_in(world.channels["feed"])
                   if "Direct push" in text_of(m)]
        assert labels(alert) == ["Open a dispute"]
        answer = await world.discord.click(carol, alert, "Open a dispute")
        assert answer.ephemeral
        assert answer.text == (f"Vote #1 on the direct push {sha[:10]} to django-sample is "
                               "open until 2026-01-05 09:01 UTC. `/vote 1` shows it.")
        await world.settle()
        [status] = votes_on_discord(world)
        assert text_of(status).startswith(
            f"Vote #1: the direct push {sha[:10]} to django-sample\n"
            "Codertocat pushed to master without a merged pull request\nProposed by\ncarol\n"
            "Rules\nmajority (more ballots for one option than for any other), quorum 2 "
            "binding ballots\n")
        assert labels(status) == ["Revert", "Keep", "Keep, with a follow-up review", "Abstain"]

        for voter, option in ((alice, "Revert"), (dave, "Revert"), (erin, "Keep")):
            answer = await world.discord.click(voter, status, option)
            assert answer.text.startswith("Your binding ballot on vote #1 is "
                                          f"{option.lower()}."), answer.text
        await eventually(lambda: "Ballots\nalice revert; dave revert; erin keep\n"
                                 in text_of(status), SEND_WAIT)
        assert "Count\nbinding: 2 revert, 1 keep, 0 review, 0 abstaining\n" in text_of(status)

        await world.advance(61)
        await eventually(lambda: len(votes_on_discord(world)) == 2, SEND_WAIT)
        result = votes_on_discord(world)[1]
        assert text_of(result).startswith(
            f"Vote #1 closed: the direct push {sha[:10]} to django-sample\n"
            "Decided: Revert (carried: 2 revert, 1 keep, 0 review)\n")
        assert labels(status) == []
        [ticket] = world.discord.messages_in(world.channels["admins"])
        assert text_of(ticket).startswith(
            f"cc <@{alice.id}>\nEscalation #1: permissions for django-sample\n"
            f"Vote #1 decided to revert the direct push {sha[:12]} to django-sample: Revert.")
        await world.settle()
        assert text_of(world.discord.dms_to(carol)[-1]).startswith(
            "Escalation #1 was opened for you")  # carol opened the dispute


async def test_a_zulip_vote_stays_current_past_the_realm_s_edit_window(
        make_world: MakeWorld) -> None:
    """The realm lets messages be edited for 2 s: once a status is older, its new version
    is posted anew, saying which message it replaces, and later changes go to that one; a
    restarted Roadie, which does not know when the status was sent, learns it from Zulip's
    refusal."""
    window = 2.0
    async with make_world({"voting": MINUTE_VOTES},
                          zulip_realm={"edit_limit_seconds": window}) as world:
        org_on_github(world)
        names = {"alice": "Alice Liddell", "carol": "Carol Danvers", "dave": "Dave Grohl",
                 "erin": "Erin Brockovich"}
        people = {login: world.zulip_user(name) for login, name in names.items()}
        for login, user in people.items():
            await world.link(login, zulip=user)
        alice, carol, dave, erin = people.values()
        assert world.zulip_transport.rules.edit_window == window  # from /register

        await world.zulip.command(carol, "/nominate carol django-sample I would lead it",
                                  stream="general", topic="leads")
        await world.settle()
        [first] = votes_on_zulip(world)
        await world.zulip.command(dave, "vote 1 +1")
        await world.settle()
        assert line(first["content"], "Ballots") == "dave +1"  # within the window: edited

        await asyncio.sleep(window + 0.2)
        await world.zulip.command(erin, "vote 1 0")
        await world.settle()
        first_now, second = votes_on_zulip(world)
        assert first_now["id"] == first["id"]
        assert line(first["content"], "Ballots") == "dave +1"  # Zulip keeps the old one as is
        assert line(second["content"], "Ballots") == "dave +1; erin 0"
        assert second["content"].endswith(
            f"*This replaces [an earlier message](#narrow/near/{first['id']}), which Zulip no "
            "longer lets Roadie edit.*")
        assert not world.zulip.called("PATCH", f"/api/v1/messages/{first['id']}")[1:]

        await world.zulip.command(alice, "vote 1 +1")  # the new status is young: edited
        await world.settle()
        assert line(second["content"], "Ballots") == "dave +1; erin 0; alice +1"
        assert len(votes_on_zulip(world)) == 2

        await world.restart()
        await asyncio.sleep(window + 0.2)
        await world.advance(61)
        await eventually(lambda: len(votes_on_zulip(world)) == 4)
        _, _, third, result = votes_on_zulip(world)
        assert line(second["content"], "Result") == ""
        assert line(third["content"], "Ballots") == "dave +1; erin 0; alice +1"
        assert line(third["content"], "Result") == (
            "passed (no reasoned objection: 2 for, 0 against, 1 abstaining)")
        assert f"#narrow/near/{second['id']})" in third["content"]
        assert result["content"].startswith("**Vote #1 closed: carol as lead of django-sample**")
        refused = world.zulip.called("PATCH", f"/api/v1/messages/{second['id']}")
        assert len(refused) == 2  # one edit in the window, one refused after the restart
