"""Detection's background jobs on procrastinate (PostgreSQL-backed): any number of workers.

- `detection.check_resident` runs as soon as an upload stored readings for a resident; a
  queueing lock keeps at most one waiting job per resident, however many uploads arrive.
- `detection.tick` runs every minute: it fires what fell due (re-measure windows ending,
  the daily checks; for up to `DUE_SECONDS` when many are due) and sweeps up queued readings
  whose job was never deferred (a crash between the upload's commit and the deferral), so no
  reading is left unchecked; then it refreshes the resident summaries of an earlier day
  (`service.readings.summaries`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from psycopg_pool import AsyncConnectionPool

from service.database import first_line
from service.detection.service import check_all_queued, check_resident, run_due
from service.readings import summaries

log = logging.getLogger(__name__)
QUEUE = "detection"
# Jobs of higher priority run first: a fresh upload's check before the minute's sweep (and
# sending an alert's messages, `service.alerting.jobs`, before either).
CHECK_PRIORITY = 5
# Resident summaries the minute's tick refreshes at most (all of them just after midnight).
SUMMARIES = 5000
# The daily checks fall due for everyone at once: the tick advances residents a chunk at a
# time for most of its minute, and the next tick goes on, so that ticks do not overlap.
DUE_CHUNK = 1000
DUE_SECONDS = 45.0


async def advance_due(
    pool: AsyncConnectionPool, now: datetime, chunk: int = DUE_CHUNK, seconds: float = DUE_SECONDS
) -> int:
    """Advance everyone due by `now`, `chunk` residents at a time, until nobody is or
    `seconds` have passed; how many were advanced."""
    deadline = time.monotonic() + seconds
    advanced = 0
    while True:
        n = await run_due(pool, now, chunk)
        advanced += n
        if n < chunk or time.monotonic() >= deadline:
            return advanced


class DetectionJobs:
    """Detection's tasks on the service's job app, bound to its connection pool.

    `found` is called after a check that reported findings committed (alerting sends
    what those findings wrote to the outbox)."""

    def __init__(
        self,
        app: procrastinate.App,
        pool: AsyncConnectionPool,
        clock: Callable[[], datetime] | None = None,
        found: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.pool = pool
        self.clock = clock or (lambda: datetime.now(UTC))
        self.app = app
        self.found = found
        retry = procrastinate.RetryStrategy(max_attempts=10, exponential_wait=2)
        self._check = self.app.task(
            name="detection.check_resident", queue=QUEUE, retry=retry, priority=CHECK_PRIORITY
        )(self._check_resident)
        tick = self.app.task(name="detection.tick", queue=QUEUE)(self._tick)
        self.app.periodic(cron="* * * * *", periodic_id="detection")(tick)

    async def _check_resident(self, resident_id: int) -> None:
        findings = await check_resident(self.pool, resident_id)
        if findings:
            log.info("resident %d: %d findings", resident_id, len(findings))
            if self.found is not None:
                await self.found()

    async def _tick(self, timestamp: int) -> None:
        swept = await check_all_queued(self.pool)
        due = await advance_due(self.pool, self.clock())
        if swept or due:
            log.info("detection tick: %d residents swept, %d advanced", swept, due)
        # The pages' clock, not detection's: summaries end on the day the panel shows.
        refreshed = await summaries.refresh_everyone(self.pool, datetime.now(UTC), SUMMARIES)
        if refreshed:
            log.info("detection tick: %d resident summaries refreshed", refreshed)
            if self.found is not None:
                await self.found()

    async def wake(self, residents: set[int]) -> None:
        """Ask for the residents' new readings to be checked (after the upload committed)."""
        for resident_id in sorted(residents):
            job = self._check.configure(queueing_lock=f"detection-check-{resident_id}")
            try:
                await job.defer_async(resident_id=resident_id)
            except AlreadyEnqueued:
                pass  # a waiting job will see these readings too
            # procrastinate wraps a lost connection in ConnectorException. The readings are
            # stored: the tick's sweep checks them within a minute.
            except (psycopg.Error, ConnectorException) as exc:
                log.warning(
                    "resident %d: detection job not deferred: %s", resident_id, first_line(exc)
                )
