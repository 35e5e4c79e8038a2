"""The webhook receiver and worker, through the real aiohttp app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from bot.core.events import GitHubEvent
from bot.core.polling import IN_BACKGROUND
from bot.core.ports import PlatformError
from bot.runtime.app import Roadie
from bot.runtime.metrics import Metrics
from bot.runtime.webhooks import LARGE_BODY_RATE, SMALL_BODY, WebhookWorker, signature_for
from bot.runtime.webhooks.receiver import BUSY_STEP_EVERY
from governance.clock import FakeClock
from governance.db import Database
from governance.inbox import service as inbox
from governance.inbox.models import WebhookDelivery
from tests.cogs.feed_support import SECRET, feed_roadie
from tests.support import github_payload, make_config, post_webhook, running

PING = github_payload("ping/payload")
SMALL = {"zen": "Keep it logically awesome.", "hook_id": 1}


async def stored(roadie: Roadie) -> int:
    return await roadie.db.run(lambda session: session.exec(
        select(func.count()).select_from(WebhookDelivery)).one())


async def metrics(roadie: Roadie) -> str:
    assert roadie.server is not None
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{roadie.server.port}/metrics") as answer:
        return await answer.text()


def counted(page: str, event: str, outcome: str) -> float:
    match = re.search(rf'roadie_webhook_deliveries_total\{{event="{event}",'
                      rf'outcome="{outcome}"\}} (\S+)', page)
    return float(match.group(1)) if match else 0.0


async def test_refusals_store_nothing_and_are_counted(tmp_path: Path, db: Database) -> None:
    async with feed_roadie(tmp_path, db, config={"github": {"max_body": 4096}}) as feed:
        roadie = feed.roadie
        cases = [
            ((401, "missing or wrong X-Hub-Signature-256"),
             await post_webhook(roadie, "ping", SMALL, secret="not the secret")),
            ((401, "sign it with the webhook secret"),
             await post_webhook(roadie, "ping", SMALL, secret=None)),
            ((400, "the body is not JSON"),
             await post_webhook(roadie, "ping", b"{not json", secret=SECRET)),
            ((400, "the body is not JSON in UTF-8"),
             await post_webhook(roadie, "ping", '{"a": "é"}'.encode("latin-1"), secret=SECRET)),
            ((400, "not a JSON object"),
             await post_webhook(roadie, "ping", b"[1, 2]", secret=SECRET)),
            ((400, "the X-GitHub-Event header is missing"),
             await post_webhook(roadie, "ping", SMALL, secret=SECRET,
                                headers={"X-GitHub-Event": None})),
            ((400, "the X-GitHub-Delivery header is missing"),
             await post_webhook(roadie, "ping", SMALL, secret=SECRET,
                                headers={"X-GitHub-Delivery": None})),
            ((413, "larger than 4096 bytes"),
             await post_webhook(roadie, "ping", b'{"a": "' + b"x" * 5000 + b'"}',
                                secret=SECRET)),
        ]
        for (status, reason), (got_status, answer) in cases:
            assert got_status == status, answer
            assert reason in answer["error"]
        assert await stored(roadie) == 0
        page = await metrics(roadie)
        assert counted(page, "unknown", "bad_signature") == 2
        assert counted(page, "ping", "bad_request") == 4
        assert counted(page, "unknown", "bad_request") == 1
        assert counted(page, "unknown", "too_large") == 1


async def test_a_chunked_body_too_large_is_refused(tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db, config={"github": {"max_body": 2048}}) as feed:
        roadie = feed.roadie
        assert roadie.server is not None

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b" " * 1000

        url = f"http://127.0.0.1:{roadie.server.port}/github/webhook"
        async with aiohttp.ClientSession() as session, session.post(
                url, data=chunks(), headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "x",
                                             "X-Hub-Signature-256": "sha256=" + "0" * 64}
        ) as answer:
            assert answer.status == 413
        assert await stored(roadie) == 0
        assert counted(await metrics(roadie), "unknown", "too_large") == 1


async def test_a_delivery_is_stored_once_and_a_ping_tells_the_admins(
        tmp_path: Path, db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        roadie = feed.roadie
        status, answer = await post_webhook(roadie, "ping", PING, secret=SECRET, delivery="d-1")
        assert (status, answer) == (202, {"status": "accepted", "delivery": "d-1"})
        status, answer = await post_webhook(roadie, "ping", PING, secret=SECRET, delivery="d-1")
        assert (status, answer["status"]) == (200, "duplicate")
        await roadie.settle()
        (text_,) = feed.texts("admins")
        assert text_.startswith("**✅ The GitHub webhook works**")
        assert await stored(roadie) == 1
        page = await metrics(roadie)
        assert counted(page, "ping", "accepted") == 1
        assert counted(page, "ping", "duplicate") == 1


async def test_concurrent_deliveries_are_each_stored_once(tmp_path: Path, db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        ids = [f"d-{i % 40}" for i in range(120)]
        answers = await asyncio.gather(*(post_webhook(feed.roadie, "star", {"action": "deleted"},
                                                      secret=SECRET, delivery=d) for d in ids))
        assert sorted(status for status, _ in answers).count(202) == 40
        assert sorted(status for status, _ in answers).count(200) == 80
        assert await stored(feed.roadie) == 40


async def test_without_a_secret_the_receiver_stays_off(tmp_path: Path,
                                                      sqlite_db: Database) -> None:
    config = make_config(tmp_path, {"github": {"webhook_secret_env": "ROADIE_TEST_NO_SECRET"}})
    async with running(config, db=sqlite_db) as roadie:
        assert roadie.receiver is None
        status, _ = await post_webhook(roadie, "ping", PING, secret=None)
        assert status in (404, 405)
    insecure = make_config(tmp_path, {"github": {"webhook_secret_env": "ROADIE_TEST_NO_SECRET",
                                                 "insecure_allow_unsigned_webhooks": True}})
    async with running(insecure, db=sqlite_db) as roadie:
        status, _ = await post_webhook(roadie, "ping", PING, secret=None)
        assert status == 202


def _rename(db: Database, table: str, to: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {to}"))


async def test_a_database_failure_answers_503_so_github_can_redeliver(
        tmp_path: Path, db: Database) -> None:
    async with feed_roadie(tmp_path, db) as feed:
        await asyncio.to_thread(_rename, db, "webhook_delivery", "webhook_delivery_away")
        try:
            status, answer = await post_webhook(feed.roadie, "ping", PING, secret=SECRET,
                                                delivery="d-1")
        finally:
            await asyncio.to_thread(_rename, db, "webhook_delivery_away", "webhook_delivery")
        assert status == 503
        assert "redeliver" in answer["error"]
        status, _ = await post_webhook(feed.roadie, "ping", PING, secret=SECRET, delivery="d-1")
        assert status == 202
        assert counted(await metrics(feed.roadie), "ping", "store_failed") == 1


def _receiver_connections(db: Database, *, cut: bool = False) -> int:
    """The server's connections that last stored deliveries (cut them, with `cut`)."""
    with db.engine.connect() as connection:
        return len(connection.execute(text(
            f"SELECT {'pg_terminate_backend(pid)' if cut else 'pid'} FROM pg_stat_activity "
            "WHERE query LIKE 'INSERT INTO webhook_delivery%' AND pid <> pg_backend_pid()"
        )).all())


