"""TimescaleDB's copies of readings: the daily summaries' continuous aggregates keep what they
materialised after the readings are gone, and old readings go a chunk at a time. On plain
PostgreSQL the daily summaries are views and there is nothing to do here."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from service.database import DatabaseMode, detect_mode

log = logging.getLogger(__name__)
# Each readings table and the continuous aggregate of its days.
DAILY = {"blood_pressure_readings": "daily_blood_pressure", "glucose_readings": "daily_glucose"}
# Days are China Standard Time buckets; a window this much wider than the readings' times
# holds every bucket they fall in whole (only whole buckets are refreshed).
MARGIN = timedelta(days=2)


async def timescaledb(conn: AsyncConnection[Any]) -> bool:
    """True when the readings are TimescaleDB hypertables."""
    return await detect_mode(conn) is DatabaseMode.TIMESCALEDB


async def drop_old_chunks(conn: AsyncConnection[Any], cutoff: datetime) -> None:
    """TimescaleDB: drop the readings' chunks wholly older than `cutoff` (rows of a chunk that
    straddles it are left for a DELETE). Nothing on plain PostgreSQL."""
    if not await timescaledb(conn):
        return
    for table in DAILY:
        await conn.execute(
            "SELECT drop_chunks(%s::regclass, older_than => %s::timestamptz)", (table, cutoff)
        )


async def forget(
    conn: AsyncConnection[Any], spans: dict[str, tuple[datetime | None, datetime]]
) -> None:
    """TimescaleDB: materialise the daily summaries again over each readings table's span of
    deleted readings (`None` as the start: from the beginning), so that the continuous
    aggregates forget them too. Call it after the deletion committed, outside a transaction
    (`refresh_continuous_aggregate` refuses to run in one). Nothing on plain PostgreSQL.

    A refresh that fails is logged: the aggregates' own policy (every 15 minutes, over every
    change) catches up with the deletion then."""
    if not spans:
        return
    await conn.set_autocommit(True)
    try:
        if not await timescaledb(conn):
            return
        for table, (start, end) in spans.items():
            window = (None if start is None else start - MARGIN, end + MARGIN)
            query = sql.SQL("CALL refresh_continuous_aggregate({}, {}, {})").format(
                sql.Literal(DAILY[table]), *(sql.Literal(t) for t in window)
            )
            try:
                await conn.execute(query)
            except psycopg.Error as exc:
                log.warning("%s not refreshed after a deletion: %s", DAILY[table], exc)
    finally:
        await conn.set_autocommit(False)
