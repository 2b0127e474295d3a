"""The service's background jobs on one procrastinate app (PostgreSQL-backed): detection and
alerting. `linli serve` runs a worker for them unless told not to; `linli worker` runs one on
its own; any number may run side by side."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager
from psycopg_pool import AsyncConnectionPool

from service.alerting import jobs as alerting_jobs
from service.alerting.delivery import Delivery
from service.alerting.jobs import AlertingJobs
from service.alerting.providers.base import Provider
from service.alerting.providers.console import ConsoleProvider
from service.alerting.providers.twilio import TwilioProvider
from service.detection import jobs as detection_jobs
from service.detection.jobs import DetectionJobs
from service.settings import Settings


def provider_for(settings: Settings) -> Provider:
    """Twilio when it is configured, else the log."""
    return TwilioProvider(settings) if settings.twilio_enabled else ConsoleProvider()


class Jobs:
    """Detection's and alerting's tasks, bound to the service's pool."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        *,
        provider: Provider | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector())
        delivery = Delivery.configured(settings, provider or provider_for(settings))
        self.alerting = AlertingJobs(self.app, pool, delivery, settings, clock)
        self.detection = DetectionJobs(self.app, pool, clock, found=self.alerting.wake)
        self.pool = pool

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[Jobs]:
        """The job app open on the service's pool."""
        async with self.app.open_async(pool=self.pool):
            yield self

    async def run_worker(self, **options: Any) -> None:
        """Run every job until cancelled (options go to procrastinate's worker)."""
        # Every upload defers a job: keep only the failed ones, or the table grows forever.
        options.setdefault("delete_jobs", "successful")
        options.setdefault("concurrency", 4)
        await self.alerting.wake()  # whatever a stopped worker left in the outbox
        await self.app.run_worker_async(
            queues=[detection_jobs.QUEUE, alerting_jobs.QUEUE],
            install_signal_handlers=False,
            **options,
        )


async def apply_job_schema(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Create procrastinate's tables when they are missing; True when it did."""
    cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
    row = await cur.fetchone()
    if row is not None and row[0]:
        return False
    await conn.execute(SchemaManager.get_schema())
    return True
