#!/usr/bin/env python3
"""The database on a core of its own, for a benchmark on a machine with few cores (Linux).

    .venv/bin/python bench/cores.py --give-back    (after a benchmark was killed meanwhile)

A database at a 5 ms round trip is on another machine: its CPU, and the network's, are not
the server's. On a small machine the benchmark's PostgreSQL, the latency proxy standing in
for the network and the fake chat share the cores with the servers it compares, so that a
server that uses the database is measured with less CPU than one that does not.
`database_apart` gives them the last core and everything else the others, and their cores
back when it ends; a benchmark killed meanwhile (SIGKILL) cannot, and `--give-back` gives
PostgreSQL's processes every core this one may use.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def processes_running(marker: str, where: str = "cmdline") -> list[int]:
    """The ids of the processes whose command line (or, with `where="comm"`, name) holds
    `marker` (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / where).read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue  # it ended meanwhile
    return found


def postgres_processes() -> list[int]:
    """PostgreSQL's server processes on this machine: the postmaster and its children."""
    return processes_running("postgres", where="comm")


@contextmanager
def database_apart(services: Iterable[int]) -> Iterator[str]:
    """While inside: PostgreSQL's processes (and the backends it starts meanwhile, which
    inherit the postmaster's cores) and the processes `services` run on the machine's last
    core; this process, and those it starts meanwhile, on the others.

    Yields "" when it is so, else why not (nothing was changed): a machine of one core, or
    no right to move PostgreSQL's processes (root or PostgreSQL's own user has it). On
    leaving, every process it moved gets back the cores it had.
    """
    if not hasattr(os, "sched_setaffinity"):
        yield "this system cannot set a process's cores"
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        yield "one core: nothing to set apart"
        return
    database, others = {cores[-1]}, set(cores[:-1])
    moved: dict[int, set[int]] = {}  # pid: the cores it had
    postgres = postgres_processes()
    restore_postgres = os.sched_getaffinity(_postmaster(postgres)) if postgres else set(cores)
    try:
        for pid in [*postgres, *services]:
            try:
                moved[pid] = os.sched_getaffinity(pid)
                os.sched_setaffinity(pid, database)
            except ProcessLookupError:
                moved.pop(pid, None)  # it ended meanwhile
    except PermissionError as error:
        _give_back(moved)
        yield f"no right to move PostgreSQL's processes ({error.strerror})"
        return
    os.sched_setaffinity(0, others)
    try:
        yield ""
    finally:
        os.sched_setaffinity(0, set(cores))
        for pid in postgres_processes():  # the backends started meanwhile too
            moved.setdefault(pid, restore_postgres)
        _give_back(moved)


def _postmaster(postgres: list[int]) -> int:
    """The one of PostgreSQL's processes that the others were started by."""
    for pid in postgres:
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent not in postgres:
            return pid
    return postgres[0]


def _give_back(moved: dict[int, set[int]]) -> None:
    for pid, cores in moved.items():
        try:
            os.sched_setaffinity(pid, cores)
        except (ProcessLookupError, PermissionError):
            continue  # it ended meanwhile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--give-back", action="store_true", required=True,
                        help="give PostgreSQL's processes every core this process may use")
    parser.parse_args()
    cores = os.sched_getaffinity(0)
    _give_back({pid: cores for pid in postgres_processes()})
    print(f"PostgreSQL's processes may use cores {sorted(cores)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
