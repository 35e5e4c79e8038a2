#!/usr/bin/env python3
"""GitHub webhooks, measured: acknowledgement throughput and latency, and nothing lost.

    python3 dev.py bench                 (runs every bench/bench_*.py)
    .venv/bin/python bench/bench_webhooks.py [--quick]

Four processes on 127.0.0.1: this one (the client, standing in for GitHub), Roadie itself
(`roadie run`'s wiring, on SQLite, with a chat platform that posts over HTTP), a bare aiohttp
server answering 202 (on the same event loop as Roadie: `bot.runtime.eventloop`), and a
recording fake chat that enforces its rate limits. Figures:

1. signed deliveries acknowledged per second: bare aiohttp vs Roadie, same client, same run,
   at 32 and at 128 in flight, each server judged by its best (target: Roadie at least
   half of bare; `IN_FLIGHT` says why two);
2. acknowledgement latency at a steady 200 deliveries/s (target: p99 under 25 ms);
3. a burst of 5,000 deliveries: every one reaches chat once, and no rate limit is breached;
4. the same burst with `kill -9` of Roadie in the middle of receiving it and a restart
   (deliveries that were not acknowledged are redelivered, as an operator would with
   `roadie webhook redeliver`), then `kill -9` again in the middle of sending to chat and a
   restart: every delivery reaches chat exactly once.

Each delivery opens its own issue, so that bursts are not gathered into fewer messages. The
chat dedupes a resent message by its idempotency key, as Discord does with `enforce_nonce`;
how many sends it absorbed so is printed. The script stops by itself; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import gc
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = b"bench-secret"
PLACES = [f"feed-{i}" for i in range(5)]
CHAT_PER_PLACE, CHAT_PER_PLATFORM = 40, 150  # what the fake chat enforces, per second
DECLARED_PER_PLACE, DECLARED_PER_PLATFORM = 36, 135  # what Roadie is told: a margin below
MARKER = re.compile(r"bench-(\d+)#(\d+) ")
IN_FLIGHT = (32, 128)
"""Deliveries in flight in the throughput rounds; each server is judged by its best. An
answer that waits for a database round trip R caps a server at n / (R + the time client and
server take for a request) with n in flight: at 32, with R = 5 ms and bare aiohttp's own
4-5 ms per request, at about half of bare's rate however fast the server itself is. GitHub
does not wait for one answer before it sends the next delivery; 128 in flight cover the
wait. Bare aiohttp, which waits for nothing, is at its best at 32: more in flight only cost
it (and the client) CPU."""


ROUNDS = 3
"""Throughput rounds of each server at each in-flight count, taken in turn; each is judged
by its best. The rounds are short, and this machine's speed drifts by a third within a run."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the recording fake chat (its own process) ----------------------------------------------


def serve_chat(port: int) -> None:
    from aiohttp import web

    state: dict[str, Any] = {"messages": {}, "order": [], "absorbed": 0, "breaches": [],
                             "limited": 0, "requests": 0}
    paused_until: dict[str, float] = {}  # per channel, as Discord's per-route buckets
    recent_place: dict[str, deque[float]] = {}
    recent_all: deque[float] = deque()

    def breached(place: str, now: float) -> str:
        window = recent_place.setdefault(place, deque())
        for queue in (window, recent_all):
            while queue and now - queue[0] >= 1.0:
                queue.popleft()
        problem = ""
        if now < paused_until.get(place, 0.0):
            problem = f"sent to {place} during its retry_after pause"
        elif len(window) >= CHAT_PER_PLACE:
            problem = f"more than {CHAT_PER_PLACE}/s in {place}"
        elif len(recent_all) >= CHAT_PER_PLATFORM:
            problem = f"more than {CHAT_PER_PLATFORM}/s in all"
        window.append(now)
        recent_all.append(now)
        return problem

    async def send(request: web.Request) -> web.Response:
        data = await request.json()
        now = time.monotonic()
        state["requests"] += 1
        problem = breached(data["place"], now)
        if problem:
            state["breaches"].append(problem)
        if state["requests"] % 250 == 0:  # now and then, ask the sender to slow down
            paused_until[data["place"]] = now + 0.2
            state["limited"] += 1
            return web.json_response({"retry_after": 0.2}, status=429)
        key = data["key"]
        if key in state["messages"]:
            state["absorbed"] += 1
            return web.json_response({"id": state["messages"][key]["id"]})
        message = {"id": str(len(state["order"]) + 1), "place": data["place"],
                   "title": data["title"], "at": now}
        state["messages"][key] = message
        state["order"].append(key)
        return web.json_response({"id": message["id"]})

    async def edit(request: web.Request) -> web.Response:
        return web.json_response({})

    async def stats(_request: web.Request) -> web.Response:
        titles = [state["messages"][k]["title"] for k in state["order"]]
        return web.json_response({"titles": titles, "absorbed": state["absorbed"],
                                  "breaches": state["breaches"][:20],
                                  "breach_count": len(state["breaches"]),
                                  "limited": state["limited"], "requests": state["requests"]})

    async def reset(_request: web.Request) -> web.Response:
        state.update({"messages": {}, "order": [], "absorbed": 0, "breaches": [], "limited": 0,
                      "requests": 0})
        paused_until.clear()
        recent_place.clear()
        recent_all.clear()
        return web.json_response({})

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/send", send)
    app.router.add_post("/edit", edit)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the bare aiohttp handler (its own process) ---------------------------------------------