async def test_connections_the_server_cut_are_replaced_and_none_outlive_roadie(
        tmp_path: Path, pg_db: Database) -> None:
    """On PostgreSQL the receiver keeps connections of its own: a server restart or a
    failover cuts them, and the next delivery is stored all the same."""
    async with feed_roadie(tmp_path, pg_db) as feed:
        assert (await post_webhook(feed.roadie, "ping", PING, secret=SECRET,
                                   delivery="d-1"))[0] == 202
        assert await asyncio.to_thread(_receiver_connections, pg_db, cut=True) == 1
        status, answer = await post_webhook(feed.roadie, "ping", PING, secret=SECRET,
                                            delivery="d-2")
        assert (status, answer["status"]) == (202, "accepted")
        assert await stored(feed.roadie) == 2
    for _ in range(50):  # the server notes a closed connection a moment later
        if not await asyncio.to_thread(_receiver_connections, pg_db):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the receiver's connections outlived Roadie")


async def test_a_chat_outage_delays_messages_and_loses_none(tmp_path: Path,
                                                            sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        feed.chat.fail_next(3, PlatformError("recording", "502 bad gateway"))
        feed.chat.fail_next(1, PlatformError("recording", "slow down", retry_after=0.05))
        await feed.deliver("release", github_payload("release/published"))
        assert feed.texts() == []
        for _ in range(4):
            await feed.later(60)
        assert len(feed.texts()) == 1


async def test_a_restarted_replica_takes_its_claims_back(db: Database) -> None:
    clock = FakeClock()
    def store_and_claim(session: Session) -> list[str]:
        inbox.store_deliveries(session, [inbox.NewDelivery("d-1", "ping", "", "", "{}")],
                               now=clock.now())
        return [r.delivery_id for r in inbox.claim_pending(session, worker="a", now=clock.now())]

    assert await db.run(store_and_claim) == ["d-1"]
    clock.advance(timedelta(seconds=1))

    def claim_again(session: Session) -> tuple[list[str], list[str]]:
        other = inbox.claim_pending(session, worker="b", now=clock.now())
        mine = inbox.claim_pending(session, worker="a", now=clock.now())
        return [r.delivery_id for r in other], [r.delivery_id for r in mine]

    assert await db.run(claim_again) == ([], ["d-1"])


async def test_a_dead_replica_s_deliveries_go_to_another_within_30_s(db: Database) -> None:
    clock = FakeClock()

    def store_and_claim(session: Session) -> int:
        inbox.store_deliveries(session, [inbox.NewDelivery("d-1", "ping", "", "", "{}")],
                               now=clock.now())
        return len(inbox.claim_pending(session, worker="a", now=clock.now()))

    def claimed_by_b(session: Session) -> list[str]:
        return [r.delivery_id for r in inbox.claim_pending(session, worker="b",
                                                           now=clock.now())]

    assert await db.run(store_and_claim) == 1
    clock.advance(timedelta(seconds=29))
    assert await db.run(claimed_by_b) == []
    clock.advance(timedelta(seconds=2))
    assert await db.run(claimed_by_b) == ["d-1"]


async def _slow_batch(db: Database, seconds: list[int]) -> tuple[list[str], list[list[str]]]:
    """Replica "a" processes a batch of pings, the n-th taking `seconds[n]`; after each,
    replica "b" claims what it can. (The pings "a" handled, what "b" found each time.)"""
    clock = FakeClock()
    seen: list[str] = []
    b_found: list[list[str]] = []

    async def slow_handler(event: GitHubEvent) -> bool:
        seen.append(event.delivery_id)
        clock.advance(timedelta(seconds=seconds[len(seen) - 1]))
        b_found.append(await db.run(lambda session: [r.delivery_id for r in
                                                     inbox.claim_pending(session, worker="b",
                                                                         now=clock.now())]))
        return True

    def store(session: Session) -> None:
        inbox.store_deliveries(session, [inbox.NewDelivery(f"d-{n}", "ping", "", "",
                                                           json.dumps(PING))
                                         for n in range(len(seconds))], now=clock.now())

    await db.run(store)
    worker = WebhookWorker(db, clock, Metrics(), {"ping": [("slow", slow_handler)]}, "a")
    assert await worker.process_batch() == len(seconds)
    return seen, b_found


async def test_a_delivery_slower_than_the_claim_leaves_the_rest_to_another_replica(
        db: Database) -> None:
    # The first delivery takes 35 s, beyond the batch's 30 s claim.
    seen, b_found = await _slow_batch(db, [35, 20, 20, 20])
    # 35 s in, the whole batch's claim had run out: "b" took it (the one "a" was still on
    # too: processed twice, it posts nothing twice), and "a" left the rest to "b".
    assert seen == ["d-0"]
    assert b_found == [["d-0", "d-1", "d-2", "d-3"]]


async def test_a_batch_slower_than_the_claim_holds_the_rest_longer_as_it_goes(
        db: Database) -> None:
    seen, b_found = await _slow_batch(db, [20, 20, 20, 20])  # 80 s; a claim lasts 30
    assert seen == ["d-0", "d-1", "d-2", "d-3"]
    assert b_found == [[], [], [], []]


async def test_repositories_are_processed_side_by_side_each_in_the_order_it_arrived(
        db: Database) -> None:
    clock = FakeClock()
    steps: list[str] = []

    def about(repository: str) -> str:
        payload = github_payload("issues/opened")
        payload["repository"] = {**payload["repository"], "name": repository,
                                 "full_name": f"Codertocat/{repository}"}
        return json.dumps(payload)

    async def slow_handler(event: GitHubEvent) -> bool:
        steps.append(f"start {event.delivery_id}")
        await asyncio.sleep(0.05)
        steps.append(f"end {event.delivery_id}")
        return True

    arrived = [("a-1", "a"), ("b-1", "b"), ("a-2", "a"), ("b-2", "b")]

    def store(session: Session) -> None:
        inbox.store_deliveries(session, [inbox.NewDelivery(i, "issues", "opened", "", about(r))
                                         for i, r in arrived], now=clock.now())

    await db.run(store)
    worker = WebhookWorker(db, clock, Metrics(), {"issues": [("slow", slow_handler)]}, "a")
    assert await worker.process_batch() == 4
    # Each repository's deliveries one after the other, in the order they arrived...
    for first, second in (("a-1", "a-2"), ("b-1", "b-2")):
        assert steps.index(f"end {first}") < steps.index(f"start {second}")
    # ...and the two repositories side by side.
    assert steps.index("start b-1") < steps.index("end a-1")
    assert await db.run(lambda session: session.exec(
        select(func.count()).select_from(WebhookDelivery)
        .where(WebhookDelivery.status == "done")).one()) == 4


def test_signatures_are_github_s() -> None:
    # The example from GitHub's documentation on validating webhook deliveries.
    assert signature_for(b"It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")


@pytest.mark.parametrize("body", [b"", b"null", b'"text"', json.dumps({"x": [1] * 10}).encode()])
async def test_odd_bodies_are_refused_cleanly(body: bytes, tmp_path: Path,
                                              sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        status, answer = await post_webhook(feed.roadie, "push", body, secret=SECRET)
        assert status in (400, 202), answer
        assert (status == 202) == body.startswith(b"{")


# --- hostile senders --------------------------------------------------------------------------


def request_head(roadie: Roadie, length: int | None, headers: dict[str, str]) -> bytes:
    lines = [f"POST {roadie.config.github.webhook_path} HTTP/1.1", "Host: 127.0.0.1",
             "Content-Type: application/json", "X-GitHub-Event: ping",
             "X-GitHub-Delivery: d-raw"]
    lines.append(f"Content-Length: {length}" if length is not None
                 else "Transfer-Encoding: chunked")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def open_upload(roadie: Roadie, length: int | None, sent: bytes, *,
                      headers: dict[str, str] | None = None,
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that declared `length` bytes of body and sent only `sent` so far."""
    assert roadie.server is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", roadie.server.port)
    writer.write(request_head(roadie, length, headers or {}) + sent)
    await writer.drain()
    return reader, writer


async def answer_of(reader: asyncio.StreamReader, within: float = 3.0) -> tuple[int, bytes]:
    """The status and the whole answer (headers and body) read before the server closed or
    `within` seconds passed; (0, b"") when nothing came."""
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(within):
            while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, data


WELL_FORMED_SIGNATURE = {"X-Hub-Signature-256": "sha256=" + "0" * 64}


async def test_an_unsigned_body_is_refused_before_it_is_read(tmp_path: Path,
                                                             sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        # 20 MB declared, 10 bytes sent: the answer comes without the rest.
        reader, writer = await open_upload(feed.roadie, 20_000_000, b'{"zen": "a')
        status, answer = await answer_of(reader)
        writer.close()
        assert status == 401
        assert b"missing or malformed X-Hub-Signature-256" in answer
        assert await stored(feed.roadie) == 0
        assert counted(await metrics(feed.roadie), "unknown", "bad_signature") == 1


async def test_a_compressed_body_is_refused_and_never_inflated(tmp_path: Path,
                                                               sqlite_db: Database) -> None:
    # A gzip bomb: 8 MB of JSON in 8 KB, signed as GitHub would sign the JSON.
    body = b'{"zen": "' + b"a" * 8_000_000 + b'"}'
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        status, answer = await post_webhook(
            feed.roadie, "ping", gzip.compress(body), secret=None,
            headers={"Content-Encoding": "gzip",
                     "X-Hub-Signature-256": signature_for(SECRET.encode(), body)})
        assert status == 415
        assert "GitHub sends deliveries uncompressed" in answer["error"]
        assert await stored(feed.roadie) == 0
        status, _ = await post_webhook(feed.roadie, "ping", SMALL, secret=SECRET,
                                       headers={"Content-Encoding": "identity"})
        assert status == 202


async def test_bodies_beyond_the_budget_are_answered_503_not_queued(
        tmp_path: Path, sqlite_db: Database) -> None:
    two_mb = 2 * 1024 * 1024
    config = {"github": {"max_body": two_mb, "body_memory": 3 * 1024 * 1024}}
    async with feed_roadie(tmp_path, sqlite_db, config=config) as feed:
        _first, holding = await open_upload(feed.roadie, two_mb, b"{" + b" " * 1000,
                                           headers=WELL_FORMED_SIGNATURE)
        second, _ = await open_upload(feed.roadie, two_mb, b"{", headers=WELL_FORMED_SIGNATURE)
        status, answer = await answer_of(second)
        assert status == 503
        assert b"Retry-After: 5" in answer
        # The usual small deliveries still have room.
        status, _ = await post_webhook(feed.roadie, "ping", SMALL, secret=SECRET)
        assert status == 202
        holding.close()
        assert counted(await metrics(feed.roadie), "unknown", "busy") == 1


async def test_a_body_that_is_slow_to_arrive_is_cut_off(tmp_path: Path,
                                                        sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db, config={"github": {"read_timeout": "1s"}}) as feed:
        reader, writer = await open_upload(feed.roadie, 5000, b'{"zen": ',
                                           headers=WELL_FORMED_SIGNATURE)
        status, answer = await answer_of(reader, within=4.0)
        writer.close()
        assert status == 408
        assert b"took longer than 1 s" in answer
        assert counted(await metrics(feed.roadie), "unknown", "timeout") == 1


async def test_an_aborted_upload_is_one_line_and_counted(
        tmp_path: Path, sqlite_db: Database, caplog: pytest.LogCaptureFixture) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        for _ in range(3):
            _reader, writer = await open_upload(feed.roadie, 100_000, b"{" + b" " * 5000,
                                               headers=WELL_FORMED_SIGNATURE)
            writer.close()
            await writer.wait_closed()
        for _ in range(100):
            if counted(await metrics(feed.roadie), "unknown", "aborted") == 3:
                break
            await asyncio.sleep(0.02)
        assert counted(await metrics(feed.roadie), "unknown", "aborted") == 3
        status, _ = await post_webhook(feed.roadie, "ping", SMALL, secret=SECRET)
        assert status == 202
    assert [r for r in caplog.records if r.exc_info] == []
    aborted = [r.getMessage() for r in caplog.records if "aborted after" in r.getMessage()]
    assert len(aborted) == 1  # the next ones are counted, once a minute
    assert "aborted after 5001 of 100000 bytes" in aborted[0]


async def test_delivery_ids_count_whole(tmp_path: Path, db: Database) -> None:
    prefix = "d" * 100
    async with feed_roadie(tmp_path, db) as feed:
        for suffix in ("-one", "-two"):
            status, answer = await post_webhook(feed.roadie, "ping", PING, secret=SECRET,
                                                delivery=prefix + suffix)
            assert (status, answer["delivery"]) == (202, prefix + suffix)
        status, answer = await post_webhook(feed.roadie, "ping", PING, secret=SECRET,
                                            delivery="x" * 201)
        assert status == 400
        assert "not a delivery id" in answer["error"]
        assert await stored(feed.roadie) == 2
        await feed.roadie.settle()
        assert len(feed.texts("admins")) == 2  # each processed: the pings' notices


async def test_a_repository_name_that_is_not_github_s_is_refused_with_a_reason(
        tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    payload = github_payload("repository/created")
    payload["repository"]["name"] = "evil\u0000name"
    async with feed_roadie(tmp_path, db) as feed:
        status = await feed.deliver("repository", payload)
        assert status == 202
        (row,) = await feed.roadie.db.run(
            lambda session: session.exec(select(WebhookDelivery)).all())
        assert row.status == "ignored"  # by every handler: none saw it
        assert "refused: repository.name is not a GitHub name" in row.error
        assert feed.texts() == []
    assert [r for r in caplog.records if r.exc_info] == []
    assert any("refused: repository.name" in r.getMessage() for r in caplog.records)


async def test_control_characters_in_text_are_neutralised(tmp_path: Path, db: Database) -> None:
    payload = github_payload("issues/opened")
    payload["issue"]["title"] = "Broken\u0000 \ud800 build\u001b[31m"
    async with feed_roadie(tmp_path, db) as feed:
        assert await feed.deliver("issues", payload) == 202
        await feed.later(600)
        (row,) = await feed.roadie.db.run(
            lambda session: session.exec(select(WebhookDelivery)).all())
        assert row.status in ("done", "ignored"), row.error
        text_ = "\n".join(feed.texts())
        assert "Broken\ufffd \ufffd build\ufffd[31m" in text_
        assert "\u0000" not in text_


async def test_a_large_body_is_read_at_a_pace_while_small_ones_go_through(
        tmp_path: Path, sqlite_db: Database) -> None:
    """Past its first megabyte, a body is read at LARGE_BODY_RATE: nothing proves it signed
    until its last byte. GitHub's usual deliveries of a few kilobytes are not held up."""
    large = {"zen": "a" * (SMALL_BODY + 4 * 1024 * 1024), "hook_id": 1}
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        loop = asyncio.get_running_loop()
        started = loop.time()
        large_post = asyncio.create_task(post_webhook(feed.roadie, "ping", large, secret=SECRET))
        await asyncio.sleep(0.1)
        status, _ = await post_webhook(feed.roadie, "ping", SMALL, secret=SECRET)
        assert status == 202
        assert not large_post.done()
        status, _ = await large_post
        assert status == 202
        # 4 MB past the first at 8 MB/s: half a second at least.
        assert loop.time() - started >= 4 * 1024 * 1024 / LARGE_BODY_RATE
        assert await stored(feed.roadie) == 2



async def test_a_write_held_up_holds_up_only_its_own_deliveries(tmp_path: Path,
                                                                 pg_db: Database) -> None:
    """Writes of deliveries overlap: while one waits on the database (here for a lock that
    another transaction holds on its delivery id), the deliveries after it are stored and
    answered by other writes."""
    clock = FakeClock()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = Database(pg_db.url)
        with contextlib.suppress(LookupError), other.transaction() as session:
            inbox.store_deliveries(session, [inbox.NewDelivery("held", "star", "deleted", "",
                                                               "{}")], now=clock.now())
            holding.set()
            release.wait(30)
            raise LookupError("rolled back: the delivery is Roadie's to store")
        other.dispose()

    def waiting_on_a_lock() -> bool:
        with pg_db.engine.connect() as connection:
            return bool(connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO webhook_delivery%'")).scalar())

    async with feed_roadie(tmp_path, pg_db) as feed:
        holder = asyncio.create_task(asyncio.to_thread(hold))
        await asyncio.to_thread(holding.wait, 10)
        held = asyncio.create_task(post_webhook(feed.roadie, "star", {"action": "deleted"},
                                                secret=SECRET, delivery="held"))
        for _ in range(200):
            if await asyncio.to_thread(waiting_on_a_lock):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("Roadie's write of the held delivery never reached the lock")
        try:
            later = await asyncio.wait_for(asyncio.gather(*(
                post_webhook(feed.roadie, "star", {"action": "deleted"}, secret=SECRET,
                             delivery=f"later-{i}") for i in range(20))), 20)
            assert [status for status, _ in later] == [202] * 20
            assert not held.done()
        finally:
            release.set()
        assert (await held)[0] == 202
        await holder
        assert await stored(feed.roadie) == 21


# --- background work makes way ----------------------------------------------------------------


class Overlap:
    """Calls into the database that each hold a worker thread for a while, and the most of
    them that held one at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.most = 0

    def call(self, _session: Session) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.25)
        with self._lock:
            self.now -= 1


async def in_background(work: Callable[[], Awaitable[None]]) -> None:
    """`work` as a poller (the webhook worker, the sender) runs it."""
    IN_BACKGROUND.set(True)
    await work()


async def test_background_work_takes_one_thread_at_a_time_while_a_request_waits(
        tmp_path: Path, pg_db: Database) -> None:
    async with feed_roadie(tmp_path, pg_db) as feed:
        db = feed.roadie.db
        background, command = Overlap(), Overlap()

        async def three_background_calls() -> None:
            await asyncio.gather(*(db.run(background.call) for _ in range(3)))

        # A request in flight: its body is yet to come.
        reader, writer = await open_upload(feed.roadie, 100, b"{", headers=WELL_FORMED_SIGNATURE)
        await asyncio.sleep(0.1)  # for the server to read its head
        work = asyncio.create_task(in_background(three_background_calls))
        await asyncio.sleep(0.05)
        await asyncio.gather(*(db.run(command.call) for _ in range(3)))
        # A command's calls never queue behind the background's: they ran side by side,
        # and were done before the background's, which take their threads in turn.
        assert command.most == 3
        assert not work.done()
        await work
        assert background.most == 1
        writer.close()
        await answer_of(reader, within=0.5)

        # Nothing being answered: the background's calls run side by side again.
        await asyncio.sleep(0.05)
        background.most = 0
        await in_background(three_background_calls)
        assert background.most == 3


async def test_in_a_long_burst_background_work_takes_a_few_steps_a_second_in_all(
        tmp_path: Path, sqlite_db: Database) -> None:
    async with feed_roadie(tmp_path, sqlite_db) as feed:
        receiver = feed.roadie.receiver
        assert receiver is not None
        loop = asyncio.get_running_loop()
        steps = [0] * 20  # twenty channels with messages waiting, say

        async def lane(index: int) -> None:
            while True:
                await receiver.quiet()
                steps[index] += 1

        # A request in flight all along: its body is yet to come.
        reader, writer = await open_upload(feed.roadie, 100, b"{", headers=WELL_FORMED_SIGNATURE)
        await asyncio.sleep(0.1)  # for the server to read its head
        started = loop.time()
        lanes = [asyncio.create_task(lane(index)) for index in range(len(steps))]
        try:
            await asyncio.sleep(1.0)
            busy, took = list(steps), loop.time() - started
            # A step every BUSY_STEP_EVERY for all the lanes together, not for each; and
            # every lane's turn came.
            assert sum(busy) <= took / BUSY_STEP_EVERY + 2
            assert min(busy) >= 1
            writer.close()
            await answer_of(reader, within=0.5)
            await asyncio.sleep(0.2)
            # Nothing being answered: a step every turn of the event loop.
            assert sum(steps) - sum(busy) >= 200
        finally:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
