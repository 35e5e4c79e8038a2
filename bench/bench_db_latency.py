#!/usr/bin/env python3
"""A slow database never stalls chat: Discord commands, vote buttons, webhooks, /healthz and
a kill -9, against PostgreSQL at a 0 ms and a 5 ms round trip, side by side.

    .venv/bin/python bench/bench_db_latency.py [--quick] [--shared-cores]

The 5 ms round trip is a TCP proxy (bench/latency_proxy.py, its own process) that delays each
direction by half of it, as a managed database in another zone would; the round trip through
it is measured and printed. Each setting gets a PostgreSQL schema of its own
(ROADIE_BENCH_POSTGRES_URL, default the local server's database `test`).

1. Discord slash commands through the real discord.py client and the fake Discord of the
   end-to-end tests (without its checks against Discord's description, which the tests make
   and which would cost Roadie's loop milliseconds of CPU per request here), with the
   garbage collector set as `roadie run` sets it: 200 `/whoami` at once from 200 people
   right after start-up, before any command has run (target: all done in under 1.5 s);
   `/whoami` alone (target: under 25 ms); and 200 at once again (targets: all answered or
   deferred within 3 s, all done in under 1.5 s).
2. 300 clicks on a vote's buttons within one second, by 300 voters (targets: all answered
   within 3 s; 300 ballots counted).
3. Webhooks (bench/bench_webhooks.py's processes: Roadie as `roadie run` wires it, a bare
   aiohttp server, a recording chat): acknowledgements per second against bare aiohttp, at
   32 and at 128 in flight (target: at least half, each at its best; at 32 in flight the
   round trip alone holds any server that waits for it to about half, see
   `bench_webhooks.IN_FLIGHT`), and their latency at 200 deliveries/s (target: p99 under 25 ms),
   each in a schema of its own (the latency is not measured on the throughput run's backlog,
   nor while the server writes out what the throughput run stored: `settle`),
   and beside it the latency of the same writes at the same rate without Roadie (the floor
   that the database, the proxy and the machine set);
   then a burst of 1,000 deliveries, each a message to chat: the time until all are in chat
   (the fake chat allows 135 messages a second), and Roadie's CPU time per delivery.
4. A burst of deliveries to chat, Roadie killed with SIGKILL while sending and restarted under
   its name (targets: the messages it had claimed reach chat within 10 s of the restart;
   every message once, in order per channel).
5. /healthz while another process holds the SQLite write lock for 30 s (10 s with --quick),
   asked every 100 ms (target: every answer within 100 ms, saying the database is busy).

The machine is often shared: the table also gives CPU time (this process's, Roadie and the
fakes together, for the 200 commands and the 300 clicks; Roadie's own per delivery in the
throughput run), to read along with the load average printed at the start and the share of
CPU time the host took from this machine, if it is a virtual one (steal). For the webhook
throughput it gives what each party spent per acknowledgement in its fastest round (the
server, the client standing in for GitHub, PostgreSQL and the latency proxy), bare's server
and client CPU per acknowledgement over Roadie's (an estimate of the share that CPU alone
allows; no target), and how much of the machine's CPU they kept busy in each server's
fastest round (a server that leaves more of it idle than the other is held back by waiting
rather than by CPU).

The webhook throughput target is judged with the database apart: PostgreSQL, the latency
proxy and the fake chat on the machine's last core, the servers and the client on the others
(bench/cores.py), as a database in another zone takes none of the server's CPU. The same
rounds then run again with everything on shared cores, and the table gives both. Where the
database cannot be set apart (one core, or no right to move PostgreSQL's processes: root or
PostgreSQL's own user has it), the table says why, and the target is judged on shared cores;
--shared-cores asks for that. Everything else is measured on shared cores: with one core
left for Roadie and the client, PostgreSQL's and the proxy's own latency at 200/s would no
longer be what a network's is.

How Roadie keeps to the targets at 5 ms: every database call runs on a worker thread;
ballots on one vote that arrive together share one transaction, whose locks are held for
a few round trips however many ballots it counts (cogs/voting/ballots.py,
`votes.casting.cast_many`); the webhook receiver's writes overlap, up to four at once, each
one statement sent by the event loop over connections of its own (bot/runtime/webhooks/store.py
`DeliveryStore`, bot/runtime/pgasync.py), and background work takes one database thread at a
time while deliveries wait (`WebhookReceiver.database_gate`).

Everything binds 127.0.0.1 on ephemeral ports and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_webhooks as webhooks  # noqa: E402
import psycopg  # noqa: E402
import pytest  # noqa: E402
from cores import database_apart, postgres_processes, processes_running  # noqa: E402
from engines import postgres_schema  # noqa: E402
from sqlalchemy import func, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.cli import freeze_what_start_up_made  # noqa: E402
from bot.core.messages import Message  # noqa: E402
from bot.runtime import eventloop  # noqa: E402
from bot.runtime.pgasync import AsyncPostgres  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.db import Database, database_url  # noqa: E402
from governance.inbox import service as inbox  # noqa: E402
from governance.inbox.models import WebhookDelivery  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.outbox.models import OutboxMessage  # noqa: E402
from governance.votes.models import DISPUTE, Ballot  # noqa: E402
from governance.votes.rules import Rules  # noqa: E402
from tests.e2e.harness import World, running_world  # noqa: E402
from tests.fakes.discord import DiscordUser, FakeDiscord, FakeInteraction  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402
from tests.fakes.zulip import FakeZulip  # noqa: E402

PROXY = ROOT / "bench" / "latency_proxy.py"
RULES = Rules(kind=DISPUTE, quorum=3, threshold="majority", min_duration=timedelta(hours=72),
              options=("revert", "keep", "review"))


def ms(seconds: float) -> float:
    return seconds * 1000


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


# --- the database, near and far -------------------------------------------------------------


def base_url() -> str:
    return database_url(os.environ.get("ROADIE_BENCH_POSTGRES_URL",
                                       "postgresql://postgres@127.0.0.1:5432/test"))


def round_trip_ms(url: str, count: int = 50) -> float:
    """The median time of `SELECT 1` on one connection."""
    parts = make_url(url)
    times = []
    with psycopg.connect(host=parts.host, port=parts.port, user=parts.username,
                         dbname=parts.database, password=parts.password) as connection:
        for _ in range(count):
            started = time.perf_counter()
            connection.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - started)
    return ms(statistics.median(times))


@contextmanager
def database_at(round_trip: float, lifetime: float) -> Any:
    """(url, measured round trip in ms) of PostgreSQL reached directly (0) or through the
    latency proxy, tuned once so that the measured round trip comes near `round_trip` ms."""
    url = base_url()
    if not round_trip:
        yield url, round_trip_ms(url)
        return
    target = make_url(url)
    delay = round_trip / 2
    with tempfile.TemporaryDirectory() as directory:
        for attempt in range(2):
            port_file = Path(directory) / f"port{attempt}"
            proxy = subprocess.Popen([sys.executable, str(PROXY),
                                      "--target", f"{target.host}:{target.port or 5432}",
                                      "--delay-ms", f"{delay:.3f}", "--lifetime", str(lifetime),
                                      "--max-connections", "400", "--port-file", str(port_file)])
            for _ in range(100):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            far = target.set(port=int(port_file.read_text())).render_as_string(
                hide_password=False)
            measured = round_trip_ms(far)
            # The proxy's sleeps overshoot (more on a busy machine): aim once more, from what
            # was measured, but never below a fifth of the round trip each way.
            if attempt == 0 and abs(measured - round_trip) > 0.5:
                delay = max(round_trip / 5, delay - (measured - round_trip) / 2)
                proxy.terminate()
                proxy.wait()
                continue
            try:
                yield far, measured
            finally:
                proxy.terminate()
                proxy.wait()
            return


# --- 1 and 2: Discord, in this process --------------------------------------------------------


async def first_answers(interactions: list[FakeInteraction], started: list[float],
                        timeout: float) -> tuple[list[float], list[float]]:
    """(seconds to the first answer or deferral, seconds to the complete answer) of each,
    from its own start."""
    first: dict[int, float] = {}
    done: dict[int, float] = {}
    deadline = time.perf_counter() + timeout
    while len(done) < len(interactions) and time.perf_counter() < deadline:
        now = time.perf_counter()
        for index, interaction in enumerate(interactions):
            if index not in first and (interaction.deferred or interaction.answered.is_set()):
                first[index] = now - started[index]
            if index not in done and interaction.answered.is_set():
                done[index] = now - started[index]
        await asyncio.sleep(0.002)
    return list(first.values()), list(done.values())


async def commands(world: World, users: list[tuple[DiscordUser, str]], quick: bool,
                   results: dict[str, Any]) -> None:
    # First 200 at once right after start-up: nothing prepared, compiled or connected yet
    # but what the start-up did.
    at_once = await whoami_at_once(world, users[:200])
    results["200 at once, first after start-up: all done, s"] = at_once["all done, s"]
    results["200 at once, first after start-up: wrong answers"] = at_once["wrong answers"]
    alone = []
    for _ in range(20 if quick else 50):
        started = time.perf_counter()
        await world.discord.slash(users[0][0], "whoami", timeout=10)
        alone.append(time.perf_counter() - started)
    results["one /whoami, median ms"] = ms(statistics.median(alone))
    results["one /whoami, p99 ms"] = ms(p99(alone))
    at_once = await whoami_at_once(world, users[:200])
    results.update({f"200 at once: {figure}": value for figure, value in at_once.items()})


async def whoami_at_once(world: World, users: list[tuple[DiscordUser, str]]) -> dict[str, Any]:
    """`/whoami` from each of `users` at once: CPU time, how many were answered or deferred,
    the last answer or deferral and the last answer (s), and the answers that were not the
    asker's own."""
    count = len(users)
    started, cpu = time.perf_counter(), time.process_time()
    interactions = await asyncio.gather(*(world.discord.dispatch_slash(user, "whoami")
                                          for user, _ in users))
    first, done = await first_answers(list(interactions), [started] * count, timeout=30)
    wrong = [i for i, (interaction, (_user, login)) in enumerate(zip(interactions, users,
                                                                    strict=True))
             if interaction.answered.is_set()
             and not interaction.answer().text.startswith(f"You are {login} on GitHub.")]
    return {"CPU s (Roadie and fakes)": time.process_time() - cpu,
            "answered or deferred": f"{len(first)}/{count}",
            "last answer or deferral, s": max(first, default=float("nan")),
            "all done, s": max(done) if len(done) == count else float("nan"),
            "wrong answers": len(wrong)}