def serve_bare(port: int) -> None:
    """aiohttp answering 202 and doing nothing else, on the event loop Roadie serves on."""
    from aiohttp import web

    from bot.runtime.eventloop import new_event_loop

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "accepted"}, status=202)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=26 * 1024 * 1024)
    app.router.add_post("/github/webhook", hook)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None,
                loop=new_event_loop())


# --- Roadie with a chat platform over HTTP (its own process) --------------------------------


class HttpChat:
    """A ChatPort that posts to the recording fake chat."""

    platform = "benchchat"

    def __init__(self, url: str) -> None:
        self.url = url
        self._session: Any = None

    def place_for(self, destination: str) -> str | None:
        return destination

    def rates(self):  # type: ignore[no-untyped-def]
        from bot.core.ports import Rate

        return Rate(DECLARED_PER_PLACE, 1.0), Rate(DECLARED_PER_PLATFORM, 1.0)

    def mention(self, user_id: str) -> str:
        return f"@{user_id}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import aiohttp

        from bot.core.ports import PlatformError

        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(self.url + path, json=body) as answer:
                data = await answer.json()
                if answer.status == 429:
                    raise PlatformError(self.platform, "rate limited",
                                        retry_after=float(data["retry_after"]), status=429)
                if answer.status >= 400:
                    raise PlatformError(self.platform, f"{answer.status}", status=answer.status)
                return dict(data)
        except aiohttp.ClientError as error:
            raise PlatformError(self.platform, f"unreachable: {error}") from error

    async def send(self, place: str, message: Any, *, key: str, mentions: dict[str, str]) -> str:
        data = await self._post("/send", {"place": place, "key": key, "title": message.title})
        return str(data["id"])

    async def edit(self, place: str, remote_id: str, message: Any, *,
                   mentions: dict[str, str]) -> None:
        await self._post("/edit", {"place": place, "id": remote_id, "title": message.title})

    async def ban(self, user_id: str, *, reason: str, delete_message_days: int = 0) -> None:
        pass

    async def unban(self, user_id: str, *, reason: str) -> None:
        pass

    async def lookup_member(self, user_id: str) -> None:
        return None

    def commands(self) -> list[Any]:
        return []

    async def start(self, hub: Any) -> None:
        pass

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()


def serve_roadie(config_path: str, chat_url: str) -> None:
    from bot.cli import _logging, _serve
    from bot.config import load_config
    from bot.runtime import eventloop
    from bot.runtime.app import Roadie

    config = load_config(config_path)
    _logging(config)  # as `roadie run`: what it logs says when, and from where
    # A fixed replica name, as a StatefulSet gives: after a restart, the replica takes back
    # at once the deliveries and messages it had claimed when it was killed.
    roadie = Roadie(config, transports=[HttpChat(chat_url)],
                    instance=config.bot.instance or "bench-roadie")
    eventloop.run(_serve(roadie))


