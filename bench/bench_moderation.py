"""Moderation figures: a /block end to end, the retry sweep, and the spam score.

Runs against SQLite in a temporary directory, the fake GitHub API (real PyGithub) and a
recording chat platform, all on 127.0.0.1. Prints figures; asserts nothing about time.

    python3 dev.py bench            (or .venv/bin/python bench/bench_moderation.py)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.ports import PlatformError  # noqa: E402
from bot.github.client import PyGithubPort  # noqa: E402
from bot.runtime import eventloop  # noqa: E402
from bot.runtime.dispatcher import Speaker  # noqa: E402
from governance.audit import Actor  # noqa: E402
from governance.clock import FakeClock  # noqa: E402
from governance.db import Database  # noqa: E402
from governance.moderation.signals import Newcomer, Thresholds, score  # noqa: E402
from governance.people.service import link_directly  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402
from tests.support import RecordingChat, make_config, running  # noqa: E402

BLOCKS = 50
RETRIES = 200


async def bench_blocks(directory: Path) -> None:
    clock = FakeClock()
    fake = FakeGitHub()
    await fake.start()
    chat = RecordingChat("discord")
    config = make_config(directory, {"moderation": {"two_person": "never", "rate_limit": 100000,
                                                    "appeal_message": ""}})
    db = Database(f"sqlite:///{directory / 'bench.db'}")
    port = PyGithubPort(org="jazzband", token="t", api_url=fake.url, throttle=False)
    async with running(config, db=db, clock=clock, transports=[chat], github=port) as roadie:
        await db.run(lambda session: link_directly(
            session, actor=Actor.system(), platform='discord', user_id='1002', display_name='bob',
            login='bob', now=clock.now()))
        bob = Speaker("discord", "1002", "bob", "bench")
        timings = []
        for n in range(BLOCKS):
            await db.run(lambda session: link_directly(
                session, actor=Actor.system(), platform='discord', user_id=f'9{n:04d}',
                display_name=f'spam{n}', login=f'spam{n}', now=clock.now()))
            started = time.perf_counter()
            reply = await roadie.run_text(bob, f"block spam{n} bench spam")
            timings.append(time.perf_counter() - started)
            if "✅ GitHub" not in reply.text or "✅ Discord" not in reply.text:
                raise SystemExit(f"the block did not go through: {reply.text}")
        await roadie.settle()
        ms = sorted(t * 1000 for t in timings)
        print(f"/block, GitHub + Discord, end to end ({BLOCKS} blocks, SQLite): "
              f"median {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms")

        # The sweep: every ban failed once; how long until all are retried and recorded?
        chat.fail_next(RETRIES, PlatformError("discord", "503"), only=("ban",))
        for n in range(RETRIES):
            await roadie.run_text(bob, f"block discord:8{n:04d} bench raid --chat")
        await roadie.settle()
        clock.advance(timedelta(minutes=1))
        cog = next(c for c in roadie.cogs if c.name == "moderation")
        started = time.perf_counter()
        while len(chat.bans) < BLOCKS + RETRIES:
            await cog.sweep()  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        print(f"sweep retrying {RETRIES} failed bans: {elapsed:.2f} s "
              f"({RETRIES / elapsed:.0f} accounts/s)")
    await fake.stop()
    db.dispose()


def bench_score() -> None:
    thresholds = Thresholds(new_account_age=timedelta(days=30), min_public_repos=1,
                            min_followers=1, name_patterns=("(?i)crypto", "(?i)airdrop"),
                            join_burst=5)
    clock = FakeClock()
    newcomer = Newcomer(names=("hacktocat", "Hack"), created_at=clock.now() - timedelta(days=2),
                        public_repos=0, followers=0, empty_profile=True, recent_joins=3)
    count = 20000
    started = time.perf_counter()
    for _ in range(count):
        score(newcomer, thresholds, clock.now())
    elapsed = time.perf_counter() - started
    print(f"spam score: {elapsed / count * 1e6:.1f} µs per newcomer")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        eventloop.run(bench_blocks(Path(directory)))
    bench_score()


if __name__ == "__main__":
    main()