async def vote_clicks(world: World, users: list[tuple[DiscordUser, str]],
                      results: dict[str, Any]) -> None:
    number, status = await world.open_dispute(
        proposer=users[0][1], electorate=[login for _, login in users], rules=RULES)
    started = time.perf_counter() + 0.05
    clicked: list[FakeInteraction] = []
    planned: list[float] = []

    async def click(index: int, user: DiscordUser) -> None:
        planned_at = started + index / len(users)
        await asyncio.sleep(max(0.0, planned_at - time.perf_counter()))
        planned.append(planned_at)
        clicked.append(await world.discord.dispatch_click(user, status,
                                                          ("Revert", "Keep")[index % 2]))

    cpu = time.process_time()
    await asyncio.gather(*(click(i, user) for i, (user, _) in enumerate(users)))
    first, done = await first_answers(clicked, planned, timeout=60)
    results["300 clicks in 1 s: CPU s (Roadie and fakes)"] = time.process_time() - cpu
    as_ballots = sum("ballot" in i.answer().text for i in clicked if i.answered.is_set())
    counted = await world.roadie.db.run(lambda session: session.exec(
        select(func.count()).select_from(Ballot).where(Ballot.vote == number)).one())
    results["300 clicks in 1 s: last answer or deferral, s"] = max(first, default=float("nan"))
    results["300 clicks in 1 s: median answer, ms"] = ms(statistics.median(done or [0]))
    results["300 clicks in 1 s: last answer, s"] = (max(done) if len(done) == len(users)
                                                     else float("nan"))
    results["300 clicks in 1 s: ballots counted"] = f"{counted}/{len(users)}"
    results["300 clicks in 1 s: answered as ballots"] = f"{as_ballots}/{len(users)}"


