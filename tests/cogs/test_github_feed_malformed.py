"""No payload, however odd, crashes a handler: every example, mutated many ways, is
acknowledged and processed to `done` or `ignored`, never `failed`."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import DEFAULT_COGS
from bot.core.events import GitHubEvent
from bot.core.messages import Message
from cogs.github_feed import checks, items, news, pushes
from cogs.github_feed.pushes import DirectPush
from governance.db import Database
from tests.cogs.feed_support import SECRET, feed_roadie
from tests.cogs.test_github_feed_payloads import example_names
from tests.support import github_payload, post_webhook

EVERY_COG = {"bot": {"cogs": DEFAULT_COGS}}
"""Odd payloads go to every handler of every capability, not only the feed's."""

ODD_VALUES: list[Any] = [
    None, 0, -1, 2**63, 1.5, True, "", " ", "x" * 20_000, [], {}, [None], {"": None},
    "💥 \u0000\u202e @everyone @**all** <script>", "\ud800", "refs/heads/", "0" * 40,
    [[[[[]]]]], {"login": None, "name": 3},
]
FIELD_VALUES: list[Any] = [None, 2**63, "", "x" * 20_000, [], {},
                           "💥 \u0000\u202e @everyone", "\ud800"]
MUTATIONS_PER_EXAMPLE = 25


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            found += paths(value, (*prefix, index))
    return found


def mutate(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    data = copy.deepcopy(payload)
    for _ in range(rng.randint(1, 4)):
        candidates = paths(data)
        if not candidates:
            break
        *parents, last = rng.choice(candidates)
        node = data
        for step in parents:
            node = node[step]
        if isinstance(node, dict) and rng.random() < 0.3:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(rng.choice(ODD_VALUES))
    return data


def cases() -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(20260105)
    found: list[tuple[str, dict[str, Any]]] = []
    for name in example_names():
        example = github_payload(name)
        found.append((name, {}))
        found.append((name, {"action": example.get("action")}))
        found += [(name, mutate(example, rng)) for _ in range(MUTATIONS_PER_EXAMPLE)]
    return found


async def test_mutated_payloads_never_crash_a_handler(tmp_path: Path,
                                                      sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db, config=EVERY_COG) as feed:
        for name, payload in cases():
            status, _ = await post_webhook(feed.roadie, name.split("/")[0], payload,
                                           secret=SECRET)
            assert status == 202, (name, json.dumps(payload)[:300])
        while "pending" in await feed.statuses():
            await feed.roadie.webhook_worker.drain()
        await feed.later()
        statuses = await feed.statuses()
        assert len(statuses) == len(cases())
        assert statuses.count("failed") == 0, statuses
        assert set(statuses) == {"done", "ignored"}
        for sent in feed.chat.sent:
            for unsafe in ("@everyone", "@**all**", "\u0000", "\u202e"):
                assert unsafe not in sent.text
            assert len(sent.message.topic) <= 60


async def test_a_huge_body_is_acknowledged_and_quoted_briefly(tmp_path: Path,
                                                              sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db, config=EVERY_COG) as feed:
        data = github_payload("issues/opened")
        data["issue"]["body"] = "All work and no play makes Jack a dull boy. " * 200_000
        assert await feed.deliver("issues", data) == 202
        await feed.later()
        (text,) = feed.texts()
        assert len(text) < 600
        assert "> All work and no play makes Jack a dull boy." in text


async def test_control_characters_in_json_s_short_escapes_never_reach_chat(
        tmp_path: Path, sqlite_db: Database) -> None:
    """A form feed and a backspace are sent by JSON as `\\f` and `\\b`, not as `\\u000c`
    and `\\u0008`: they are replaced like every other control character."""
    async with feed_roadie(tmp_path, sqlite_db, config=EVERY_COG) as feed:
        data = github_payload("issues/opened")
        data["issue"]["title"] = "Page\fbreak and back\bspace"
        assert await feed.deliver("issues", data) == 202
        await feed.later()
        (text,) = feed.texts()
        assert "Page\ufffdbreak and back\ufffdspace" in text
        assert "\f" not in text
        assert "\b" not in text


def render_everything(event: GitHubEvent) -> list[Message]:
    """Every renderer of the feed on one event; checks the bounds of what reaches a table."""
    messages: list[Message] = []
    activity = items.activity(event, 300)
    if activity is not None:
        assert 0 < activity.number < 2**31
        assert 0 < len(activity.repo) <= 100
        messages.append(items.render(items.merge(items.new_state(activity), activity)))
    push = pushes.read_push(event)
    if push is not None:
        assert 0 < len(push.repo) <= 100
        assert len(push.head) <= 64
        for verdict in (None, DirectPush(True), DirectPush(False, "no token")):
            messages.append(pushes.render_push(push, 5, verdict))
    run = checks.read_run(event)
    if run is not None:
        assert 0 < len(run.source) <= 100
        assert len(run.run_id) <= 60
        messages += [checks.render_failure(run, 1), checks.render_failure(run, 3),
                     checks.render_fixed(run, 2)]
    for render in (pushes.render_ref, news.render_org_news, news.render_ping,
                   lambda e: news.render_repo_news(e, 300)):
        message = render(event)
        if message is not None:
            messages.append(message)
    return messages


def test_every_field_of_every_example_may_be_odd() -> None:
    """Each field the examples have, set in turn to each odd value, renders safely."""
    rendered = 0
    for name in example_names():
        example = github_payload(name)
        event_name = name.split("/")[0]
        for path in paths(example):
            if str(path[-1]).endswith("_url"):
                continue
            node = example
            for step in path[:-1]:
                node = node[step]
            original = node[path[-1]]
            for value in FIELD_VALUES:
                node[path[-1]] = value  # restored below: the renderers only read
                event = GitHubEvent(event_name, str(example.get("action") or ""), "d", example,
                                    datetime(2026, 1, 5, tzinfo=UTC))
                for message in render_everything(event):
                    rendered += 1
                    message.to_json().encode("utf-8")  # no lone surrogate survives
                    assert len(message.topic) <= 60
                    assert "@everyone" not in message.title + message.body
            node[path[-1]] = original
    assert rendered > 1000
