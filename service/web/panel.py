"""The doctor's panel: every resident they serve with the latest readings, 7- and 30-day means,
control status, measuring, open alerts and a month's trend; filtered, sorted and paged in one
query over the residents' summaries (`service.readings.summaries`, refreshed first where
stale), so that 5,000 residents cost one page's worth of readings to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from dashboards.ports import PanelQuery, PanelRow, PanelView, Viewer
from service.access import VISIBLE_IN_COMMUNITIES, viewer_parameters
from service.readings import summaries
from service.web.community import communities_of, in_view
from service.web.targets import bp_controlled, target_parameters
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
      AND (%(grid)s::bigint IS NULL OR r.grid_id = %(grid)s)
      AND (%(condition)s::text IS NULL OR %(condition)s = ANY(r.conditions))
), alerting AS (
    SELECT a.resident_id, count(*) AS n,
           max(array_position(ARRAY['info','warning','urgent','critical'], a.severity)) AS rank
    FROM alerts a JOIN scope ON scope.id = a.resident_id
    WHERE a.state <> 'resolved' GROUP BY a.resident_id
), rows AS (
    SELECT r.id, r.name, r.community, r.grid, r.conditions,
           s.last_systolic, s.last_diastolic, s.last_bp_at AS last_bp_at,
           s.last_glucose, s.last_glucose_at AS last_glucose_at,
           s.systolic_7d AS bp_7d_systolic, s.diastolic_7d, s.systolic_30d, s.diastolic_30d,
           CASE WHEN coalesce(s.bp_readings_30d, 0) < %(control_min_readings)s THEN NULL
                ELSE {controlled} END AS controlled,
           coalesce(s.days_measured_30d, 0) AS days_measured,
           coalesce(s.days_measured_7d, 0) AS days_measured_7d,
           coalesce(al.n, 0) AS open_alerts, al.rank AS worst_rank
    FROM scope r
    LEFT JOIN resident_summaries s ON s.resident_id = r.id
    LEFT JOIN alerting al ON al.resident_id = r.id
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
    communities = await communities_of(conn, viewer)
    visible = viewer_parameters(as_user(viewer)) | {
        "communities": in_view(communities, query.community)
    }
    await summaries.refresh_stale(conn, now, VISIBLE_IN_COMMUNITIES, visible)
    statement = sql.SQL(_PANEL).format(
        visible=VISIBLE_IN_COMMUNITIES,
        controlled=bp_controlled("s.systolic_30d", "s.diastolic_30d"),
        status=sql.SQL(_STATUS[query.status]),
        order=sql.SQL(_ORDER[query.sort]),
    )
    params = (
        visible
        | target_parameters()
        | {
            "grid": query.grid,
            "condition": query.condition,
            "now": now,
            "limit": query.per_page,
            "offset": (query.page - 1) * query.per_page,
        }
    )
    # Never prepared: after a few runs PostgreSQL would switch to a generic plan, blind to
    # which filters are NULL and to how many residents the viewer sees.
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
