"""Live detection: check a resident's new readings, and move residents' clocks on.

Each function runs one resident in one transaction: the queued readings, the state, the
findings and the alerts change together or not at all, so a worker that dies half-way
leaves the readings queued for the next one. The clock (`now`) is passed in.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from analytics.detector import Detector
from analytics.findings import Finding
from service.detection import queries
from service.readings import summaries

log = logging.getLogger(__name__)
# The database being away ends a round (the next one retries everyone). Any other error is
# one resident's own, say a state naming a rule this version no longer has: it is logged,
# the resident stays due or queued, and the round goes on with the others.
_AWAY = (psycopg.OperationalError, psycopg.InterfaceError)


async def _detector(conn: AsyncConnection[Any], resident_id: int) -> Detector | None:
    row = await queries.load_profile(conn, resident_id)
    if row is None:
        return None
    state = await queries.lock_state(conn, resident_id)
    return Detector(row.profile(), row.thresholds(), state)


async def check_resident(
    pool: AsyncConnectionPool, resident_id: int, now: datetime | None = None, tell: bool = True
) -> list[Finding]:
    """Check the resident's queued readings in time order, then (with `now`) fire what fell
    due by then; the findings reported.

    `tell=False` is for history imported at once (a demo district's past months): its alerts
    open and clear as they would have, and those still open stand, but nobody is messaged
    about the past."""
    async with pool.connection() as conn, conn.transaction():
        detector = await _detector(conn, resident_id)
        if detector is None:
            return []
        queued = await queries.claim_queued(conn, resident_id)
        if not queued and now is None:
            return []
        seen = await queries.gateway_seen(conn, resident_id)
        findings: list[Finding] = []
        for item in queued:
            findings += detector.observe(item.reading(resident_id), seen)
        if now is not None:
            findings += detector.advance(now, seen)
        await queries.save_state(conn, resident_id, detector.state)
        await queries.record_findings(
            conn, resident_id, findings, now or datetime.now(UTC), tell=tell
        )
        await queries.forget_queued(conn, [item.queue_id for item in queued])
        if queued:  # the pages' figures, in step with the readings just checked
            months = {summaries.month_of(item.measured_at) for item in queued}
            await summaries.refresh(conn, [resident_id], datetime.now(UTC), months)
    return findings


async def run_due(
    pool: AsyncConnectionPool, now: datetime, limit: int = 1000, concurrency: int = 4
) -> int:
    """Advance every resident with something due by `now` (at most `limit`, the earliest
    first), `concurrency` at a time; how many were taken up (one whose check failed is
    logged and stays due).

    One statement reads them all, without locks; each resident's new state, findings and
    alerts are then written in a transaction of their own, provided the stored state is still
    the one read. A resident whose state changed meanwhile (a check of new readings ran), or
    whose readings wait to be checked, goes through `check_resident` instead."""
    async with pool.connection() as conn:
        due = await queries.due_residents(conn, now, limit)
    pending = iter(due)
    locked: list[int] = []

    async def advance_some() -> None:
        async with pool.connection() as conn:
            # One statement is the whole transaction of a resident without findings.
            await conn.set_autocommit(True)
            done = False
            try:
                for resident in pending:
                    try:
                        if resident.queued or not await _advance(conn, resident, now):
                            locked.append(resident.id)
                    except _AWAY:
                        raise
                    except Exception:
                        log.exception("resident %d: scheduled check failed", resident.id)
                done = True
            finally:
                if done:
                    await conn.set_autocommit(False)
                else:  # the pool replaces a closed connection: no autocommit one goes back
                    await conn.close()

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(due))):
            group.create_task(advance_some())
    for resident_id in locked:
        await _check_apart(pool, resident_id, now)
    return len(due)


async def _advance(
    conn: AsyncConnection[Any], resident: queries.DueResident, now: datetime
) -> bool:
    """Fire what is due for the resident by `now` and store it; False, storing nothing, when
    the stored state is no longer the one read."""
    detector = Detector(resident.profile(), resident.thresholds(), resident.resident_state())
    findings = detector.advance(now, resident.gateway_seen)
    if not findings:
        return await queries.save_state_if_unchanged(conn, resident, detector.state)
    async with conn.transaction():
        if not await queries.save_state_if_unchanged(conn, resident, detector.state):
            return False
        await queries.record_findings(conn, resident.id, findings, now)
    return True


async def check_all_queued(
    pool: AsyncConnectionPool, limit: int = 1000, older_than: timedelta = timedelta(minutes=1)
) -> int:
    """Check every resident with readings queued longer than `older_than`: the sweep behind
    the per-resident jobs, for readings whose job was lost."""
    async with pool.connection() as conn:
        residents = await queries.residents_with_queued(conn, limit, older_than)
    for resident_id in residents:
        await _check_apart(pool, resident_id)
    return len(residents)


async def _check_apart(
    pool: AsyncConnectionPool, resident_id: int, now: datetime | None = None
) -> None:
    """`check_resident` for one of many: an error of the resident's own is logged, not raised."""
    try:
        await check_resident(pool, resident_id, now)
    except _AWAY:
        raise
    except Exception:
        log.exception("resident %d: check failed", resident_id)
