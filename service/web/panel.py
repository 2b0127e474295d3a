"""The doctor's panel: every resident they serve with the latest readings, 7- and 30-day means,
control status, measuring, open alerts and a month's trend; filtered, sorted and paged in one
query, so that 5,000 residents cost one page's worth of work to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from dashboards.ports import PanelQuery, PanelRow, PanelView, Viewer
from service.access import VISIBLE_RESIDENT, viewer_parameters
from service.web.community import communities_of
from service.web.views import as_user

_ORDER = {
    "name": "name",
    "alerts": "worst_rank DESC NULLS LAST, open_alerts DESC, name",
    "last_reading": "greatest(last_bp_at, last_glucose_at) DESC NULLS LAST, name",
    "systolic": "bp_7d_systolic DESC NULLS LAST, name",
    "adherence": "days_measured ASC, name",
}
_STATUS = {
    None: "true",
    "uncontrolled": "controlled IS FALSE",
    "alerts": "open_alerts > 0",
    "not_measuring": "days_measured_7d = 0",
}
_PANEL = """
WITH scope AS (
    SELECT r.id, r.name, r.conditions, r.birth_date, r.target_systolic, r.target_diastolic,
           c.name AS community, gr.name AS grid
    FROM residents r JOIN communities c ON c.id = r.community_id
    LEFT JOIN grids gr ON gr.id = r.grid_id
    WHERE {visible}
      AND (%(community)s::bigint IS NULL OR r.community_id = %(community)s)
      AND (%(grid)s::bigint IS NULL OR r.grid_id = %(grid)s)
      AND (%(condition)s::text IS NULL OR %(condition)s = ANY(r.conditions))
), bp AS (
    SELECT b.resident_id,
           avg(b.systolic) FILTER (WHERE b.measured_at > %(now)s - interval '7 days') AS s7,
           avg(b.diastolic) FILTER (WHERE b.measured_at > %(now)s - interval '7 days') AS d7,
           avg(b.systolic) AS s30, avg(b.diastolic) AS d30, count(*) AS n30
    FROM blood_pressure_readings b JOIN scope ON scope.id = b.resident_id
    WHERE b.measured_at > %(now)s - interval '30 days' AND b.measured_at <= %(now)s
      AND NOT coalesce(b.body_movement, false) AND NOT coalesce(b.cuff_loose, false)
    GROUP BY b.resident_id
), measured AS (
    SELECT resident_id, count(DISTINCT day) AS days,
           count(DISTINCT day) FILTER (WHERE day > %(now)s - interval '7 days') AS days_7
    FROM (SELECT b.resident_id, date_trunc('day', b.measured_at AT TIME ZONE 'Asia/Shanghai') AS day
          FROM blood_pressure_readings b JOIN scope ON scope.id = b.resident_id
          WHERE b.measured_at > %(now)s - interval '30 days'
          UNION ALL
          SELECT g.resident_id, date_trunc('day', g.measured_at AT TIME ZONE 'Asia/Shanghai')
          FROM glucose_readings g JOIN scope ON scope.id = g.resident_id
          WHERE g.measured_at > %(now)s - interval '30 days') AS d
    GROUP BY resident_id
), alerting AS (
    SELECT a.resident_id, count(*) AS n,
           max(array_position(ARRAY['info','warning','urgent','critical'], a.severity)) AS rank
    FROM alerts a JOIN scope ON scope.id = a.resident_id
    WHERE a.state <> 'resolved' GROUP BY a.resident_id
), rows AS (
    SELECT s.id, s.name, s.community, s.grid, s.conditions,
           lb.systolic AS last_s, lb.diastolic AS last_d, lb.measured_at AS last_bp_at,
           lg.glucose_mmol AS last_glucose, lg.measured_at AS last_glucose_at,
           bp.s7 AS bp_7d_systolic, bp.d7, bp.s30, bp.d30,
           CASE WHEN coalesce(bp.n30, 0) < 3 THEN NULL
                ELSE bp.s30 < coalesce(s.target_systolic,
                        CASE WHEN age(%(now)s, s.birth_date) >= interval '65 years'
                             THEN 150 ELSE 140 END)
                     AND bp.d30 < coalesce(s.target_diastolic, 90) END AS controlled,
           coalesce(m.days, 0) AS days_measured, coalesce(m.days_7, 0) AS days_measured_7d,
           coalesce(al.n, 0) AS open_alerts, al.rank AS worst_rank
    FROM scope s
    LEFT JOIN bp ON bp.resident_id = s.id
    LEFT JOIN measured m ON m.resident_id = s.id
    LEFT JOIN alerting al ON al.resident_id = s.id
    LEFT JOIN LATERAL (SELECT systolic, diastolic, measured_at FROM blood_pressure_readings
                       WHERE resident_id = s.id ORDER BY measured_at DESC LIMIT 1) lb ON true
    LEFT JOIN LATERAL (SELECT glucose_mmol, measured_at FROM glucose_readings
                       WHERE resident_id = s.id AND NOT control_solution
                       ORDER BY measured_at DESC LIMIT 1) lg ON true
)
SELECT *, count(*) OVER () AS total FROM rows WHERE {status}
ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s
"""
_SEVERITIES = (None, "info", "warning", "urgent", "critical")


def _pair(a: Any, b: Any) -> tuple[float, float] | None:
    return None if a is None or b is None else (round(float(a)), round(float(b)))


async def panel(conn: AsyncConnection[Any], viewer: Viewer, query: PanelQuery) -> PanelView:
    """One page of the viewer's residents, filtered and sorted."""
    now = datetime.now(UTC)
    statement = sql.SQL(_PANEL).format(
        visible=VISIBLE_RESIDENT,
        status=sql.SQL(_STATUS[query.status]),
        order=sql.SQL(_ORDER[query.sort]),
    )
    params = viewer_parameters(as_user(viewer)) | {
        "community": query.community,
        "grid": query.grid,
        "condition": query.condition,
        "now": now,
        "limit": query.per_page,
        "offset": (query.page - 1) * query.per_page,
    }
    # Never prepared: after a few runs PostgreSQL would switch to a generic plan, blind to
    # which filters are NULL and to how many residents the viewer sees, and that plan
    # recomputes the month's figures resident by resident (minutes at 5,000 residents).
    cur = await conn.execute(statement, params, prepare=False)
    records = await cur.fetchall()
    total = int(records[0][-1]) if records else 0
    trends = await _trends(conn, [r[0] for r in records], now)
    rows = [
        PanelRow(
            resident_id=r[0],
            name=r[1],
            community=r[2],
            grid=r[3],
            conditions=tuple(r[4]),
            last_bp=_pair(r[5], r[6]),
            last_bp_at=r[7],
            last_glucose=None if r[8] is None else round(float(r[8]), 1),
            last_glucose_at=r[9],
            bp_7d=_pair(r[10], r[11]),
            bp_30d=_pair(r[12], r[13]),
            controlled=r[14],
            days_measured_30d=int(r[15]),
            open_alerts=int(r[17]),
            worst_severity=_SEVERITIES[r[18] or 0],
            trend=trends.get(r[0], ()),
        )
        for r in records
    ]
    communities = await communities_of(conn, viewer)
    grids = await _grids(conn, query.community)
    return PanelView(rows, total, query, communities, grids)