@contextmanager
def collector_as_in_roadie_run() -> Iterator[None]:
    """The garbage collector as `roadie run` sets it once started (bot/cli.py,
    `freeze_what_start_up_made`): what this process holds by then (the fakes, and what the
    parts before left) stays out of the full collections, and those are rarer. Without it,
    each full collection here took 0.1-0.2 s of the Discord part's time once the webhook
    parts had run in this process, which Roadie in production never spends."""
    threshold = gc.get_threshold()
    freeze_what_start_up_made()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def discord_part(url: str, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with postgres_schema(url) as db:
        if db is None:
            return results
        upgrade(db)

        async def run() -> None:
            monkeypatch = pytest.MonkeyPatch()
            # The fakes check every exchange against the services' descriptions (jsonschema,
            # milliseconds of CPU each): the tests' business. Here they would run in Roadie's
            # process and on its loop, where the real services' work never does.
            for fake in (FakeDiscord, FakeZulip, FakeGitHub):
                monkeypatch.setattr(fake, "contract_name", None)
            try:
                with tempfile.TemporaryDirectory() as directory:
                    async with running_world(Path(directory), monkeypatch, db) as world:
                        users = await world.discord_members(300)
                        with collector_as_in_roadie_run():
                            await commands(world, users, quick, results)
                            print(f"   commands: {results}", flush=True)
                            await vote_clicks(world, users, results)
            finally:
                monkeypatch.undo()

        eventloop.run(run())
    return results


# --- 3 and 4: webhooks and kill -9, with bench_webhooks' processes ----------------------------


def cpu_stolen() -> tuple[float, float]:
    """(CPU seconds the hypervisor took from this machine, CPU seconds in all) so far, from
    /proc/stat; zeros where it cannot be read."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (fields[7] if len(fields) > 7 else 0) / tick, sum(fields[:8]) / tick


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process (Linux), 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of_each(server: int) -> dict[str, dict[int, float]]:
    """CPU seconds so far of everything an acknowledgement costs on this machine, by process:
    the server, this process (the client), PostgreSQL's processes and the latency proxy."""
    own = os.times()
    return {"server": {server: cpu_seconds(server)},
            "client": {os.getpid(): own.user + own.system},
            "PostgreSQL": {pid: cpu_seconds(pid) for pid in postgres_processes()},
            "proxy": {pid: cpu_seconds(pid) for pid in processes_running(PROXY.name)}}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes in `after` spent since `before`: one that ended meanwhile
    takes its time with it, and is not counted."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class FarWebhooks(webhooks.Bench):
    """bench_webhooks' setting, with Roadie on PostgreSQL at `url`. The CPU time each
    Roadie process used once it was serving is noted when it is stopped (`roadie_cpu`, by
    its name), and the CPU time each party spent per acknowledgement in each throughput
    round (`round_cpu`, by server: (acknowledged per second, ms per acknowledgement by
    party)): the cores are shared by all of them, or set apart for the database (`apart`)."""

    def __init__(self, quick: bool, url: str, *, apart: bool = False) -> None:
        """`apart`: the throughput rounds with PostgreSQL, the latency proxy and the fake
        chat on a core of their own (`cores.database_apart`); `apart_refused` then says why
        not, if they could not be."""
        super().__init__(quick)
        self.url = url
        self.apart = apart
        self.apart_refused = ""
        self.roadie_cpu: dict[str, float] = {}
        self._serving: dict[int, tuple[str, float]] = {}  # pid: name, CPU once serving
        stop = self.processes.stop

        def noting_cpu(process: subprocess.Popen[bytes]) -> None:
            if process.pid in self._serving and process.poll() is None:
                name, serving = self._serving[process.pid]
                self.roadie_cpu[name] = cpu_seconds(process.pid) - serving
            stop(process)

        self.processes.stop = noting_cpu  # type: ignore[method-assign]
        self.round_cpu: dict[str, list[tuple[float, dict[str, float]]]] = {}

    async def throughput(self) -> tuple[float, float]:
        if not self.apart:
            return await super().throughput()
        chat = [process.pid for process in self.processes.started if "chat" in process.args]
        with database_apart([*chat, *processes_running(PROXY.name)]) as refused:
            self.apart_refused = refused
            print(f"\n   PostgreSQL, the latency proxy and the chat on a core of their own: "
                  f"{f'no, {refused}' if refused else 'yes'}", flush=True)
            if not refused:
                print("   (should this run be killed, `bench/cores.py --give-back` gives "
                      "PostgreSQL its cores back)", flush=True)
            return await super().throughput()

    async def measured_round(self, name: str, server: subprocess.Popen[bytes], url: str,
                             deliveries: list[webhooks.Delivery],
                             concurrency: int) -> tuple[float, int]:
        before = cpu_of_each(server.pid)
        seconds, acked = await super().measured_round(name, server, url, deliveries,
                                                      concurrency)
        after = cpu_of_each(server.pid)
        self.round_cpu.setdefault(name, []).append((acked / seconds, {
            party: 1000 * cpu_spent(before[party], after[party]) / max(acked, 1)
            for party in after}))
        return seconds, acked

    def fastest(self, name: str) -> tuple[float, dict[str, float]] | None:
        """`name`'s fastest round: (acknowledged per second, CPU ms per acknowledgement by
        party); None before any."""
        rounds = self.round_cpu.get(name)
        return max(rounds, key=lambda measured: measured[0]) if rounds else None

    def cpu_per_ack(self, name: str) -> str:
        """The CPU ms per acknowledgement of each party in `name`'s fastest round, in the
        order of `cpu_of_each`."""
        if (fastest := self.fastest(name)) is None:
            return "-"
        return "/".join(f"{ms:.2f}" for ms in fastest[1].values())

    def machine_used(self, name: str) -> str:
        """The share of the machine's cores that all parties kept busy in `name`'s fastest
        round: below the other server's, a server is held back by waiting, not by CPU."""
        if (fastest := self.fastest(name)) is None:
            return "-"
        rate, parties = fastest
        return f"{rate * sum(parties.values()) / 1000 / (os.cpu_count() or 1):.0%}"

    def share_by_cpu(self, parties: tuple[str, ...] = ("server", "client")) -> str:
        """Bare's CPU per acknowledgement over Roadie's, counting `parties` only, each in its
        fastest round: the share of bare that Roadie would reach were that CPU all it took,
        as with the database on a machine of its own. An estimate: the measured share is
        `throughput`'s."""
        bare_round, roadie_round = self.fastest("bare"), self.fastest("roadie")
        if bare_round is None or roadie_round is None:
            return "-"
        bare, roadie = (sum(measured[1][party] for party in parties)
                        for measured in (bare_round, roadie_round))
        return f"{bare / roadie:.0%}" if roadie else "-"

    async def roadie(self, name: str) -> tuple[subprocess.Popen[bytes], str, Path]:
        directory = self.work / name
        directory.mkdir(exist_ok=True)
        port = webhooks.free_port()
        config = webhooks.write_roadie_config(directory, port, database=self.url)
        # A name of this run's own: another run on this host may hold "bench-roadie".
        config.write_text(config.read_text().replace(
            "[bot]\n", f'[bot]\ninstance = "bench-{self.work.name}"\n', 1))
        process = self.processes.start("--role", "roadie", str(config), self.chat)
        url = f"http://127.0.0.1:{port}"
        await webhooks.wait_healthy(url, server=process)
        self._serving[process.pid] = name, cpu_seconds(process.pid)
        return process, url, config


def titles_by_place(db: Database) -> dict[str, list[str]]:
    """The titles of the messages queued for each channel, in the order they were queued."""
    with db.transaction() as session:
        rows = session.exec(select(OutboxMessage.destination, OutboxMessage.payload)
                            .order_by(OutboxMessage.id)).all()
    found: dict[str, list[str]] = {}
    for place, payload in rows:
        found.setdefault(place, []).append(Message.from_json(payload).title)
    return found


def claimed_titles(db: Database) -> set[str]:
    with db.transaction() as session:
        rows = session.exec(select(OutboxMessage.payload).where(
            OutboxMessage.status == "pending",
            OutboxMessage.claimed_until.is_not(None))).all()  # type: ignore[union-attr]
    return {Message.from_json(payload).title for payload in rows}


async def kill_and_restart(bench: FarWebhooks, db: Database, results: dict[str, Any]) -> None:
    count = 500 if bench.quick else 1500
    await webhooks.chat_reset(bench.chat)
    roadie, url, config = await bench.roadie("kill")
    hook = url + "/github/webhook"
    deliveries = webhooks.build_deliveries(count, "kill")
    await webhooks.closed_loop(hook, deliveries, 32)
    for _ in range(1200):  # at most a minute: until a third reached chat
        if len((await webhooks.chat_stats(bench.chat))["titles"]) >= count // 3:
            break
        await asyncio.sleep(0.05)
    claimed = await asyncio.to_thread(claimed_titles, db)
    roadie.send_signal(9)
    roadie.wait()
    restarted_at = time.perf_counter()
    roadie = await bench.restart(config, url)
    claimed_seen_after = float("nan")
    for _ in range(1200):  # at most a minute
        titles = set((await webhooks.chat_stats(bench.chat))["titles"])
        if claimed <= titles:
            claimed_seen_after = time.perf_counter() - restarted_at
            break
        await asyncio.sleep(0.05)
    stats, _waited = await webhooks.wait_for_chat(bench.chat, count, quiet_for=15.0)
    bench.processes.stop(roadie)
    queued = await asyncio.to_thread(titles_by_place, db)
    arrived: dict[str, list[str]] = {}
    seen: set[str] = set()
    place_of = {title: place for place, titles in queued.items() for title in titles}
    duplicated = 0
    for title in stats["titles"]:
        if title in seen:
            duplicated += 1
            continue
        seen.add(title)
        arrived.setdefault(place_of.get(title, "?"), []).append(title)
    # In order: what reached each channel came in the order it was queued there.
    in_order = all(arrived.get(place, []) == [t for t in titles if t in seen]
                   for place, titles in queued.items())
    for place, titles in queued.items():
        got, wanted = arrived.get(place, []), [t for t in titles if t in seen]
        if got != wanted:
            at = next(i for i, (a, b) in enumerate(zip(got, wanted, strict=False)) if a != b)
            print(f"   {place}: out of order at {at}: arrived {got[at:at + 4]}, queued "
                  f"{wanted[at:at + 4]}; claimed at the kill: {sorted(claimed)}", flush=True)
    results["kill -9: claimed at the kill"] = len(claimed)
    results["kill -9: claimed ones sent, s after restart"] = claimed_seen_after
    results["kill -9: messages in chat"] = f"{len(seen)}/{sum(map(len, queued.values()))}"
    results["kill -9: duplicates, order kept"] = f"{duplicated}, {in_order}"


async def burst_to_chat(bench: FarWebhooks, results: dict[str, Any]) -> None:
    """A burst of deliveries, each a message to chat: how soon all of them are in chat
    (stored, processed, sent within the chat's limits), and Roadie's CPU time for each."""
    count = 300 if bench.quick else 1000
    await webhooks.chat_reset(bench.chat)
    roadie, url, _ = await bench.roadie("burst")
    started = time.perf_counter()
    await webhooks.closed_loop(url + "/github/webhook",
                               webhooks.build_deliveries(count, "burst"), 32)
    arrived = 0
    for _ in range(3000):  # at most five minutes
        arrived = len((await webhooks.chat_stats(bench.chat))["titles"])
        if arrived >= count:
            break
        await asyncio.sleep(0.1)
    seconds = time.perf_counter() - started
    bench.processes.stop(roadie)
    results[f"burst of {count} to chat: all in chat, s"] = (
        seconds if arrived >= count else f"{arrived}/{count} in {seconds:.0f} s")
    results["burst to chat: Roadie CPU ms per delivery"] = (
        1000 * bench.roadie_cpu.get("burst", float("nan")) / count)


async def database_alone(url: str, rate: int, seconds: int) -> tuple[float, float]:
    """The floor under the acknowledgement latency: the statement that stores a delivery,
    sent at `rate` a second straight from this process over the receiver's kind of
    connections, without Roadie: (p50, p99) in ms. What the database, the proxy and a
    shared machine add to every write shows here."""
    db = Database(url)
    connections = AsyncPostgres(db, 4)
    payload = webhooks.build_deliveries(1, "alone")[0].body.decode()
    latencies: list[float] = []

    async def store(number: int) -> None:
        delivery = inbox.NewDelivery(delivery_id=f"alone-{number}", event="issues",
                                     action="opened", hook_id="1", payload=payload)
        statement, values = inbox.postgres_store_statement([delivery], now=utcnow())
        started = time.perf_counter()
        await connections.fetch_all(statement, values)
        latencies.append(ms(time.perf_counter() - started))

    await store(-1)  # opens a connection
    latencies.clear()
    writes: list[asyncio.Task[None]] = []
    try:
        with webhooks.collector_held_off():
            started = time.perf_counter()
            for number in range(rate * seconds):
                await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
                writes.append(asyncio.create_task(store(number)))
            await asyncio.gather(*writes)
    finally:
        await connections.close()
        db.dispose()
    return statistics.median(latencies), p99(latencies)


def settle(db: Database) -> None:
    """Empty the throughput run's tables and flush what it wrote, so that the next part is
    not measured on top of the server writing out (and vacuuming) some hundreds of
    megabytes of deliveries. CHECKPOINT needs a superuser or pg_checkpoint: without, the
    flush is left to the server."""
    with db.engine.connect() as connection:
        connection.execute(text(f"TRUNCATE {WebhookDelivery.__tablename__}, "
                                f"{OutboxMessage.__tablename__}"))
        connection.commit()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
    except Exception as error:
        print(f"   (no CHECKPOINT after the throughput run: {str(error).splitlines()[0]})")


def throughput_figures(bench: FarWebhooks, bare: float, roadie: float,
                       results: dict[str, Any]) -> None:
    """The figures of the throughput run that the target is judged on."""
    results["webhooks: acks/s, Roadie vs bare (best of 32 and 128 in flight)"] = (
        f"{roadie:,.0f} vs {bare:,.0f}")
    results["webhooks: share of bare"] = f"{roadie / bare:.0%}"
    few = webhooks.IN_FLIGHT[0]
    results[f"webhooks at {few} in flight: acks/s, Roadie vs bare"] = (
        f"{bench.rates['roadie', few]:,.0f} vs {bench.rates['bare', few]:,.0f}")
    # `ROUNDS` rounds of `count` deliveries at each in-flight count, each after 200 to warm up.
    sent = webhooks.ROUNDS * len(webhooks.IN_FLIGHT) * ((1000 if bench.quick else 4000) + 200)
    results["webhooks: Roadie CPU ms per delivery"] = (
        1000 * bench.roadie_cpu.get("throughput", float("nan")) / sent)
    # What each party spent per acknowledgement.
    results["webhooks, Roadie's round: CPU ms per ack (server/client/"
            "PostgreSQL/proxy)"] = bench.cpu_per_ack("roadie")
    results["webhooks, bare's round: CPU ms per ack (same)"] = bench.cpu_per_ack("bare")
    results["webhooks, fastest rounds: the machine's CPU in use, Roadie vs bare"] = (
        f"{bench.machine_used('roadie')} vs {bench.machine_used('bare')}")
    results["webhooks: share of bare by server and client CPU per ack "
            "(estimate)"] = bench.share_by_cpu()


async def shared_throughput(bench: FarWebhooks, url: str, results: dict[str, Any]) -> None:
    """The throughput run again with everything on shared cores, in the schema at `url`:
    for comparison with the run judged, which had the database on a core of its own."""
    print("\n   The same, everything on shared cores (for comparison; the target is judged "
          "on the run above):", flush=True)
    judged = bench.url, bench.apart
    bench.url, bench.apart = url, False
    bench.rates.clear()
    bench.round_cpu.clear()
    try:
        bare, roadie = await bench.throughput()
    finally:
        bench.url, bench.apart = judged
    results["webhooks, all on shared cores: acks/s, Roadie vs bare; share"] = (
        f"{roadie:,.0f} vs {bare:,.0f}; {roadie / bare:.0%}")
    results["webhooks, all on shared cores: CPU ms per ack, Roadie's round"] = (
        bench.cpu_per_ack("roadie"))
    results["webhooks, all on shared cores: CPU ms per ack, bare's round"] = (
        bench.cpu_per_ack("bare"))


def webhooks_part(url: str, quick: bool, results: dict[str, Any], *,
                  apart: bool = True) -> None:
    """Throughput, latency, the burst to chat and the kill -9 each in a schema of its own:
    the latency at a steady 200/s is not measured on top of the thousands of deliveries the
    throughput run left to process, and the burst and the kill -9 start with an empty
    outbox. `apart`: the throughput judged with the database on a core of its own, and
    measured again on shared cores for comparison."""
    with postgres_schema(url) as db, postgres_schema(url) as shared, \
            postgres_schema(url) as steady, postgres_schema(url) as fresh, \
            postgres_schema(url) as burst:
        if db is None or shared is None or steady is None or fresh is None or burst is None:
            return
        for schema in (db, shared, steady, fresh, burst):
            upgrade(schema)

        async def run() -> None:
            bench = FarWebhooks(quick, db.url, apart=apart)
            bench.processes.start("--role", "chat", str(bench.chat_port))
            try:
                bare, roadie = await bench.throughput()
                if apart:
                    results["webhooks: throughput with the database on a core of its own"] = (
                        f"no: {bench.apart_refused}" if bench.apart_refused else "yes")
                throughput_figures(bench, bare, roadie, results)
                if apart and not bench.apart_refused:
                    await shared_throughput(bench, shared.url, results)
                    await asyncio.to_thread(settle, shared)
                await asyncio.to_thread(settle, db)
                bench.url = steady.url
                p50, p99_ms = await bench.latency()
                results["webhooks at 200/s: p50, p99 ms"] = f"{p50:.1f}, {p99_ms:.1f}"
                alone = await database_alone(steady.url, 200, 5 if quick else 15)
                print(f"   the same writes without Roadie: p50 {alone[0]:.1f} ms, "
                      f"p99 {alone[1]:.1f} ms", flush=True)
                results["database alone, the same writes at 200/s: p50, p99 ms"] = (
                    f"{alone[0]:.1f}, {alone[1]:.1f}")
                bench.url = burst.url
                await burst_to_chat(bench, results)
                bench.url = fresh.url
                await kill_and_restart(bench, fresh, results)
            finally:
                bench.processes.stop_all()

        asyncio.run(run())


# --- 5: /healthz under a SQLite lock ---------------------------------------------------------


LOCKER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""


async def healthz_part(quick: bool, results: dict[str, Any]) -> None:
    import aiohttp

    hold = 10.0 if quick else 30.0
    bench = webhooks.Bench(quick)
    bench.processes.start("--role", "chat", str(bench.chat_port))
    try:
        roadie, url, config = await bench.roadie("healthz")
        database = config.parent / "roadie.db"
        locker = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-c", LOCKER, str(database), str(hold)],
            stdout=subprocess.PIPE)
        assert locker.stdout is not None
        await asyncio.to_thread(locker.stdout.readline)
        times, said = [], {}
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            while time.perf_counter() - started < hold - 0.5:
                asked = time.perf_counter()
                async with session.get(url + "/healthz") as answer:
                    body = await answer.json()
                times.append(time.perf_counter() - asked)
                said[body.get("database")] = said.get(body.get("database"), 0) + 1
                await asyncio.sleep(0.1)
        await asyncio.to_thread(locker.wait)
        bench.processes.stop(roadie)
        results["healthz under a SQLite lock: slowest ms"] = ms(max(times))
        results["healthz under a SQLite lock: answers"] = ", ".join(
            f"{n} {what}" for what, n in said.items())
    finally:
        bench.processes.stop_all()


