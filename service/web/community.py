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
from service.access import VISIBLE_RESIDENT, viewer_parameters
from service.web.targets import bp_controlled, glucose_controlled, target_parameters
from service.web.views import as_user

_RATES = """
WITH scope AS (
    SELECT r.* FROM residents r
    WHERE {visible} AND (%(community)s::bigint IS NULL OR r.community_id = %(community)s)
), bp AS (
    SELECT {bp_group} AS grp, r.id, {bp_controlled} AS controlled
    FROM scope r JOIN blood_pressure_readings b ON b.resident_id = r.id
    WHERE 'hypertension' = ANY(r.conditions) AND b.measured_at >= %(since)s
      AND b.measured_at < %(now)s
      AND NOT coalesce(b.body_movement, false) AND NOT coalesce(b.cuff_loose, false)
    GROUP BY 1, r.id, r.target_systolic, r.target_diastolic, r.birth_date
), glucose AS (
    SELECT {glucose_group} AS grp, r.id,
           {glucose_controlled} AS controlled
    FROM scope r JOIN glucose_readings g ON g.resident_id = r.id
    WHERE 'diabetes' = ANY(r.conditions) AND g.meal = 'fasting' AND NOT g.control_solution
      AND g.measured_at >= %(since)s AND g.measured_at < %(now)s
    GROUP BY 1, r.id, r.target_fasting_glucose
)
SELECT grp, (SELECT count(*) FROM bp WHERE bp.grp = g.grp),
       (SELECT count(*) FROM bp WHERE bp.grp = g.grp AND bp.controlled),
       (SELECT count(*) FROM glucose gl WHERE gl.grp = g.grp),
       (SELECT count(*) FROM glucose gl WHERE gl.grp = g.grp AND gl.controlled)
FROM (SELECT grp FROM bp UNION SELECT grp FROM glucose) g
ORDER BY grp
"""
_MONTH = "date_trunc('month', {t} AT TIME ZONE 'Asia/Shanghai')::date"


def _rate(controlled: int, managed: int) -> float | None:
    return controlled / managed if managed else None


async def _rates(
    conn: AsyncConnection[Any], params: dict[str, Any], group: str | None
) -> list[tuple[Any, int, int, int, int]]:
    """Control counts per group (a place expression, or None for calendar months):
    (group, bp managed, bp controlled, glucose managed, glucose controlled)."""
    bp_group = group or _MONTH.format(t="b.measured_at")
    glucose_group = group or _MONTH.format(t="g.measured_at")
    statement = sql.SQL(_RATES).format(
        visible=VISIBLE_RESIDENT,
        bp_group=sql.SQL(bp_group),
        glucose_group=sql.SQL(glucose_group),
        bp_controlled=bp_controlled("avg(b.systolic)", "avg(b.diastolic)"),
        glucose_controlled=glucose_controlled("avg(g.glucose_mmol)"),
    )
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
    first_month = (now - timedelta(days=335)).replace(day=1, hour=0, minute=0, second=0)
    params = base | {"community": community_id, "now": now}
    months = [
        ControlMonth(m, _rate(bc, bm), _rate(gc, gm), bm, gm)
        for m, bm, bc, gm, gc in await _rates(conn, params | {"since": first_month}, None)
    ]
    group = "coalesce((SELECT name FROM grids WHERE id = r.grid_id), '–')"
    if community_id is None:
        group = "(SELECT name FROM communities WHERE id = r.community_id)"
    since = now - timedelta(days=30)
    places = [
        ControlPlace(str(name), _rate(bc, bm), _rate(gc, gm), max(bm, gm))
        for name, bm, bc, gm, gc in await _rates(conn, params | {"since": since}, group)
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
    query = sql.SQL(
        """SELECT count(*),
                  count(*) FILTER (WHERE EXISTS (
                      SELECT 1 FROM blood_pressure_readings b WHERE b.resident_id = r.id
                        AND b.measured_at > %(now)s - interval '7 days')
                   OR EXISTS (
                      SELECT 1 FROM glucose_readings g WHERE g.resident_id = r.id
                        AND g.measured_at > %(now)s - interval '7 days'))
           FROM residents r
           WHERE {visible} AND (%(community)s::bigint IS NULL OR r.community_id = %(community)s)"""
    ).format(visible=VISIBLE_RESIDENT)
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
           WHERE {visible} AND (%(community)s::bigint IS NULL OR r.community_id = %(community)s)
             AND a.opened_at > %(now)s - interval '12 weeks'
           GROUP BY 1 ORDER BY 1"""
    ).format(visible=VISIBLE_RESIDENT)
    cur = await conn.execute(query, params, prepare=False)
    return [(week, int(n)) for week, n in await cur.fetchall()]
