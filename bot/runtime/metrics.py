"""Prometheus metrics, one registry per Roadie instance."""

from __future__ import annotations

import platform as python_platform
from collections.abc import Callable, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot import roadie_version
from governance.outbox.models import FAILED, PENDING


class _OutboxDepth(Collector):
    """Rows waiting or failed per platform and status; 0 (not absent) when there are none."""

    def __init__(self, read: Callable[[], dict[tuple[str, str], int]],
                 platforms: Sequence[str]) -> None:
        self._read = read
        self._platforms = platforms

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("roadie_outbox_depth", "Outbox rows waiting or failed",
                                   labels=["platform", "status"])
        try:
            depth = {(p, s): 0 for p in self._platforms for s in (PENDING, FAILED)}
            depth.update(self._read())
        except Exception:  # the database is down: /readyz says so; report no samples
            depth = {}
        for (platform, status), count in sorted(depth.items()):
            family.add_metric([platform, status], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter("roadie_commands", "Commands by name and outcome",
                                ["command", "outcome"], registry=self.registry)
        self.webhooks = Counter("roadie_webhook_deliveries", "Webhook requests by outcome",
                                ["event", "outcome"], registry=self.registry)
        self.webhook_processing = Counter("roadie_webhook_processed",
                                          "Stored deliveries processed, by outcome",
                                          ["event", "outcome"], registry=self.registry)
        self.sent = Counter("roadie_outbox_sent", "Outbox sends by platform and outcome",
                            ["platform", "outcome"], registry=self.registry)
        self.sweeps = Histogram("roadie_sweep_duration_seconds", "Scheduled job durations",
                                ["job"], registry=self.registry,
                                buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5))
        self.ticks_skipped = Counter("roadie_scheduled_ticks_skipped",
                                     "Ticks of a scheduled job skipped because its last run "
                                     "had not ended", ["job"], registry=self.registry)
        self.connections_refused = Counter("roadie_http_connections_refused",
                                           "Connections refused beyond server.max_connections",
                                           registry=self.registry)
        self.leader = Gauge("roadie_scheduler_leader", "1 when this replica runs the sweeps",
                            registry=self.registry)
        ProcessCollector(registry=self.registry)  # CPU, memory, open files, start time
        PlatformCollector(registry=self.registry)  # the Python version
        Info("roadie_build", "The running Roadie", registry=self.registry).info(
            {"version": roadie_version(), "python": python_platform.python_version()})

    def watch_outbox(self, read: Callable[[], dict[tuple[str, str], int]],
                     platforms: Sequence[str] = ()) -> None:
        self.registry.register(_OutboxDepth(read, platforms))

    def render(self) -> bytes:
        return generate_latest(self.registry)