# --- the table ---------------------------------------------------------------------------------


TARGETS = {
    "one /whoami, median ms": ("< 25", lambda v: v < 25),
    "200 at once, first after start-up: all done, s": ("< 1.5", lambda v: v < 1.5),
    "200 at once, first after start-up: wrong answers": ("0", lambda v: v == 0),
    "200 at once: answered or deferred": ("200/200", lambda v: v == "200/200"),
    "200 at once: last answer or deferral, s": ("< 3", lambda v: v < 3),
    "200 at once: all done, s": ("< 1.5", lambda v: v < 1.5),
    "200 at once: wrong answers": ("0", lambda v: v == 0),
    "300 clicks in 1 s: last answer or deferral, s": ("< 3", lambda v: v < 3),
    "300 clicks in 1 s: ballots counted": ("300/300", lambda v: v == "300/300"),
    "webhooks: share of bare": (">= 50%", lambda v: int(v.rstrip("%")) >= 50),
    "webhooks at 200/s: p50, p99 ms": ("p99 < 25", lambda v: float(v.split(", ")[1]) < 25),
    "kill -9: claimed ones sent, s after restart": ("< 10", lambda v: v < 10),
    "kill -9: duplicates, order kept": ("0, True", lambda v: v == "0, True"),
    "healthz under a SQLite lock: slowest ms": ("< 100", lambda v: v < 100),
}