def write_roadie_config(directory: Path, port: int, database: str = "") -> Path:
    """A config for Roadie on `database` (a URL; by default a SQLite file of its own)."""
    secret = directory / "secret"
    secret.write_bytes(SECRET)
    feeds = "\n".join(f'[[feeds]]\nrepos = ["bench-{i}"]\ndestination = "{place}"\n'
                      for i, place in enumerate(PLACES))
    places = "\n".join(f"[destinations.{name}]" for name in
                       ["admins", "moderators", "modlog", "digest", *PLACES])
    path = directory / "roadie.toml"
    path.write_text(f"""
[bot]
org = "bench"
log_level = "WARNING"
[database]
url = "{database or directory / 'roadie.db'}"
[server]
bind = "127.0.0.1:{port}"
[github]
webhook_secret_file = "{secret}"
token_env = "ROADIE_BENCH_NO_TOKEN"
[console]
enabled = "never"
{places}
{feeds}
""")
    return path


# --- the client (this process) --------------------------------------------------------------


@dataclass
class Delivery:
    index: int
    body: bytes
    headers: dict[str, str]
    acked: int = 0  # times a 200/202 came back


def build_deliveries(count: int, run: str) -> list[Delivery]:
    example = json.loads((ROOT / "tests/fixtures/github/issues/opened.payload.json").read_text())
    deliveries = []
    for i in range(count):
        data = copy.deepcopy(example)
        repo = f"bench-{i % len(PLACES)}"
        data["repository"]["name"] = repo
        data["repository"]["full_name"] = f"bench/{repo}"
        data["issue"]["number"] = i + 1
        data["issue"]["title"] = f"Bench issue {i + 1}"
        data["issue"]["html_url"] = f"https://github.com/bench/{repo}/issues/{i + 1}"
        body = json.dumps(data).encode()
        signature = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        deliveries.append(Delivery(i, body, {
            "Content-Type": "application/json", "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": f"{run}-{i}", "X-Hub-Signature-256": signature,
            "User-Agent": "GitHub-Hookshot/bench"}))
    return deliveries


NOT_ACKNOWLEDGED: Counter[str] = Counter()
"""What came back instead of an acknowledgement, by status or error, since it was cleared: a
round that acknowledged less than it sent says why (`not_acknowledged`)."""


async def post(session: Any, url: str, delivery: Delivery) -> int:
    import aiohttp

    try:
        async with session.post(url, data=delivery.body, headers=delivery.headers) as answer:
            await answer.read()
            if answer.status in (200, 202):
                delivery.acked += 1
            else:
                NOT_ACKNOWLEDGED[f"HTTP {answer.status}"] += 1
            return answer.status
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        NOT_ACKNOWLEDGED[type(error).__name__] += 1
        return 0


def not_acknowledged(server: subprocess.Popen[bytes]) -> str:
    """What the requests since the last call got instead of an acknowledgement, and whether
    `server` has exited; empty when all were acknowledged and it runs."""
    found = [f"{what} x{count}" for what, count in NOT_ACKNOWLEDGED.most_common(4)]
    NOT_ACKNOWLEDGED.clear()
    if server.poll() is not None:
        found.append(f"the server exited with code {server.returncode}")
    return "; ".join(found)


async def closed_loop(url: str, deliveries: list[Delivery], concurrency: int,
                      stop_after: float = 120.0,
                      halfway: asyncio.Event | None = None) -> tuple[float, int]:
    """Send every delivery with `concurrency` requests in flight; (seconds, acknowledged).
    `halfway` is set once half of them were acknowledged."""
    import aiohttp

    queue = deque(deliveries)
    acked = 0
    start = time.perf_counter()
    deadline = start + stop_after

    async def worker(session: Any) -> None:
        nonlocal acked
        while queue and time.perf_counter() < deadline:
            if await post(session, url, queue.popleft()) in (200, 202):
                acked += 1
                if halfway is not None and acked >= len(deliveries) // 2:
                    halfway.set()

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - start, acked


async def open_loop(url: str, deliveries: list[Delivery], rate: float) -> list[float]:
    """Send at a steady rate, whatever the answers; latencies in ms from the planned time."""
    import aiohttp

    latencies: list[float] = []
    start = time.perf_counter() + 0.05

    async def one(session: Any, delivery: Delivery, planned: float) -> None:
        await asyncio.sleep(max(0.0, planned - time.perf_counter()))
        status = await post(session, url, delivery)
        if status in (200, 202):
            latencies.append((time.perf_counter() - planned) * 1000)

    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, d, start + i / rate)
                               for i, d in enumerate(deliveries)))
    return latencies


