#!/usr/bin/env python3
"""The webhook receiver under abuse: memory, /healthz and signed deliveries meanwhile.

    .venv/bin/python bench/bench_receiver_abuse.py [--quick]

Roadie runs in its own process (`roadie run`'s wiring, on SQLite), so that its resident
memory can be read from /proc. For a fixed time, attacker processes on 127.0.0.1 keep up:

- 100 concurrent unsigned 25 MB bodies (half without a signature header, half with a
  well-formed but wrong one, so that they must be read to be found out), each sent as fast
  as the connection takes it, again and again;
- 1,000 slow connections (half send their request head a byte a second, half a signed
  head and then their body a byte a second), reconnecting whenever Roadie closes them;
- 100 gzip bombs (1 GB of JSON in 1 MB, signed), again and again;

each attacker starting again half a second after an answer (the attackers run at nice 10:
on a real host their CPU is not Roadie's). Meanwhile this process sends signed deliveries
(made before the measurement starts, so that making them does not hold up its own probes)
at a steady rate and asks for /healthz every 100 ms on a new connection, and prints
Roadie's CPU time and the machine's load. Targets: Roadie's resident memory (peak, VmHWM)
stays under 250 MB, every /healthz answers within 100 ms, and every signed delivery sent is
acknowledged. Every loop is bounded in time and count; the script stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_webhooks import (  # noqa: E402
    SECRET,
    Delivery,
    build_deliveries,
    free_port,
    post,
    wait_healthy,
)

MB = 1024 * 1024
BIG_BODY = 25 * MB
RSS_TARGET_MB = 250
HEALTHZ_TARGET_MS = 100
SIGNED_PER_SECOND = 40
PROBE_EVERY = 0.1
AGAIN_AFTER = 0.5
"""An attacker whose request was answered starts the next one this long after: the attacks
keep their number of connections, rather than turning into a flood of new connections."""


def raise_open_files(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def head(port: int, length: int, extra: str = "") -> bytes:
    return (f"POST /github/webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nX-GitHub-Event: issues\r\n"
            f"X-GitHub-Delivery: attack-{time.monotonic_ns()}\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


WRONG_SIGNATURE = "X-Hub-Signature-256: sha256=" + "0" * 64 + "\r\n"


async def answer_status(reader: asyncio.StreamReader, within: float) -> int:
    with contextlib.suppress(TimeoutError, ConnectionError, ValueError, IndexError):
        async with asyncio.timeout(within):
            line = await reader.readline()
            return int(line.split(b" ", 2)[1])
    return 0


# --- the attackers (processes of their own) ------------------------------------------------


async def attack_big(port: int, seconds: float, count: int) -> None:
    """`count` connections at once, each sending a 25 MB body, again and again."""
    chunk = b" " * (256 * 1024)
    statuses: Counter[int] = Counter()
    sent = 0
    end = time.monotonic() + seconds

    async def one(index: int) -> None:
        nonlocal sent
        extra = WRONG_SIGNATURE if index % 2 else ""
        while time.monotonic() < end:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                statuses[-1] += 1
                await asyncio.sleep(0.2)
                continue
            status = 0
            try:
                writer.write(head(port, BIG_BODY, extra))
                writer.write(b"{")
                for _ in range(BIG_BODY // len(chunk)):
                    if reader.at_eof() or time.monotonic() >= end:
                        break
                    writer.write(chunk)
                    await writer.drain()
                    sent += len(chunk)
                    if reader._buffer:  # type: ignore[attr-defined]  # answered already
                        break
                status = await answer_status(reader, within=5.0)
            except (ConnectionError, OSError):
                status = await answer_status(reader, within=0.5)
            finally:
                writer.close()
            statuses[status] += 1
            await asyncio.sleep(AGAIN_AFTER)

    await asyncio.gather(*(one(i) for i in range(count)))
    print(f"   attack big   : {count} connections; answers {dict(sorted(statuses.items()))} "
          f"(0: cut off); {sent / MB:,.0f} MB sent", flush=True)


async def attack_slow(port: int, seconds: float, count: int) -> None:
    """`count` connections at once, sending a byte a second; reconnect when closed."""
    opened = closed_by_roadie = 0
    statuses: Counter[int] = Counter()
    end = time.monotonic() + seconds

    async def one(index: int) -> None:
        nonlocal opened, closed_by_roadie
        await asyncio.sleep(index / count)  # spread over the first second
        while time.monotonic() < end:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                statuses[-1] += 1
                await asyncio.sleep(1.0)
                continue
            opened += 1
            if index % 2:  # a signed head, then the body a byte a second
                writer.write(head(port, 10_000, WRONG_SIGNATURE))
                trickle = b"{" + b" " * 9998 + b"}"
            else:  # the head itself, a byte a second
                trickle = head(port, 2)
            try:
                for byte in trickle:
                    if reader.at_eof() or time.monotonic() >= end:
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(1.0)
                if reader.at_eof():
                    closed_by_roadie += 1
                    statuses[await answer_status(reader, within=0.1)] += 1
            except (ConnectionError, OSError):
                closed_by_roadie += 1
            finally:
                writer.close()

    await asyncio.gather(*(one(i) for i in range(count)))
    print(f"   attack slow  : {count} connections at once; {opened} opened, "
          f"{closed_by_roadie} closed by Roadie; answers {dict(sorted(statuses.items()))}",
          flush=True)


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body that inflates to `inflated` bytes of JSON."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(b'{"zen": "')]
    block = b"a" * MB
    parts += [compressor.compress(block) for _ in range(inflated // MB)]
    parts += [compressor.compress(b'"}'), compressor.flush()]
    return b"".join(parts)


async def attack_gzip(port: int, seconds: float, count: int) -> None:
    """`count` connections at once, each sending a gzip bomb, again and again."""
    import hashlib
    import hmac

    bomb = gzip_bomb(1024 * MB)
    signature = "sha256=" + hmac.new(SECRET, bomb, hashlib.sha256).hexdigest()
    extra = f"Content-Encoding: gzip\r\nX-Hub-Signature-256: {signature}\r\n"
    statuses: Counter[int] = Counter()
    end = time.monotonic() + seconds

    async def one() -> None:
        while time.monotonic() < end:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                statuses[-1] += 1
                await asyncio.sleep(0.2)
                continue
            try:
                writer.write(head(port, len(bomb), extra) + bomb)
                await writer.drain()
                statuses[await answer_status(reader, within=5.0)] += 1
            except (ConnectionError, OSError):
                statuses[await answer_status(reader, within=0.5)] += 1
            finally:
                writer.close()
            await asyncio.sleep(AGAIN_AFTER)

    await asyncio.gather(*(one() for _ in range(count)))
    print(f"   attack gzip  : {count} connections, bombs of {len(bomb) / MB:.1f} MB "
          f"inflating to 1 GB; answers {dict(sorted(statuses.items()))}", flush=True)


def run_attack(kind: str, port: int, seconds: float, count: int) -> None:
    # Attackers use machines of their own; here they share Roadie's cores, so they yield
    # them first (what they cost Roadie is then what Roadie does, not their own sending).
    os.nice(10)
    raise_open_files(count + 256)
    attack = {"big": attack_big, "slow": attack_slow, "gzip": attack_gzip}[kind]
    asyncio.run(attack(port, seconds, count))


# --- Roadie (a process of its own) ---------------------------------------------------------


def write_roadie_config(directory: Path, port: int) -> Path:
    """Roadie on SQLite with its receiver on; no feeds, so that deliveries are stored and
    processed without a chat platform."""
    secret = directory / "secret"
    secret.write_bytes(SECRET)
    path = directory / "roadie.toml"
    path.write_text(f"""
