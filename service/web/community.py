"""A community's control rates, as the national basic public health service counts them, and
its activity: residents under management, measuring, alerts per week.

Blood-pressure control rate: of the residents with hypertension who measured in a period, the
share whose mean blood pressure in it was below their target (their own, else 140/90 mmHg,
150/90 from 65). Glucose control rate: of the residents with diabetes who measured fasting
glucose in a period, the share whose mean fasting value was below their target (7.0 mmol/L).
Readings the device flagged (body movement, loose cuff) and control-solution checks do not
count. Months are calendar months in China Standard Time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from dashboards.figures.rows import ControlMonth, ControlPlace
from dashboards.ports import CommunityView, Viewer
from service.access import VISIBLE_IN_COMMUNITIES, viewer_parameters
from service.readings import summaries
from service.web.targets import bp_controlled, glucose_controlled, target_parameters
from service.web.views import as_user

# Control counts of each month: the residents' months (`resident_months`).
_MONTHLY = """
SELECT m.month,
       count(*) FILTER (WHERE {hypertension} AND m.bp_readings > 0),
       count(*) FILTER (WHERE {hypertension} AND m.bp_readings > 0 AND {bp_controlled}),
       count(*) FILTER (WHERE {diabetes} AND m.fasting_readings > 0),
       count(*) FILTER (WHERE {diabetes} AND m.fasting_readings > 0 AND {glucose_controlled})
FROM residents r
CROSS JOIN LATERAL (
    -- OFFSET 0 keeps this a lookup of each resident's months by their primary key; joined
    -- as a whole, PostgreSQL would read the months of every resident of the city.
    SELECT * FROM resident_months m
    WHERE m.resident_id = r.id AND m.month >= %(first_month)s OFFSET 0) m
WHERE {visible}
GROUP BY m.month ORDER BY m.month
"""
# Control counts of the last 30 days by place, and the activity: the residents' summaries.
_PLACES = """
SELECT {group},
       count(*) FILTER (WHERE {hypertension} AND s.bp_readings_30d > 0),
       count(*) FILTER (WHERE {hypertension} AND s.bp_readings_30d > 0 AND {bp_controlled}),
       count(*) FILTER (WHERE {diabetes} AND s.fasting_readings_30d > 0),
       count(*) FILTER (WHERE {diabetes} AND s.fasting_readings_30d > 0 AND {glucose_controlled})
