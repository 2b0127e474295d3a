"""One resident's page and the family view: readings of a period, alerts, contacts, devices,
notes; every look at a resident's data is written to the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from analytics.readings import Profile
from dashboards.figures import choose_resolution
from dashboards.ports import Contact, Device, FamilyView, ResidentView, Viewer
from service.access import can_see_resident
from service.alerting.people import takes_sms
from service.web import views


@dataclass
class _Resident:
    id: int
    name: str
    birth_date: date
    conditions: list[str]
    community: str
    time_zone: str
    target_systolic: float | None
    target_diastolic: float | None


async def _resident(conn: AsyncConnection[Any], resident_id: int) -> _Resident | None:
    async with conn.cursor(row_factory=class_row(_Resident)) as cur:
        await cur.execute(
            """SELECT r.id, r.name, r.birth_date, r.conditions, c.name AS community,
                      r.time_zone, r.target_systolic, r.target_diastolic
               FROM residents r JOIN communities c ON c.id = r.community_id
               WHERE r.id = %s""",
            (resident_id,),
        )
        return await cur.fetchone()


async def resident_view(
    conn: AsyncConnection[Any], viewer: Viewer, resident_id: int, days: int, client: str | None
) -> ResidentView | None:
    """The resident's page for the last `days` days, if the viewer may see them."""
    if not await can_see_resident(conn, views.as_user(viewer), resident_id):
        return None
    r = await _resident(conn, resident_id)
    if r is None:
        return None
    await views.audit_view(conn, viewer, resident_id, client)
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    age = Profile("", r.birth_date).age_on(end.date()) or 0
    daily = choose_resolution(start, end) == "daily"
    return ResidentView(
        id=r.id,
        name=r.name,
        age=age,
        conditions=tuple(r.conditions),
        community=r.community,
        time_zone=r.time_zone,
        target=views.bp_target(r.birth_date, end.date(), r.target_systolic, r.target_diastolic),
        start=start,
        end=end,
        bp=[] if daily else await views.bp_points(conn, resident_id, start, end),
        bp_days=await views.bp_days(conn, resident_id, start, end) if daily else [],
        glucose=await views.glucose_points(conn, resident_id, start, end),
        alerts=await views.resident_alerts(conn, viewer, resident_id, 50),
        contacts=await _contacts(conn, resident_id),
        devices=await _devices(conn, resident_id),
        notes=await views.notes(conn, resident_id),
    )


async def _contacts(conn: AsyncConnection[Any], resident_id: int) -> list[Contact]:
    cur = await conn.execute(
        """SELECT name, relationship, phone, sms_stopped_at IS NULL FROM contacts
           WHERE resident_id = %s ORDER BY escalation_order""",
        (resident_id,),
    )
    return [
        Contact(name, relationship, phone, bool(open_) and takes_sms(phone))
        for name, relationship, phone, open_ in await cur.fetchall()
    ]


async def _devices(conn: AsyncConnection[Any], resident_id: int) -> list[Device]:
    cur = await conn.execute(
        """SELECT d.serial, d.kind, d.battery_percent,
                  greatest((SELECT max(received_at) FROM blood_pressure_readings b
                            WHERE b.device_id = d.id AND b.resident_id = du.resident_id),
                           (SELECT max(received_at) FROM glucose_readings g
                            WHERE g.device_id = d.id AND g.resident_id = du.resident_id)),
                  d.clock_offset_seconds
           FROM device_users du JOIN devices d ON d.id = du.device_id
           WHERE du.resident_id = %s ORDER BY d.serial""",
        (resident_id,),
    )
    return [
        Device(serial, kind, battery, last, None if offset is None else float(offset))
        for serial, kind, battery, last, offset in await cur.fetchall()
    ]


async def family_views(
    conn: AsyncConnection[Any], viewer: Viewer, client: str | None
) -> list[FamilyView]:
    """The viewer's relatives, each looked at (and audited)."""
    cur = await conn.execute(
        sql.SQL(
            """SELECT r.id, r.name, r.time_zone, r.birth_date, r.target_systolic,
                      r.target_diastolic
               FROM residents r JOIN user_residents ur ON ur.resident_id = r.id
               WHERE ur.user_id = %s ORDER BY r.name"""
        ),
        (viewer.id,),
    )
    relatives = []
    end = datetime.now(UTC)
    for resident_id, name, zone, birth, target_s, target_d in await cur.fetchall():
        await views.audit_view(conn, viewer, resident_id, client)
        bp = await views.bp_points(conn, resident_id, end - timedelta(days=30), end)
        glucose = await views.glucose_points(conn, resident_id, end - timedelta(days=30), end)
        alerts = await views.resident_alerts(conn, viewer, resident_id, 20)
        relatives.append(
            FamilyView(
                resident_id,
                name,
                zone,
                views.bp_target(birth, end.date(), target_s, target_d),
                next((p for p in reversed(bp) if p.quality is None), None),
                next((g for g in reversed(glucose) if g.quality is None), None),
                bp,
                [a for a in alerts if a.state != "resolved"],
            )
        )
    return relatives