def show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    return str(value)


def print_table(columns: dict[str, dict[str, Any]]) -> bool:
    names = list(columns)
    keys: list[str] = []
    for figures in columns.values():
        keys += [k for k in figures if k not in keys]
    width = max(map(len, keys)) + 2
    print("\n" + "".ljust(width) + "".join(f"{n:>22}" for n in names) + "   target")
    met = True
    for key in keys:
        cells = "".join(f"{show(columns[n].get(key, '-')):>22}" for n in names)
        target, check = TARGETS.get(key, ("", None))
        verdict = ""
        if check is not None:
            far = columns[names[-1]].get(key)
            ok = far is not None and check(far)
            met &= ok
            verdict = f"  {'PASS' if ok else 'FAIL'} at {names[-1]}"
        print(f"{key.ljust(width)}{cells}   {target}{verdict}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a try")
    parser.add_argument("--shared-cores", action="store_true",
                        help="webhook throughput only with everything on shared cores, not "
                             "with the database on a core of its own")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["discord", "webhooks", "healthz"], help="parts to leave out")
    args = parser.parse_args()
    print(f"bench_db_latency: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    columns: dict[str, dict[str, Any]] = {}
    for round_trip in (0.0, 5.0):
        name = f"PostgreSQL {round_trip:.0f} ms"
        with database_at(round_trip, lifetime=1800) as (url, measured):
            figures: dict[str, Any] = {"measured round trip, ms": measured}
            print(f"\n== {name}: measured round trip {measured:.2f} ms", flush=True)
            stolen_before, total_before = cpu_stolen()
            if "discord" not in args.skip:
                figures.update(discord_part(url, args.quick))
                print(f"   Discord done: {figures}", flush=True)
            if "webhooks" not in args.skip:
                webhooks_part(url, args.quick, figures, apart=not args.shared_cores)
            stolen, total = (now - before for now, before
                             in zip(cpu_stolen(), (stolen_before, total_before), strict=True))
            # A virtual machine's host may take CPU time from it: figures measured while it
            # took much of it are slower than the machine is.
            figures["CPU taken by the host (steal), %"] = (f"{100 * stolen / total:.0f}"
                                                           if total else "-")
            columns[name] = figures
    if "healthz" not in args.skip:
        figures = {}
        asyncio.run(healthz_part(args.quick, figures))
        columns[list(columns)[-1]].update(figures)
    return 0 if print_table(columns) else 1


if __name__ == "__main__":
    raise SystemExit(main())
