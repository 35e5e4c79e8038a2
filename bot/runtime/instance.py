"""The replica's name, under which it claims messages, deliveries and the scheduler lease.

The name is stable across restarts (not the process id), so that a replica restarted after a
crash takes back at once what it had claimed: `[bot] instance`, or by default the host name
and a hash of the config's directory and database (`RoadieConfig.instance_name`), which a
replica keeps across restarts and two deployments do not share.

Two live processes must never share a name (each would think the other's claims its own): a
process holds an advisory lock on a file named after its name while it runs, which the
operating system releases when the process dies, even by `kill -9`. A second process on the
same host that finds the name taken runs under the name with a random suffix, and says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import IO

log = logging.getLogger("roadie.instance")


class InstanceName:
    """A name held for as long as this process runs (or until `release`)."""

    def __init__(self, wanted: str, lock_dir: Path | None = None) -> None:
        self._file: IO[bytes] | None = None
        self.wanted = wanted
        self.name = self._take(wanted, lock_dir or Path(tempfile.gettempdir()))

    def _take(self, wanted: str, lock_dir: Path) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", wanted)[:80]
        digest = hashlib.sha256(wanted.encode()).hexdigest()[:12]
        path = lock_dir / f"roadie-instance-{safe}-{digest}.lock"
        try:
            handle = path.open("ab")
        except OSError as error:
            log.warning("cannot lock %s (%s); running as %s unchecked", path, error, wanted)
            return wanted
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            fallback = f"{wanted}-{uuid.uuid4().hex[:6]}"
            log.warning("another process on this host runs as %s; this one runs as %s, so "
                        "after a crash its claims are taken over only once they expire. "
                        "Give each replica its own `[bot] instance`.", wanted, fallback)
            return fallback
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle
        return wanted

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
