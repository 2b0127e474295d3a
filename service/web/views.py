"""What the doctor's and family's pages show: SQL over alerts, findings, readings and people,
always through the one rule of who may see which resident (`service.access`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from analytics import control
from analytics.readings import Profile
from analytics.thresholds import DEFAULT_THRESHOLDS
from dashboards.figures.rows import BpDay, BpPoint, GlucosePoint
from dashboards.ports import AlertRow, FollowUp, Note, Today, Viewer
from service.access import (
    MEANT_FOR_VIEWER,
    VISIBLE_RESIDENT,
    can_see_resident,
    viewer_parameters,
)
from service.alerting import outbox
from service.alerting.notify import acknowledge
from service.auth import User
from service.privacy import audit

# Rules a doctor follows up on over days, most serious first.
FOLLOW_UP_RULES = ("bp.drift.up", "bp.uncontrolled", "glucose.uncontrolled", "adherence.missed")


def as_user(viewer: Viewer) -> User:
    """The viewer as the access rule knows them."""
    return User(viewer.id, "", viewer.display_name, viewer.role, viewer.language)


_ALERT_ROW = sql.SQL(
    """a.id, a.resident_id, r.name AS resident_name, a.rule, a.severity, a.state, a.opened_at,
       a.message, coalesce(c.name, u.display_name) AS handled_by"""
)
_ALERT_JOINS = sql.SQL(
    """FROM alerts a JOIN residents r ON r.id = a.resident_id
       LEFT JOIN contacts c ON a.acknowledged_by = 'contact:' || c.id
       LEFT JOIN users u ON a.acknowledged_by = 'user:' || u.id"""
)
_SEVERITY_ORDER = sql.SQL(
    "array_position(ARRAY['critical','urgent','warning','info'], a.severity), a.opened_at"
)


async def today(conn: AsyncConnection[Any], viewer: Viewer) -> Today:
    """Open alerts the doctor may see, most serious first, and residents to follow up."""
    params = viewer_parameters(as_user(viewer))
    query = sql.SQL(
        "SELECT {row} {joins} WHERE a.state <> 'resolved' AND {visible} ORDER BY {order} LIMIT 500"
    ).format(row=_ALERT_ROW, joins=_ALERT_JOINS, visible=VISIBLE_RESIDENT, order=_SEVERITY_ORDER)
    async with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        await cur.execute(query, params, prepare=False)  # see service/web/panel.py
        alerts = await cur.fetchall()
    follow = sql.SQL(
        """SELECT r.id, r.name,
                  array_agg(DISTINCT a.rule) FILTER (WHERE a.rule IS NOT NULL) AS reasons,
                  (SELECT count(*) FROM findings f
                   WHERE f.resident_id = r.id AND f.rule LIKE 'quality.%%'
                     AND f.at > now() - interval '7 days') AS quality
           FROM residents r
           LEFT JOIN alerts a ON a.resident_id = r.id AND a.state <> 'resolved'
                              AND a.rule = ANY(%(rules)s)
           WHERE {visible}
           GROUP BY r.id, r.name"""
    ).format(visible=VISIBLE_RESIDENT)
    cur2 = await conn.execute(follow, params | {"rules": list(FOLLOW_UP_RULES)}, prepare=False)
    follow_up = []
    for resident_id, name, reasons, quality in await cur2.fetchall():
        ranked = tuple(sorted(reasons or (), key=FOLLOW_UP_RULES.index))
        if ranked or quality:
            follow_up.append(FollowUp(resident_id, name, ranked, int(quality)))
    follow_up.sort(key=lambda f: (-len(f.reasons), -f.quality_problems, f.resident_name))
    return Today(alerts, follow_up)


async def act_on_alert(
    conn: AsyncConnection[Any],
    viewer: Viewer,
    alert_id: int,
    action: Literal["acknowledge", "resolve"],
    note: str,
) -> bool:
    """Acknowledge or resolve an alert the viewer may see, with an optional note; audited.

    The pages hand in no client address for changes, so these entries name none."""
    cur = await conn.execute("SELECT resident_id FROM alerts WHERE id = %s", (alert_id,))
    row = await cur.fetchone()
    if row is None or viewer.role == "family":
        return False
    resident_id = int(row[0])
    if not await can_see_resident(conn, as_user(viewer), resident_id):
        return False
    now = datetime.now(UTC)
    if action == "acknowledge":
        done = await acknowledge(conn, alert_id, f"user:{viewer.id}", "web", now)
    else:
        done = await resolve(conn, alert_id, now)
    if not done:
        return False
    actor = audit.Actor(viewer.id, None)
    verb: audit.Action = "acknowledge alert" if action == "acknowledge" else "resolve alert"
    await audit.record(conn, actor, verb, resident_id, alert_id=alert_id, via="web")
    if note:
        await _write_note(conn, viewer, resident_id, note, alert_id)
    return True


async def add_note(conn: AsyncConnection[Any], viewer: Viewer, resident_id: int, text: str) -> bool:
    """A note by a doctor or admin on a resident they may see; audited."""
    if viewer.role == "family" or not await can_see_resident(conn, as_user(viewer), resident_id):
        return False
    await _write_note(conn, viewer, resident_id, text)
    return True


async def _write_note(
    conn: AsyncConnection[Any],
    viewer: Viewer,
    resident_id: int,
    text: str,
    alert_id: int | None = None,
) -> None:
    """Store a note, audited by its id (never its text)."""
    cur = await conn.execute(
        """INSERT INTO notes (resident_id, alert_id, user_id, text) VALUES (%s, %s, %s, %s)
           RETURNING id""",
        (resident_id, alert_id, viewer.id, text),
    )
    row = await cur.fetchone()
    assert row is not None
    actor = audit.Actor(viewer.id, None)
    await audit.record(conn, actor, "add note", resident_id, note_id=int(row[0]), via="web")


async def resolve(conn: AsyncConnection[Any], alert_id: int, at: datetime) -> bool:
    """A doctor closes an alert: nothing more is sent about it."""
    cur = await conn.execute(
        """UPDATE alerts SET state = 'resolved', resolved_at = %s, updated_at = %s
           WHERE id = %s AND state <> 'resolved'""",
        (at, at, alert_id),
    )
    if cur.rowcount == 0:
        return False
    await outbox.cancel_pending(conn, alert_id, keep_all_clear=False)
    return True


async def audit_view(
    conn: AsyncConnection[Any], viewer: Viewer, resident_id: int, client: str | None
) -> None:
    """Write down that the viewer looked at the resident's data."""
    await audit.record(conn, audit.Actor(viewer.id, client), "view resident", resident_id)


