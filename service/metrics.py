"""What GET /metrics tells Prometheus.

Readings ingested and the time uploads take are counted by this process. The outbox, the
open alerts and what became of messages are read from the database at each scrape, so they
are right however many `linli serve` and `linli worker` processes run. No label carries a
name, a phone number or anything else about a person.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

from service.alerting.outbox import RANK

log = logging.getLogger(__name__)

# A scrape waits this long for the database at most, then answers without its figures.
SCRAPE_TIMEOUT_SECONDS = 2.0
READING_KINDS = ("blood_pressure", "glucose")
# A rejected item that names no kind Linli knows is counted under this one.
UNKNOWN_KIND = "unknown"
OUTCOMES = ("accepted", "duplicate", "rejected")
SEVERITIES = ("info", "warning", "urgent", "critical")
NOTIFICATION_STATUSES = tuple(RANK)
# Written but not handed to the provider yet: pending (waiting for its time or a worker),
# sending (claimed by a worker).
OUTBOX_WAITING = ("pending", "sending")


@dataclass(frozen=True)
class DatabaseFigures:
    """Counts read from the database for one scrape."""

    open_alerts: dict[str, int]
    notifications: dict[str, int]


async def read_figures(conn: psycopg.AsyncConnection[Any]) -> DatabaseFigures:
    """Alerts not resolved by severity, and notifications by status, as stored now."""
    timeout_ms = str(int(SCRAPE_TIMEOUT_SECONDS * 1000))
    await conn.execute("SELECT set_config('statement_timeout', %s, true)", (timeout_ms,))
    cur = await conn.execute(
        "SELECT severity, count(*) FROM alerts WHERE state <> 'resolved' GROUP BY severity"
    )
    alerts = {str(severity): int(count) for severity, count in await cur.fetchall()}
    cur = await conn.execute("SELECT status, count(*) FROM notifications GROUP BY status")
    notifications = {str(status): int(count) for status, count in await cur.fetchall()}
    return DatabaseFigures(alerts, notifications)


async def read_database(pool: AsyncConnectionPool) -> DatabaseFigures | None:
    """The database's figures, or None when it does not answer within the scrape timeout."""
    try:
        async with (
            asyncio.timeout(SCRAPE_TIMEOUT_SECONDS),
            pool.connection(timeout=SCRAPE_TIMEOUT_SECONDS) as conn,
        ):
            return await read_figures(conn)
    except (TimeoutError, psycopg.Error) as exc:  # PoolTimeout is a psycopg.Error too
        log.warning("metrics without the database's figures: %s", type(exc).__name__)
        return None


def _gauge(name: str, documentation: str, label: str, values: Mapping[str, int]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


class _Scrape(Collector):
    """One scrape: the process's own metrics, then the figures read from the database."""

    def __init__(self, registry: CollectorRegistry, figures: DatabaseFigures | None) -> None:
        self.registry = registry
        self.figures = figures

    def collect(self) -> Iterable[Metric]:
        """Every metric family of the scrape."""
        yield from self.registry.collect()
        figures = self.figures
        yield GaugeMetricFamily(
            "linli_database_up",
            "1 when this scrape read the database's figures, 0 when the database did not"
            f" answer them within {SCRAPE_TIMEOUT_SECONDS:g} s.",
            value=0 if figures is None else 1,
        )
        if figures is None:
            return
        outbox = {status: figures.notifications.get(status, 0) for status in OUTBOX_WAITING}
        yield _gauge(
            "linli_outbox_notifications",
            "Messages in the outbox not handed to the provider yet: pending (due later, or"
            " waiting for a worker) and sending (claimed by a worker).",
            "status",
            outbox,
        )
        yield _gauge(
            "linli_alerts_open",
            "Alerts not resolved yet (open, notified, acknowledged or escalated), by severity.",
            "severity",
            {**dict.fromkeys(SEVERITIES, 0), **figures.open_alerts},
        )
        yield _gauge(
            "linli_notifications",
            "Messages in the outbox by status: what became of every message written so far.",
            "status",
            {**dict.fromkeys(NOTIFICATION_STATUSES, 0), **figures.notifications},
        )


class Metrics:
    """This process's metrics: readings ingested, upload latency, and the process itself."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.readings = Counter(
            "linli_readings_ingested",
            "Readings answered by POST /v1/readings, by kind and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        for kind in READING_KINDS:
            for outcome in OUTCOMES:
                self.readings.labels(kind, outcome)  # every series from the start, at 0
        self.readings.labels(UNKNOWN_KIND, "rejected")
        self.ingest_seconds = Histogram(
            "linli_ingest_duration_seconds",
            "Time to handle one POST /v1/readings, from the token check to the answer.",
            registry=self.registry,
        )

    def count_readings(self, counts: Mapping[tuple[str | None, str], int]) -> None:
        """Add the readings of one answered upload, by (kind, outcome); a kind of None is
        an item rejected without naming a kind Linli knows."""
        for (kind, outcome), count in counts.items():
            self.readings.labels(kind or UNKNOWN_KIND, outcome).inc(count)

    async def exposition(self, pool: AsyncConnectionPool) -> bytes:
        """The text a scrape gets: this process's metrics, the database's figures, and
        linli_database_up saying whether those could be read."""
        figures = await read_database(pool)
        return generate_latest(_Scrape(self.registry, figures))
