"""The webhook receiver under random requests (hypothesis), over real HTTP on 127.0.0.1.

Whatever the headers and the body, and however the body is framed or cut short: no answer
is a 5xx, nothing logs a traceback (the receiver, aiohttp, the worker, the cogs' handlers),
and only deliveries signed with the secret are stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.runtime.webhooks import signature_for
from governance.db import Database
from governance.inbox.models import WebhookDelivery
from tests.cogs.feed_support import SECRET, feed_roadie

EXAMPLES = 300
EVENTS = ["ping", "push", "issues", "issue_comment", "pull_request", "repository", "release",
          "organization", "membership", "member", "create", "delete", "check_run", "star",
          "workflow_run", "fork", "org_block", "pull_request_review"]
ACTIONS = ["created", "opened", "closed", "edited", "reopened", "member_added", "added",
           "completed", "published", "renamed", "transferred", "deleted", "submitted"]

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
names = st.one_of(st.sampled_from(["octocat", "django-sample", "a" * 39, "x[bot]", ""]),
                  st.text(max_size=50))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=60))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
people = st.fixed_dictionaries({"login": names}, optional={"type": st.sampled_from(["User",
                                                                                    "Bot"])})
payloads = st.fixed_dictionaries({}, optional={
    "action": st.one_of(*[st.sampled_from(ACTIONS)] * 4, st.text(max_size=70), st.integers()),
    "repository": st.one_of(json_values, st.fixed_dictionaries(
        {"name": names}, optional={"full_name": names, "default_branch": names,
                                   "private": st.booleans(), "owner": people})),
    "sender": st.one_of(people, json_values),
    "issue": st.one_of(json_values, st.fixed_dictionaries(
        {"number": st.one_of(st.integers(), st.text(max_size=5))},
        optional={"title": st.text(max_size=80), "body": st.text(max_size=200),
                  "user": people, "html_url": st.text(max_size=80)})),
    "comment": st.fixed_dictionaries({"body": st.text(max_size=200), "user": people}),
    "membership": st.fixed_dictionaries({"user": people}),
    "member": people,
    "ref": st.text(max_size=60),
    "commits": st.lists(json_values, max_size=3),
    "zen": st.text(max_size=40),
    "hook_id": st.integers(),
    "other": json_values,
})


@dataclass
class Example:
    event: str
    delivery: str
    body: bytes
    sign: str  # "right", "wrong", "none" or "garbage"
    extra: dict[str, str]
    framing: str  # "length", "chunked", "short" (the connection closes mid-body), "long"
    fresh: bool = False  # made unique when sent, so that it is not a redelivery

    @property
    def signed(self) -> bool:
        return self.sign == "right"


bodies = st.one_of(
    *[payloads.map(lambda p: json.dumps(p).encode())] * 4,
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
any_request = st.builds(
    Example,
    event=st.one_of(*[st.sampled_from(EVENTS)] * 4, header_text),
    delivery=st.one_of(*[st.uuids().map(str)] * 4, header_text,
                       st.integers(190, 260).map(lambda n: "d" * n)),
    body=bodies,
    sign=st.sampled_from(["right", "right", "right", "wrong", "none", "garbage"]),
    extra=st.just({}) | st.just({}) | st.dictionaries(
        st.sampled_from(["Content-Encoding", "X-GitHub-Hook-ID", "Content-Type",
                         "X-Hub-Signature", "Expect"]),
        st.one_of(st.sampled_from(["gzip", "identity", "deflate", "br", "1"]), header_text),
        max_size=3),
    framing=st.sampled_from(["length"] * 4 + ["chunked", "short", "long"]),
)

signed_payloads = st.builds(
    Example, event=st.sampled_from(EVENTS), delivery=st.uuids().map(str),
    body=st.tuples(payloads, st.sampled_from(ACTIONS)).map(
        lambda pa: json.dumps({**pa[0], "action": pa[1]}).encode()),
    sign=st.just("right"), extra=st.just({}), framing=st.just("length"), fresh=st.just(True))
"""Signed deliveries with random payloads, for the worker and the cogs' handlers."""
examples = st.one_of(any_request, signed_payloads)


def request_bytes(path: str, example: Example) -> bytes:
    headers = {"Host": "127.0.0.1", "X-GitHub-Event": example.event,
               "X-GitHub-Delivery": example.delivery, **example.extra}
    if example.sign == "right":
        headers["X-Hub-Signature-256"] = signature_for(SECRET.encode(), example.body)
    elif example.sign == "wrong":
        headers["X-Hub-Signature-256"] = signature_for(b"not the secret", example.body)
    elif example.sign == "garbage":
        headers["X-Hub-Signature-256"] = "sha1=" + example.delivery
    body = example.body
    if example.framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        body = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n"
                        for part in (body[:7], body[7:]) if part) + b"0\r\n\r\n"
    else:
        extra = {"short": 50, "long": -1}.get(example.framing, 0)
        headers["Content-Length"] = str(max(0, len(body) + extra))
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


async def send(port: int, path: str, example: Example) -> int:
    """The answer's status; 0 when the connection closed without one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request_bytes(path, example))
        if example.framing == "short":
            writer.write_eof()  # the rest never comes
        await writer.drain()
        async with asyncio.timeout(10):
            line = await reader.readline()
        return int(line.split(b" ", 2)[1]) if line.startswith(b"HTTP/1.1 ") else 0
    except ConnectionError:
        return 0
    finally:
        writer.close()


def stored_ids(db: Database) -> set[str]:
    with db.transaction() as session:
        return set(session.exec(select(WebhookDelivery.delivery_id)).all())


async def test_random_requests_never_fail_the_receiver(
        tmp_path: Path, sqlite_db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    loop = asyncio.get_running_loop()
    config: dict[str, Any] = {"github": {"read_timeout": "2s"}}
    async with feed_roadie(tmp_path, sqlite_db, config=config) as feed:
        roadie = feed.roadie
        assert roadie.server is not None
        port, path = roadie.server.port, roadie.config.github.webhook_path
        signed: set[str] = set()
        statuses: list[int] = []

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(examples)
        def one(example: Example) -> None:
            if example.fresh:
                example = replace(example, delivery=f"{example.delivery}-{len(statuses)}")
            status = asyncio.run_coroutine_threadsafe(send(port, path, example),
                                                      loop).result(timeout=30)
            statuses.append(status)
            assert status < 500, example
            if example.signed:
                signed.add(example.delivery.strip())
            # Nothing unsigned is stored, ever.
            unsigned = asyncio.run_coroutine_threadsafe(
                asyncio.to_thread(stored_ids, roadie.db), loop).result(timeout=30) - signed
            assert unsigned == set(), example

        await asyncio.to_thread(one)
        await roadie.settle()
        assert {202, 400, 401} <= set(statuses)  # the fuzz got through
    tracebacks = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]
    assert tracebacks == []
