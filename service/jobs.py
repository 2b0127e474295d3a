"""The service's background jobs on one procrastinate app (PostgreSQL-backed): detection,
alerting, and the hourly retention round (service.privacy.retention). `linli serve` runs a
worker for them unless told not to; `linli worker` runs one on its own; any number may run
side by side."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import ConnectorException
from procrastinate.schema import SchemaManager
from psycopg_pool import AsyncConnectionPool

from service.alerting import jobs as alerting_jobs
from service.alerting.delivery import Delivery
from service.alerting.jobs import AlertingJobs
from service.alerting.providers.base import Provider
from service.alerting.providers.console import ConsoleProvider
from service.alerting.providers.twilio import TwilioProvider
from service.database import database_away, first_line
from service.detection import jobs as detection_jobs
from service.detection.jobs import DetectionJobs
from service.privacy import retention
from service.privacy.retention import RetentionJobs
from service.settings import Settings

log = logging.getLogger(__name__)
# A worker that lost the database starts again after 1, 2, 4 ... seconds, at most this many:
# soon after PostgreSQL is back, without a storm of attempts while it is away.
RESTART_MAX_SECONDS = 5.0
# A worker that ran this long before it failed had been working: the failure is a new outage.
WORKED_SECONDS = 60.0
# Where the database being away comes out, directly or wrapped by procrastinate.
DATABASE_AWAY = (ConnectorException, psycopg.OperationalError)


def provider_for(settings: Settings) -> Provider:
    """Twilio when it is configured, else the log."""
    return TwilioProvider(settings) if settings.twilio_enabled else ConsoleProvider()


class Jobs:
    """Detection's, alerting's and retention's tasks, bound to the service's pool."""

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
        self.retention = RetentionJobs(self.app, pool, settings, clock)
        self.pool = pool

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[Jobs]:
        """The job app open on the service's pool."""
        async with self.app.open_async(pool=self.pool):
            yield self

    async def run_worker(self, **options: Any) -> None:
        """Run every job until cancelled (options go to procrastinate's worker).

        procrastinate's worker ends when it loses the database (a query fails, or its
        listening connection cannot be opened again). This one starts it again, with a
        line in the log each time, until PostgreSQL is back: a restart of the database
        needs no restart of the worker.
        """
        # Every upload defers a job: keep only the failed ones, or the table grows forever.
        options.setdefault("delete_jobs", "successful")
        options.setdefault("concurrency", 4)
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await self.alerting.wake()  # whatever a stopped worker left in the outbox
                await self.app.run_worker_async(
                    queues=[detection_jobs.QUEUE, alerting_jobs.QUEUE, retention.QUEUE],
                    install_signal_handlers=False,
                    **options,
                )
                problem = "procrastinate's worker stopped on its own"
            except DATABASE_AWAY as exc:
                if not database_away(exc):
                    raise
                problem = f"database unavailable: {first_line(exc)}"
            if time.monotonic() - started > WORKED_SECONDS:
                delay = 1.0  # it had been working: this is a new outage, not the same one
            log.warning("job worker: %s; starting again in %.0f s", problem, delay)
            await asyncio.sleep(delay)
            delay = min(2 * delay, RESTART_MAX_SECONDS)


async def apply_job_schema(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Create procrastinate's tables when they are missing; True when it did."""
    cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
    row = await cur.fetchone()
    if row is not None and row[0]:
        return False
    await conn.execute(SchemaManager.get_schema())
    return True


class OneLineWhileTheDatabaseIsAway(logging.Filter):
    """Shortens a record about the database being away to one line: a record whose
    exception is (then: the first line of its message and of the error), and psycopg's
    warnings, its pool's among them (their first line: libpq adds a hint on the next).

    While PostgreSQL restarts, procrastinate logs every job and side task it loses with a
    full traceback, dozens of lines each that say nothing the error's first line does not.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and database_away(exc):
            lines = record.getMessage().strip().splitlines()
            first = lines[0].rstrip(": ") if lines else "job worker"
            record.msg = f"{first}: {first_line(exc)}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        elif record.name.startswith("psycopg"):  # the pool's, and a pipeline's lost flush
            message = record.getMessage()
            if "\n" in message:
                record.msg = message.splitlines()[0]
                record.args = None
        return True


def one_line_database_errors() -> None:
    """Install OneLineWhileTheDatabaseIsAway on the handlers of the root logger (set up
    by `service.logs.configure_logging`)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(OneLineWhileTheDatabaseIsAway())