FROM residents r LEFT JOIN resident_summaries s ON s.resident_id = r.id
WHERE {visible}
GROUP BY 1 ORDER BY 1
"""
_ACTIVITY = """
SELECT count(*), count(*) FILTER (WHERE s.days_measured_7d > 0)
FROM residents r LEFT JOIN resident_summaries s ON s.resident_id = r.id
WHERE {visible}
"""
_CONDITIONS = {
    "hypertension": sql.SQL("'hypertension' = ANY(r.conditions)"),
    "diabetes": sql.SQL("'diabetes' = ANY(r.conditions)"),
}


def _rate(controlled: int, managed: int) -> float | None:
    return controlled / managed if managed else None


async def _counts(
    conn: AsyncConnection[Any], query: str, params: dict[str, Any], **parts: sql.Composable
) -> list[tuple[Any, int, int, int, int]]:
    """(group, bp managed, bp controlled, glucose managed, glucose controlled) rows."""
    statement = sql.SQL(query).format(visible=VISIBLE_IN_COMMUNITIES, **_CONDITIONS, **parts)
    values = params | target_parameters()
    cur = await conn.execute(statement, values, prepare=False)  # see service/web/panel.py
    return [(g, int(bm), int(bc), int(gm), int(gc)) for g, bm, bc, gm, gc in await cur.fetchall()]


async def community_view(
    conn: AsyncConnection[Any], viewer: Viewer, community_id: int | None
) -> CommunityView | None:
    """Control rates and activity of a community the viewer serves, or of all of theirs."""
    base = viewer_parameters(as_user(viewer))
    communities = await communities_of(conn, viewer)
    if community_id is not None and community_id not in dict(communities):
        return None
    now = datetime.now(UTC)
    base |= {"communities": in_view(communities, community_id)}
    await summaries.refresh_stale(conn, now, VISIBLE_IN_COMMUNITIES, base)
    first_month = summaries.month_of(now - timedelta(days=335))
    params = base | {"now": now, "first_month": first_month}
    monthly = await _counts(
        conn,
        _MONTHLY,
        params,
        bp_controlled=bp_controlled(
            "m.systolic_sum / m.bp_readings", "m.diastolic_sum / m.bp_readings"
        ),
        glucose_controlled=glucose_controlled("m.fasting_sum / m.fasting_readings"),
    )
    months = [
        ControlMonth(m, _rate(bc, bm), _rate(gc, gm), bm, gm) for m, bm, bc, gm, gc in monthly
    ]
    group = "coalesce((SELECT name FROM grids WHERE id = r.grid_id), '–')"
    if community_id is None:
        group = "(SELECT name FROM communities WHERE id = r.community_id)"
    by_place = await _counts(
        conn,
        _PLACES,
        params,
        group=sql.SQL(group),
        bp_controlled=bp_controlled("s.systolic_30d", "s.diastolic_30d"),
        glucose_controlled=glucose_controlled("s.fasting_30d"),
    )
    places = [
        ControlPlace(str(name), _rate(bc, bm), _rate(gc, gm), max(bm, gm))
        for name, bm, bc, gm, gc in by_place
    ]
    managed, measuring = await _activity(conn, params)
    name = dict(communities).get(community_id, "") if community_id else ""
    return CommunityView(
        name=name,
        communities=communities,
        managed=managed,
        measuring_share=measuring,
        months=months,
        places=places,
        alerts_per_week=await _alerts_per_week(conn, params),
    )


def in_view(communities: list[tuple[int, str]], chosen: int | None) -> list[int]:
    """The ids of the communities a page shows (%(communities)s of VISIBLE_IN_COMMUNITIES):
    the one chosen, else all the viewer serves."""
    return [chosen] if chosen is not None else [c for c, _ in communities]


async def communities_of(conn: AsyncConnection[Any], viewer: Viewer) -> list[tuple[int, str]]:
    if viewer.role == "admin":
        cur = await conn.execute("SELECT id, name FROM communities ORDER BY name")
    else:
        cur = await conn.execute(
            """SELECT c.id, c.name FROM communities c
               JOIN user_communities uc ON uc.community_id = c.id
               WHERE uc.user_id = %s ORDER BY c.name""",
            (viewer.id,),
        )
    return [(int(i), str(n)) for i, n in await cur.fetchall()]


async def _activity(conn: AsyncConnection[Any], params: dict[str, Any]) -> tuple[int, float | None]:
    """Residents under management, and the share who measured in the last 7 days."""
    query = sql.SQL(_ACTIVITY).format(visible=VISIBLE_IN_COMMUNITIES)
    cur = await conn.execute(query, params, prepare=False)
    row = await cur.fetchone()
    assert row is not None
    managed, measuring = int(row[0]), int(row[1])
    return managed, (measuring / managed if managed else None)


async def _alerts_per_week(
    conn: AsyncConnection[Any], params: dict[str, Any]
) -> list[tuple[date, int]]:
    query = sql.SQL(
        """SELECT date_trunc('week', a.opened_at AT TIME ZONE 'Asia/Shanghai')::date, count(*)
           FROM alerts a JOIN residents r ON r.id = a.resident_id
           WHERE {visible}
             AND a.opened_at > %(now)s - interval '12 weeks'
           GROUP BY 1 ORDER BY 1"""
    ).format(visible=VISIBLE_IN_COMMUNITIES)
    cur = await conn.execute(query, params, prepare=False)
    return [(week, int(n)) for week, n in await cur.fetchall()]