@contextmanager
def paused(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """`process` stopped (SIGSTOP) for the block, continued after."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


@contextmanager
def collector_held_off() -> Iterator[None]:
    """While this process measures latency: a full collection of its own garbage collector
    (0.1-0.2 s once the Discord part has run here) would count as the server's latency."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def wait_healthy(url: str, timeout: float = 30.0,
                       server: subprocess.Popen[bytes] | None = None) -> None:
    """Until `url` answers /healthz; when `server` is the process that should answer, it
    must still run then (another process may hold its port)."""
    import aiohttp

    deadline = time.perf_counter() + timeout
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < deadline:
            if server is not None and server.poll() is not None:
                raise SystemExit(f"bench: the server for {url} exited with code "
                                 f"{server.returncode}")
            try:
                async with session.get(url + "/healthz") as answer:
                    if answer.status == 200 and (server is None or server.poll() is None):
                        return
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"bench: nothing healthy at {url} after {timeout}s")


async def chat_stats(chat: str) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(chat + "/stats") as answer:
        return dict(await answer.json())


async def chat_reset(chat: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(chat + "/reset") as answer:
        await answer.read()


async def wait_for_chat(chat: str, expected: int, *, quiet_for: float = 30.0,
                        limit: float = 300.0) -> tuple[dict[str, Any], float]:
    """Until `expected` messages arrived, or nothing new for `quiet_for` seconds."""
    start = time.perf_counter()
    seen, changed = -1, time.perf_counter()
    while True:
        stats = await chat_stats(chat)
        count = len(stats["titles"])
        if count != seen:
            seen, changed = count, time.perf_counter()
        now = time.perf_counter()
        if count >= expected or now - changed > quiet_for or now - start > limit:
            await asyncio.sleep(2.0)  # anything sent twice would arrive now
            return await chat_stats(chat), now - start
        await asyncio.sleep(0.25)


@dataclass
class Processes:
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for process in self.started:
            self.stop(process)


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.processes = Processes()
        self.work = Path(tempfile.mkdtemp(prefix="roadie-bench-"))
        self.chat_port = free_port()
        self.chat = f"http://127.0.0.1:{self.chat_port}"
        self.verdicts: list[tuple[str, bool]] = []
        self.rates: dict[tuple[str, int], float] = {}

    def verdict(self, what: str, ok: bool) -> None:
        self.verdicts.append((what, ok))
        print(f"  {'PASS' if ok else 'FAIL'}: {what}", flush=True)

    async def roadie(self, name: str) -> tuple[subprocess.Popen[bytes], str, Path]:
        directory = self.work / name
        directory.mkdir(exist_ok=True)
        port = free_port()
        config = write_roadie_config(directory, port)
        process = self.processes.start("--role", "roadie", str(config), self.chat)
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, server=process)
        return process, url, config

    async def restart(self, config: Path, url: str) -> subprocess.Popen[bytes]:
        process = self.processes.start("--role", "roadie", str(config), self.chat)
        await wait_healthy(url, server=process)
        return process

    async def run(self) -> int:
        self.processes.start("--role", "chat", str(self.chat_port))
        try:
            await self.throughput()
            await self.latency()
            await self.burst()
            await self.burst(kill=True)
        finally:
            self.processes.stop_all()
            shutil.rmtree(self.work, ignore_errors=True)
        failed = [what for what, ok in self.verdicts if not ok]
        print(f"\nbench_webhooks: {len(self.verdicts) - len(failed)} of {len(self.verdicts)} "
              f"targets met" + (f"; missed: {'; '.join(failed)}" if failed else ""))
        return 1 if failed else 0

    # --- 1. throughput --------------------------------------------------------------------

    async def throughput(self) -> tuple[float, float]:
        """Deliveries acknowledged per second, each server's best at any of `IN_FLIGHT`:
        (bare aiohttp, Roadie). Each rate is also kept in `rates`, by (server, in flight)."""
        count = 1000 if self.quick else 4000
        print(f"\n1. Acknowledgement throughput: {count} signed deliveries (issues.opened, "
              f"12 KB), {' and '.join(map(str, IN_FLIGHT))} in flight, best of {ROUNDS} rounds "
              "each", flush=True)
        bare_port = free_port()
        bare = self.processes.start("--role", "bare", str(bare_port))
        bare_url = f"http://127.0.0.1:{bare_port}"
        await wait_healthy(bare_url, server=bare)
        roadie, roadie_url, _ = await self.roadie("throughput")
        for round_ in range(ROUNDS):
            for in_flight in IN_FLIGHT:
                for name, url, server in (("bare", bare_url, bare),
                                          ("roadie", roadie_url, roadie)):
                    run = f"tp{round_}-{in_flight}"
                    # Roadie works through what earlier rounds stored whenever it answers
                    # nothing: paused, it takes no CPU from bare's round.
                    NOT_ACKNOWLEDGED.clear()  # what earlier parts (a kill -9) left in it
                    with paused(roadie) if name == "bare" else contextlib.nullcontext():
                        await closed_loop(url + "/github/webhook",
                                          build_deliveries(200, f"w{run}"), in_flight)  # warm
                        seconds, acked = await self.measured_round(
                            name, server, url, build_deliveries(count, run), in_flight)
                    rate = acked / seconds
                    self.rates[name, in_flight] = max(self.rates.get((name, in_flight), 0.0),
                                                      rate)
                    print(f"   round {round_ + 1}, {in_flight:3} in flight, {name:6}: {acked} "
                          f"acknowledged in {seconds:.2f} s = {rate:,.0f}/s", flush=True)
                    if failed := not_acknowledged(server):
                        print(f"     not acknowledged: {failed}", flush=True)
        self.processes.stop(bare)
        self.processes.stop(roadie)
        for in_flight in IN_FLIGHT:
            bare_at, roadie_at = self.rates["bare", in_flight], self.rates["roadie", in_flight]
            print(f"   {in_flight:3} in flight: bare aiohttp {bare_at:,.0f}/s, Roadie "
                  f"{roadie_at:,.0f}/s ({roadie_at / bare_at:.0%} of bare)")
        bare_rate, roadie_rate = (max(rate for (server, _), rate in self.rates.items()
                                      if server == name) for name in ("bare", "roadie"))
        print(f"   best: bare aiohttp {bare_rate:,.0f}/s, Roadie {roadie_rate:,.0f}/s "
              f"({roadie_rate / bare_rate:.0%} of bare)")
        self.verdict(f"Roadie acknowledges at least half of bare "
                     f"({roadie_rate:,.0f}/s vs {bare_rate:,.0f}/s)",
                     roadie_rate >= bare_rate / 2)
        return bare_rate, roadie_rate

    async def measured_round(self, name: str, server: subprocess.Popen[bytes], url: str,
                             deliveries: list[Delivery], concurrency: int) -> tuple[float, int]:
        """One measured round of the throughput part: (seconds, acknowledged)."""
        return await closed_loop(url + "/github/webhook", deliveries, concurrency)

    # --- 2. latency -----------------------------------------------------------------------

    async def latency(self) -> tuple[float, float]:
        """Acknowledgement latency at 200/s in ms: (p50, p99)."""
        rate, seconds = 200, (5 if self.quick else 15)
        print(f"\n2. Acknowledgement latency at {rate} deliveries/s for {seconds} s "
              "(Roadie processing and sending meanwhile)", flush=True)
        roadie, url, _ = await self.roadie("latency")
        await closed_loop(url + "/github/webhook", build_deliveries(200, "warm"), 8)
        deliveries = build_deliveries(rate * seconds, "lat")
        with collector_held_off():
            latencies = sorted(await open_loop(url + "/github/webhook", deliveries, rate))
        self.processes.stop(roadie)
        await chat_reset(self.chat)
        if not latencies:
            self.verdict("latency measured", False)
            return float("nan"), float("nan")
        p50 = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"   {len(latencies)} acknowledged: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"max {latencies[-1]:.1f} ms")
        self.verdict(f"p99 acknowledgement latency under 25 ms at {rate}/s ({p99:.1f} ms)",
                     p99 < 25 and len(latencies) == rate * seconds)
        return p50, p99

    # --- 3 and 4. bursts ------------------------------------------------------------------

    async def burst(self, kill: bool = False) -> None:
        count = 1000 if self.quick else 5000
        title = "with kill -9 in the middle and a restart" if kill else "to chat"
        print(f"\n{4 if kill else 3}. A burst of {count} deliveries {title} (chat limits "
              f"{CHAT_PER_PLACE}/s per channel, {CHAT_PER_PLATFORM}/s in all; Roadie is told "
              f"{DECLARED_PER_PLACE} and {DECLARED_PER_PLATFORM})", flush=True)
        await chat_reset(self.chat)
        roadie, url, config = await self.roadie("kill" if kill else "burst")
        deliveries = build_deliveries(count, "kill" if kill else "burst")
        hook = url + "/github/webhook"
        start = time.perf_counter()
        halfway = asyncio.Event()
        sending = asyncio.create_task(closed_loop(hook, deliveries, 32, halfway=halfway))
        killed_at = 0
        if kill:
            await halfway.wait()
            roadie.send_signal(signal.SIGKILL)
            roadie.wait()
            killed_at = sum(1 for d in deliveries if d.acked)
        await sending
        acked_before = [d for d in deliveries if d.acked]
        print(f"   {len(acked_before)} acknowledged in {time.perf_counter() - start:.1f} s"
              + (f"; Roadie killed with SIGKILL after {killed_at} acknowledgements" if kill
                 else ""), flush=True)
        if kill:
            roadie = await self.restart(config, url)
            missing = [d for d in deliveries if not d.acked]
            _, redelivered = await closed_loop(hook, missing, 16)
            print(f"   restarted; {redelivered} of {len(missing)} unacknowledged deliveries "
                  f"redelivered (200 when Roadie had stored one before it died)", flush=True)
            for _ in range(6000):  # at most 5 minutes; the chat is another process
                if len((await chat_stats(self.chat))["titles"]) >= count // 2:
                    break
                await asyncio.sleep(0.05)
            roadie.send_signal(signal.SIGKILL)
            roadie.wait()
            shown = len((await chat_stats(self.chat))["titles"])
            roadie = await self.restart(config, url)
            print(f"   killed again with SIGKILL while sending, after {shown} messages reached "
                  "chat; restarted", flush=True)
        stats, waited = await wait_for_chat(self.chat, count)
        self.processes.stop(roadie)
        seen: dict[int, int] = {}
        for text in stats["titles"]:
            match = MARKER.match(text)
            if match:
                seen[int(match.group(2)) - 1] = seen.get(int(match.group(2)) - 1, 0) + 1
        duplicated = sum(1 for n in seen.values() if n > 1)
        lost_acked = [d.index for d in acked_before if d.index not in seen]
        lost_any = [d.index for d in deliveries if d.index not in seen]
        print(f"   chat: {len(stats['titles'])} messages ({len(seen)} deliveries) "
              f"{waited:.1f} s after the last acknowledgement; {duplicated} duplicated; "
              f"{stats['absorbed']} resends absorbed by their idempotency key; "
              f"{stats['limited']} answered 429 and honoured; "
              f"{stats['breach_count']} rate limit breaches {stats['breaches'][:3]}")
        what = "kill -9 burst" if kill else "burst"
        self.verdict(f"{what}: every acknowledged delivery reached chat "
                     f"({len(acked_before) - len(lost_acked)} of {len(acked_before)})",
                     not lost_acked)
        self.verdict(f"{what}: all {count} deliveries reached chat exactly once "
                     f"({len(lost_any)} lost, {duplicated} duplicated)",
                     not lost_any and not duplicated)
        self.verdict(f"{what}: no rate limit breached ({stats['breach_count']})",
                     stats["breach_count"] == 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a try")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.role:
        role, *rest = args.role
        if role == "chat":
            serve_chat(int(rest[0]))
        elif role == "bare":
            serve_bare(int(rest[0]))
        elif role == "roadie":
            serve_roadie(rest[0], rest[1])
        return 0
    print(f"bench_webhooks: {os.cpu_count()} cores, Python {sys.version.split()[0]}, SQLite",
          flush=True)
    return asyncio.run(Bench(args.quick).run())


if __name__ == "__main__":
    raise SystemExit(main())