async def _trends(
    conn: AsyncConnection[Any], residents: list[int], now: datetime
) -> dict[int, tuple[float | None, ...]]:
    """Daily mean systolic of the last 30 days, for the residents of one page."""
    if not residents:
        return {}
    start = (now - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    # From the readings, bounded by time: the daily view's day is computed, so no index
    # would bound it, and it would read a whole year for every resident of the page.
    cur = await conn.execute(
        """SELECT resident_id,
                  date_bin('1 day', measured_at, %(start)s::timestamptz) - %(start)s AS offset,
                  avg(systolic)
           FROM blood_pressure_readings
           WHERE resident_id = ANY(%(residents)s) AND measured_at >= %(start)s
           GROUP BY 1, 2""",
        {"start": start, "residents": residents},
    )
    trends: dict[int, list[float | None]] = {r: [None] * 31 for r in residents}
    for resident_id, offset, mean in await cur.fetchall():
        index = min(30, max(0, offset.days))
        trends[resident_id][index] = float(mean)
    return {r: tuple(values) for r, values in trends.items()}


async def _grids(conn: AsyncConnection[Any], community: int | None) -> list[tuple[int, str]]:
    if community is None:
        return []
    cur = await conn.execute(
        "SELECT id, name FROM grids WHERE community_id = %s ORDER BY name", (community,)
    )
    return [(int(i), str(n)) for i, n in await cur.fetchall()]
