"""Resident summaries: what the doctor's panel shows of each resident (the latest readings,
7- and 30-day means, days measured), computed from the readings and kept in
`resident_summaries`; and each resident's months of counted readings (`resident_months`),
which the community's control rates add up.

A summary is current when it was computed today (China Standard Time) and none of the
resident's readings waits in `readings_to_check`. Checking a resident's new readings
refreshes their summary in the same transaction, so a reading is either still queued or
already summarised; the worker refreshes everyone after midnight; the panel refreshes the
residents it finds stale before reading, so it is right even with no worker running.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

LOCAL = ZoneInfo("Asia/Shanghai")
# Residents refreshed by one statement and transaction: tens of milliseconds of work.
CHUNK = 200

_REFRESH = """
WITH bounds AS (
    SELECT (%(day)s::date - 29)::timestamp AT TIME ZONE 'Asia/Shanghai' AS start30,
           (%(day)s::date - 6)::timestamp AT TIME ZONE 'Asia/Shanghai' AS start7,
           (%(day)s::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai' AS stop
)
INSERT INTO resident_summaries AS s (
    resident_id, day, refreshed_at, last_systolic, last_diastolic, last_bp_at, last_glucose,
    last_glucose_at, systolic_7d, diastolic_7d, systolic_30d, diastolic_30d, bp_readings_30d,
    fasting_30d, fasting_readings_30d, days_measured_7d, days_measured_30d)
SELECT r.id, %(day)s, now(), lb.systolic, lb.diastolic, lb.measured_at, lg.glucose_mmol,
       lg.measured_at, bp.s7, bp.d7, bp.s30, bp.d30, coalesce(bp.n30, 0), f.mean, f.n,
       coalesce(m.days_7, 0), coalesce(m.days_30, 0)
FROM unnest(%(residents)s::bigint[]) AS r(id) CROSS JOIN bounds
LEFT JOIN LATERAL (
    SELECT systolic, diastolic, measured_at FROM blood_pressure_readings
    WHERE resident_id = r.id AND measured_at < bounds.stop
    ORDER BY measured_at DESC LIMIT 1) lb ON true
LEFT JOIN LATERAL (
    SELECT glucose_mmol, measured_at FROM glucose_readings
    WHERE resident_id = r.id AND measured_at < bounds.stop AND NOT control_solution
    ORDER BY measured_at DESC LIMIT 1) lg ON true
LEFT JOIN LATERAL (
    SELECT avg(systolic) FILTER (WHERE measured_at >= bounds.start7) AS s7,
           avg(diastolic) FILTER (WHERE measured_at >= bounds.start7) AS d7,
           avg(systolic) AS s30, avg(diastolic) AS d30, count(*) AS n30
    FROM blood_pressure_readings
    WHERE resident_id = r.id AND measured_at >= bounds.start30 AND measured_at < bounds.stop
      AND NOT coalesce(body_movement, false) AND NOT coalesce(cuff_loose, false)) bp ON true
LEFT JOIN LATERAL (
    SELECT avg(glucose_mmol) AS mean, count(*) AS n FROM glucose_readings
    WHERE resident_id = r.id AND measured_at >= bounds.start30 AND measured_at < bounds.stop
      AND meal = 'fasting' AND NOT control_solution) f ON true
LEFT JOIN LATERAL (
    SELECT count(DISTINCT day) FILTER (WHERE day >= %(day)s::date - 6) AS days_7,
           count(DISTINCT day) AS days_30
    FROM (SELECT (measured_at AT TIME ZONE 'Asia/Shanghai')::date AS day
          FROM blood_pressure_readings
          WHERE resident_id = r.id AND measured_at >= bounds.start30
            AND measured_at < bounds.stop
          UNION ALL
          SELECT (measured_at AT TIME ZONE 'Asia/Shanghai')::date
          FROM glucose_readings
          WHERE resident_id = r.id AND measured_at >= bounds.start30
            AND measured_at < bounds.stop) AS days) m ON true
ORDER BY r.id
ON CONFLICT (resident_id) DO UPDATE SET
    day = EXCLUDED.day, refreshed_at = EXCLUDED.refreshed_at,
    last_systolic = EXCLUDED.last_systolic, last_diastolic = EXCLUDED.last_diastolic,
    last_bp_at = EXCLUDED.last_bp_at, last_glucose = EXCLUDED.last_glucose,
    last_glucose_at = EXCLUDED.last_glucose_at, systolic_7d = EXCLUDED.systolic_7d,
    diastolic_7d = EXCLUDED.diastolic_7d, systolic_30d = EXCLUDED.systolic_30d,
    diastolic_30d = EXCLUDED.diastolic_30d, bp_readings_30d = EXCLUDED.bp_readings_30d,
    fasting_30d = EXCLUDED.fasting_30d, fasting_readings_30d = EXCLUDED.fasting_readings_30d,
    days_measured_7d = EXCLUDED.days_measured_7d, days_measured_30d = EXCLUDED.days_measured_30d
"""


_MONTHS = """
INSERT INTO resident_months AS m (resident_id, month, bp_readings, systolic_sum,
    diastolic_sum, fasting_readings, fasting_sum)
SELECT r.id, mo.month, coalesce(bp.n, 0), coalesce(bp.s, 0), coalesce(bp.d, 0),
       coalesce(g.n, 0), coalesce(g.s, 0)
FROM unnest(%(residents)s::bigint[]) AS r(id)
CROSS JOIN unnest(%(months)s::date[]) AS mo(month)
CROSS JOIN LATERAL (
    SELECT mo.month::timestamp AT TIME ZONE 'Asia/Shanghai' AS start,
           (mo.month + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai' AS stop) b
LEFT JOIN LATERAL (
    SELECT count(*) AS n, sum(systolic) AS s, sum(diastolic) AS d FROM blood_pressure_readings
    WHERE resident_id = r.id AND measured_at >= b.start AND measured_at < b.stop
      AND NOT coalesce(body_movement, false) AND NOT coalesce(cuff_loose, false)) bp ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS n, sum(glucose_mmol) AS s FROM glucose_readings
    WHERE resident_id = r.id AND measured_at >= b.start AND measured_at < b.stop
      AND meal = 'fasting' AND NOT control_solution) g ON true
ORDER BY r.id, mo.month
ON CONFLICT (resident_id, month) DO UPDATE SET
    bp_readings = EXCLUDED.bp_readings, systolic_sum = EXCLUDED.systolic_sum,
    diastolic_sum = EXCLUDED.diastolic_sum, fasting_readings = EXCLUDED.fasting_readings,
    fasting_sum = EXCLUDED.fasting_sum
"""


def local_day(now: datetime) -> date:
    """The calendar day in China Standard Time the windows end on."""
    return now.astimezone(LOCAL).date()


def month_of(at: datetime) -> date:
    """The calendar month (its first day) in China Standard Time."""
    return local_day(at).replace(day=1)


async def refresh(
    conn: AsyncConnection[Any],
    residents: Sequence[int],
    now: datetime,
    months: Iterable[date] = (),
) -> None:
    """Compute the residents' summaries as of `now`, and their `months` (those their new
    readings fall in: no other month's readings changed), in the caller's transaction (rows
    are written in resident order, the one lock order of every writer)."""
    ordered = sorted(set(residents))
    params = {"residents": ordered, "day": local_day(now)}
    await conn.execute(_REFRESH, params, prepare=False)
    if every := sorted(set(months)):
        await conn.execute(_MONTHS, {"residents": ordered, "months": every}, prepare=False)


async def rebuild_months(conn: AsyncConnection[Any], residents: Sequence[int]) -> None:
    """Every month of the residents' readings computed again (readings loaded in bulk,
    bypassing the checks that keep the months)."""
    cur = await conn.execute(
        """SELECT DISTINCT date_trunc('month', measured_at AT TIME ZONE 'Asia/Shanghai')::date
           FROM (SELECT measured_at FROM blood_pressure_readings WHERE resident_id = ANY(%(r)s)
                 UNION ALL
                 SELECT measured_at FROM glucose_readings WHERE resident_id = ANY(%(r)s)) t""",
        {"r": list(residents)},
    )
    months = [row[0] for row in await cur.fetchall()]
    await conn.execute(_MONTHS, {"residents": sorted(residents), "months": months}, prepare=False)


EVERYONE = sql.SQL("true")
_STALE = """
SELECT r.id FROM residents r LEFT JOIN resident_summaries s ON s.resident_id = r.id
WHERE {scope} AND (s.resident_id IS NULL OR s.day < %(day)s
                   OR EXISTS (SELECT 1 FROM readings_to_check q WHERE q.resident_id = r.id))
ORDER BY r.id LIMIT %(limit)s
"""


async def refresh_stale(
    conn: AsyncConnection[Any],
    now: datetime,
    scope: sql.Composable = EVERYONE,
    params: dict[str, Any] | None = None,
    limit: int | None = None,
) -> int:
    """Refresh the residents (of `scope`, a condition on `residents r` with its `params`)
    whose summary is not current; how many. Each chunk commits on its own, so a check
    waiting for one of these rows waits for a chunk, not for all of them: call it outside
    a transaction."""
    query = sql.SQL(_STALE).format(scope=scope)
    values = (params or {}) | {"day": local_day(now), "limit": limit}
    async with conn.transaction():
        cur = await conn.execute(query, values, prepare=False)
        residents = [int(row[0]) for row in await cur.fetchall()]
    for start in range(0, len(residents), CHUNK):
        chunk = residents[start : start + CHUNK]
        async with conn.transaction():
            await refresh(conn, chunk, now, await _queued_months(conn, chunk))
    return len(residents)


async def _queued_months(conn: AsyncConnection[Any], residents: Sequence[int]) -> list[date]:
    """The months of the residents' readings still waiting to be checked: a day rolling
    over changes no month, readings arriving do."""
    cur = await conn.execute(
        """SELECT DISTINCT date_trunc('month', measured_at AT TIME ZONE 'Asia/Shanghai')::date
           FROM readings_to_check WHERE resident_id = ANY(%s)""",
        (list(residents),),
    )
    return [row[0] for row in await cur.fetchall()]


async def refresh_everyone(pool: AsyncConnectionPool, now: datetime, limit: int) -> int:
    """The worker's round: refresh up to `limit` stale summaries (after midnight, everyone's);
    how many."""
    async with pool.connection() as conn:
        return await refresh_stale(conn, now, limit=limit)
