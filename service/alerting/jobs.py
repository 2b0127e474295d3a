"""Alerting's background jobs on procrastinate: sending the outbox, and a one-minute tick.

- `alerting.deliver` sends every message that is due, then books itself again for when the
  next one falls due (an escalation step, a retry, the end of someone's quiet hours).
  Detection wakes it as soon as a check that found something committed.
- `alerting.tick` runs every minute: it settles messages whose worker died mid-send,
  prepares the morning digests and sends what is due, so nothing waits on a lost wake-up.

Any number of workers may run these: a message is claimed by one worker at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from psycopg_pool import AsyncConnectionPool

from service.alerting.delivery import Delivery, deliver_due, reconcile_stale
from service.alerting.digest import prepare_digests
from service.database import first_line
from service.settings import Settings

log = logging.getLogger(__name__)
QUEUE = "alerting"
# Sending runs before any detection job waiting beside it (procrastinate: higher first).
DELIVER_PRIORITY = 10


class AlertingJobs:
    """Alerting's tasks on the service's job app."""

    def __init__(
        self,
        app: procrastinate.App,
        pool: AsyncConnectionPool,
        delivery: Delivery,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.pool = pool
        self.delivery = delivery
        self.horizon = timedelta(minutes=settings.send_retry_minutes)
        self.digest_hour = settings.digest_hour
        self.clock = clock or (lambda: datetime.now(UTC))
        retry = procrastinate.RetryStrategy(max_attempts=10, exponential_wait=2)
        self._deliver = app.task(
            name="alerting.deliver", queue=QUEUE, retry=retry, priority=DELIVER_PRIORITY
        )(self._deliver_now)
        tick = app.task(name="alerting.tick", queue=QUEUE)(self._tick)
        app.periodic(cron="* * * * *", periodic_id="alerting")(tick)

    async def _deliver_now(self) -> None:
        settled = await reconcile_stale(self.pool, self.delivery, self.clock(), self.horizon)
        sent = await deliver_due(self.pool, self.delivery, self.clock(), self.horizon)
        if sent or settled:
            log.info("%d messages sent, %d unfinished sends settled", sent, settled)
        await self._book_next()

    async def _tick(self, timestamp: int) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            digests = await prepare_digests(conn, self.clock(), self.digest_hour)
        if digests:
            log.info("%d digests written", digests)
        await self._deliver_now()

    async def _book_next(self) -> None:
        """Book a delivery for when the next message falls due, or an unfinished send's
        lease runs out."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT min(t) FROM (
                       SELECT min(due_at) AS t FROM notifications
                       WHERE status = 'pending' AND due_at > %(now)s
                       UNION ALL
                       SELECT min(claimed_at) + %(lease)s FROM notifications
                       WHERE status = 'sending') AS next""",
                {"now": self.clock(), "lease": self.delivery.lease},
            )
            row = await cur.fetchone()
        if row is not None and row[0] is not None:
            await self.wake(row[0])

    async def wake(self, at: datetime | None = None) -> None:
        """Ask for the outbox to be sent now (or at `at`)."""
        lock = "alerting-deliver" if at is None else f"alerting-deliver-{at.timestamp():.0f}"
        job = self._deliver.configure(queueing_lock=lock, schedule_at=at)
        try:
            await job.defer_async()
        except AlreadyEnqueued:
            pass  # a waiting delivery will send these too
        # procrastinate wraps a lost connection in ConnectorException.
        except (psycopg.Error, ConnectorException) as exc:  # the tick sends them within a minute
            log.warning("delivery not booked: %s", first_line(exc))