[bot]
org = "bench"
log_level = "WARNING"
[database]
url = "{directory / 'roadie.db'}"
[server]
bind = "127.0.0.1:{port}"
[github]
webhook_secret_file = "{secret}"
token_env = "ROADIE_BENCH_NO_TOKEN"
[console]
enabled = "never"
[destinations.admins]
[destinations.moderators]
[destinations.modlog]
[destinations.digest]
""")
    return path


def serve_roadie(config_path: str) -> None:
    from bot.cli import _serve
    from bot.config import load_config
    from bot.runtime import eventloop
    from bot.runtime.app import Roadie

    roadie = Roadie(load_config(config_path), transports=[], instance="abuse-roadie")
    eventloop.run(_serve(roadie))


# --- the measuring side (this process) -----------------------------------------------------


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def probe_healthz(url: str, end: float) -> tuple[list[float], Counter[str]]:
    """Latencies (ms) of GET /healthz every PROBE_EVERY s, each on a new connection; and the
    failures by kind (not 200, or no answer within a second)."""
    import aiohttp

    latencies: list[float] = []
    failures: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=1.0)
    while time.monotonic() < end:
        started = time.perf_counter()
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(url + "/healthz") as answer:
                body = await answer.json()
                ok = answer.status == 200
                if not ok:
                    failures[f"{answer.status} {body.get('database')}"] += 1
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as error:
            ok = False
            failures[type(error).__name__] += 1
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        await asyncio.sleep(max(0.0, PROBE_EVERY - elapsed / 1000))
    return latencies, failures


async def send_signed(url: str, deliveries: list[Delivery]) -> tuple[int, int, Counter[int]]:
    """`deliveries` at SIGNED_PER_SECOND: (sent, acknowledged, statuses). They are made
    beforehand: making them (JSON and a signature each) would stall this process's loop,
    and with it the /healthz probes, for a tenth of a second and more."""
    import aiohttp

    statuses: Counter[int] = Counter()
    start = time.monotonic()

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        await asyncio.sleep(max(0.0, start + index / SIGNED_PER_SECOND - time.monotonic()))
        statuses[await post(session, url + "/github/webhook", deliveries[index])] += 1

    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(one(session, i) for i in range(len(deliveries))))
    return len(deliveries), statuses[200] + statuses[202], statuses


async def sample_rss(pid: int, end: float) -> list[float]:
    samples = []
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            samples.append(rss_mb(pid))
        await asyncio.sleep(0.05)
    return samples


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def spawn(*role: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--role", *role], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


async def bench(quick: bool, attacks: list[str]) -> int:
    seconds = 12.0 if quick else 30.0
    big, slow, bombs = (40, 400, 40) if quick else (100, 1000, 100)
    work = Path(tempfile.mkdtemp(prefix="roadie-abuse-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_roadie_config(work, port)
    roadie = spawn("roadie", str(config))
    attackers: list[subprocess.Popen[bytes]] = []
    try:
        await wait_healthy(url, server=roadie)
        await asyncio.sleep(1.0)
        before = rss_mb(roadie.pid)
        print(f"bench_receiver_abuse: {os.cpu_count()} cores, {seconds:.0f} s of abuse; "
              f"Roadie (pid {roadie.pid}) at {before:.0f} MB resident before", flush=True)
        print(f"   {big} unsigned 25 MB bodies, {slow} slow connections and {bombs} gzip bombs "
              f"at once, while {SIGNED_PER_SECOND} signed deliveries/s come", flush=True)
        for kind, count in (("big", big), ("slow", slow), ("gzip", bombs)):
            if kind not in attacks:
                continue
            attackers.append(spawn("attack", kind, str(port), str(seconds), str(count)))
        deliveries = build_deliveries(int((seconds - 1.0) * SIGNED_PER_SECOND),
                                      f"abuse{os.getpid()}")
        await asyncio.sleep(0.5)  # the attacks start
        end = time.monotonic() + seconds - 1.0
        cpu_before, wall_before = cpu_seconds(roadie.pid), time.monotonic()
        (latencies, failures), (sent, acked, statuses), rss = await asyncio.gather(
            probe_healthz(url, end), send_signed(url, deliveries), sample_rss(roadie.pid, end))
        cpu = cpu_seconds(roadie.pid) - cpu_before
        wall = time.monotonic() - wall_before
        for attacker in attackers:
            attacker.wait(timeout=seconds + 30)
        peak = rss_mb(roadie.pid, "VmHWM")
    finally:
        for process in (*attackers, roadie):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(work, ignore_errors=True)
    verdicts = [
        (f"resident memory peak {peak:.0f} MB (sampled max {max(rss, default=0):.0f} MB, "
         f"before {before:.0f} MB) < {RSS_TARGET_MB} MB", peak < RSS_TARGET_MB),
        (f"/healthz: {len(latencies)} probes, max {max(latencies, default=0):.1f} ms, "
         f"p99 {percentile(latencies, 0.99):.1f} ms, median {percentile(latencies, 0.5):.1f} "
         f"ms, failed: {dict(failures) or 'none'}; every one within {HEALTHZ_TARGET_MS} ms",
         not failures and max(latencies, default=0) < HEALTHZ_TARGET_MS),
        (f"signed deliveries: {sent} sent, {acked} acknowledged "
         f"(answers {dict(sorted(statuses.items()))})", acked == sent),
    ]
    load = os.getloadavg()[0]
    print(f"   Roadie used {cpu:.1f} s of CPU in {wall:.1f} s ({cpu / wall:.0%} of a core); "
          f"the machine's load average was {load:.1f} on {os.cpu_count()} cores", flush=True)
    for what, ok in verdicts:
        print(f"  {'PASS' if ok else 'FAIL'}: {what}", flush=True)
    missed = [what for what, ok in verdicts if not ok]
    print(f"\nbench_receiver_abuse: {len(verdicts) - len(missed)} of {len(verdicts)} targets met")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer attackers, 12 s")
    parser.add_argument("--attacks", default="big,slow,gzip",
                        help="which attacks to run, of big,slow,gzip (to tell their effects "
                             "apart); none for a baseline")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role and args.role[0] == "roadie":
        serve_roadie(args.role[1])
        return 0
    if args.role and args.role[0] == "attack":
        kind, port, seconds, count = args.role[1:5]
        run_attack(kind, int(port), float(seconds), int(count))
        return 0
    raise_open_files(4096)
    return asyncio.run(bench(args.quick, args.attacks.split(",")))


if __name__ == "__main__":
    sys.exit(main())