async def resident_alerts(
    conn: AsyncConnection[Any], viewer: Viewer, resident_id: int, limit: int
) -> list[AlertRow]:
    """The resident's alerts meant for the viewer, open ones first, then the newest."""
    query = sql.SQL(
        """SELECT {row} {joins} WHERE a.resident_id = %(resident)s AND {meant}
           ORDER BY (a.state = 'resolved'), a.opened_at DESC LIMIT %(limit)s"""
    ).format(row=_ALERT_ROW, joins=_ALERT_JOINS, meant=MEANT_FOR_VIEWER)
    params = {"resident": resident_id, "limit": limit} | viewer_parameters(as_user(viewer))
    async with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def bp_points(
    conn: AsyncConnection[Any], resident_id: int, start: datetime, end: datetime
) -> list[BpPoint]:
    """Blood-pressure readings of a period, with their data-quality reason if any."""
    cur = await conn.execute(
        """SELECT b.measured_at, b.systolic, b.diastolic, b.pulse,
                  coalesce(b.irregular_pulse, false),
                  (SELECT f.rule FROM findings f
                   WHERE f.resident_id = b.resident_id AND f.reading_at = b.measured_at
                     AND f.rule LIKE 'quality.%%' LIMIT 1)
           FROM blood_pressure_readings b
           WHERE b.resident_id = %s AND b.measured_at >= %s AND b.measured_at < %s
           ORDER BY b.measured_at LIMIT 20000""",
        (resident_id, start, end),
    )
    return [
        BpPoint(at, float(s), float(d), None if p is None else float(p), bool(irr), quality)
        for at, s, d, p, irr, quality in await cur.fetchall()
    ]


async def bp_days(
    conn: AsyncConnection[Any], resident_id: int, start: datetime, end: datetime
) -> list[BpDay]:
    """Daily blood-pressure summaries of a long period (never a page that hangs)."""
    cur = await conn.execute(
        """SELECT day, systolic_mean, diastolic_mean, systolic_min, systolic_max, readings
           FROM daily_blood_pressure
           WHERE resident_id = %s AND day >= %s AND day < %s ORDER BY day""",
        (resident_id, start, end),
    )
    return [
        BpDay(_local_day(day), float(sm), float(dm), float(lo), float(hi), int(n))
        for day, sm, dm, lo, hi, n in await cur.fetchall()
    ]


def _local_day(day: datetime) -> date:
    return (day + timedelta(hours=8)).date() if day.tzinfo else day.date()


async def glucose_points(
    conn: AsyncConnection[Any], resident_id: int, start: datetime, end: datetime
) -> list[GlucosePoint]:
    """Glucose readings of a period (control-solution checks left out)."""
    cur = await conn.execute(
        """SELECT g.measured_at, g.glucose_mmol, g.meal,
                  (SELECT f.rule FROM findings f
                   WHERE f.resident_id = g.resident_id AND f.reading_at = g.measured_at
                     AND f.rule LIKE 'quality.%%' LIMIT 1)
           FROM glucose_readings g
           WHERE g.resident_id = %s AND g.measured_at >= %s AND g.measured_at < %s
             AND NOT g.control_solution
           ORDER BY g.measured_at LIMIT 20000""",
        (resident_id, start, end),
    )
    return [
        GlucosePoint(at, round(float(v), 1), meal, quality)
        for at, v, meal, quality in await cur.fetchall()
    ]


async def notes(conn: AsyncConnection[Any], resident_id: int) -> list[Note]:
    """Doctors' notes on the resident, newest first."""
    cur = await conn.execute(
        """SELECT u.display_name, n.text, n.at FROM notes n LEFT JOIN users u ON u.id = n.user_id
           WHERE n.resident_id = %s ORDER BY n.at DESC LIMIT 50""",
        (resident_id,),
    )
    return [Note(author, text, at) for author, text, at in await cur.fetchall()]


def bp_target(
    birth: date, on: date, systolic: float | None, diastolic: float | None
) -> tuple[float, float]:
    """The resident's own target, else the guideline's for their age on `on`."""
    default = control.bp_target(Profile("", birth), on, DEFAULT_THRESHOLDS)
    return (systolic or default[0], diastolic or default[1])
