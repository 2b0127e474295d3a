"""Retention: what is past its time goes, in batches, by a periodic job.

- Readings older than LINLI_RETAIN_READINGS_DAYS (default: kept). On TimescaleDB whole
  chunks are dropped first; the rest are deleted in batches either way. The daily summaries
  forget them (continuous aggregates are refreshed over the old days); a resident summary
  whose last reading went is computed again; a month of `resident_months` goes once the whole
  month is past retention, so a month's sums may outlive its first readings by up to a month.
- Messages' bodies, phone numbers and errors after LINLI_RETAIN_MESSAGES_DAYS (default:
  kept): the row stays with its status, to show that and when someone was told.
- The audit trail after LINLI_RETAIN_AUDIT_DAYS (default: kept).
- Failed sign-ins after LINLI_RETAIN_SIGN_IN_FAILURES_DAYS, web sessions that expired
  LINLI_RETAIN_EXPIRED_SESSIONS_DAYS ago.

Each batch is a transaction of its own, so the job holds no lock for long and a stopped job
loses nothing: the next one goes on from where it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from service.privacy import aggregates
from service.readings.summaries import month_of
from service.settings import Settings

log = logging.getLogger(__name__)
QUEUE = "privacy"
BATCH = 5000


@dataclass(frozen=True)
class Retention:
    """How many days each kind of data is kept (None: for good)."""

    readings_days: int | None = None
    messages_days: int | None = None
    audit_days: int | None = None
    sign_in_failures_days: int = 90
    expired_sessions_days: int = 7

    @classmethod
    def configured(cls, settings: Settings) -> Retention:
        """The retention the settings ask for."""
        return cls(
            readings_days=settings.retain_readings_days,
            messages_days=settings.retain_messages_days,
            audit_days=settings.retain_audit_days,
            sign_in_failures_days=settings.retain_sign_in_failures_days,
            expired_sessions_days=settings.retain_expired_sessions_days,
        )


def _days_before(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


# Each statement handles up to %(batch)s rows older than %(cutoff)s; run until fewer are left.
_READINGS = """
DELETE FROM {table} r
USING (SELECT device_id, user_index, sequence_number, measured_at FROM {table}
       WHERE measured_at < %(cutoff)s LIMIT %(batch)s) d
WHERE r.device_id = d.device_id AND r.user_index = d.user_index
  AND r.sequence_number = d.sequence_number AND r.measured_at = d.measured_at
"""
# Old queued checks would name readings that are gone.
_QUEUED = """
DELETE FROM readings_to_check WHERE id IN (
    SELECT id FROM readings_to_check WHERE measured_at < %(cutoff)s LIMIT %(batch)s)
"""
# Messages still to be sent keep their address and words until they are settled.
_MESSAGES = """
UPDATE notifications SET body = '', address = '', error = NULL, updated_at = now()
WHERE id IN (SELECT id FROM notifications
             WHERE address <> '' AND created_at < %(cutoff)s
               AND status NOT IN ('pending', 'sending')
             LIMIT %(batch)s)
"""
_AUDIT = """
DELETE FROM audit_log WHERE id IN (
    SELECT id FROM audit_log WHERE at < %(cutoff)s LIMIT %(batch)s)
"""
_SIGN_IN_FAILURES = """
DELETE FROM sign_in_failures WHERE id IN (
    SELECT id FROM sign_in_failures WHERE at < %(cutoff)s LIMIT %(batch)s)
"""
_SESSIONS = """
DELETE FROM web_sessions WHERE token_hash IN (
    SELECT token_hash FROM web_sessions WHERE expires_at < %(cutoff)s LIMIT %(batch)s)
"""


async def _in_batches(
    conn: AsyncConnection[Any], statement: sql.SQL | sql.Composed, cutoff: datetime, batch: int
) -> int:
    """Run the statement, one transaction a batch, until a batch finds fewer rows; how many."""
    total = 0
    while True:
        async with conn.transaction():
            cur = await conn.execute(statement, {"cutoff": cutoff, "batch": batch})
        done: int = cur.rowcount
        total += done
        if done < batch:
            return total


async def forget_old_readings(conn: AsyncConnection[Any], cutoff: datetime, batch: int) -> int:
    """Readings older than `cutoff` go (TimescaleDB: their chunks first), with what repeats
    them: queued checks, daily summaries, resident summaries and months; how many readings
    were deleted (dropped chunks are not counted)."""
    async with conn.transaction():
        await aggregates.drop_old_chunks(conn, cutoff)
    deleted = 0
    for table in aggregates.DAILY:
        statement = sql.SQL(_READINGS).format(table=sql.Identifier(table))
        deleted += await _in_batches(conn, statement, cutoff, batch)
    await _in_batches(conn, sql.SQL(_QUEUED), cutoff, batch)
    async with conn.transaction():
        # Computed again from what is left when next read (the panel, the worker's tick).
        await conn.execute(
            """DELETE FROM resident_summaries
               WHERE last_bp_at < %(cutoff)s OR last_glucose_at < %(cutoff)s""",
            {"cutoff": cutoff},
        )
        await conn.execute("DELETE FROM resident_months WHERE month < %s", (month_of(cutoff),))
    await aggregates.forget(conn, {table: (None, cutoff) for table in aggregates.DAILY})
    return deleted


async def apply(
    pool: AsyncConnectionPool, retention: Retention, now: datetime, batch: int = BATCH
) -> dict[str, int]:
    """Delete (messages: blank) what is past its retention as of `now`; how many rows of each
    kind."""
    done: dict[str, int] = {}
    async with pool.connection() as conn:
        if retention.readings_days is not None:
            cutoff = _days_before(now, retention.readings_days)
            done["readings"] = await forget_old_readings(conn, cutoff, batch)
        rounds = [
            ("messages", retention.messages_days, _MESSAGES),
            ("audit", retention.audit_days, _AUDIT),
            ("sign_in_failures", retention.sign_in_failures_days, _SIGN_IN_FAILURES),
            ("web_sessions", retention.expired_sessions_days, _SESSIONS),
        ]
        for kind, days, statement in rounds:
            if days is not None:
                cutoff = _days_before(now, days)
                done[kind] = await _in_batches(conn, sql.SQL(statement), cutoff, batch)
    return done


class RetentionJobs:
    """The retention round on the service's job app: once an hour, one at a time."""

    def __init__(
        self,
        app: procrastinate.App,
        pool: AsyncConnectionPool,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.pool = pool
        self.retention = Retention.configured(settings)
        self.clock = clock or (lambda: datetime.now(UTC))
        task = app.task(name="privacy.retention", queue=QUEUE, lock="privacy-retention")(
            self._round
        )
        app.periodic(cron="17 * * * *", periodic_id="retention")(task)

    async def _round(self, timestamp: int) -> None:
        done = await apply(self.pool, self.retention, self.clock())
        if any(done.values()):
            log.info("retention: %s", ", ".join(f"{n} {kind}" for kind, n in done.items() if n))
