"""Devices: list them, see which readings wait for a resident, assign a device's user to one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from service.errors import NotFound
from service.privacy import audit
from service.privacy.audit import SYSTEM, Actor


@dataclass(frozen=True)
class DeviceInfo:
    """A device with its state and how many of its readings have no resident yet."""

    id: int
    serial: str
    kind: str
    model: str | None
    manufacturer: str | None
    gateway_id: int
    battery_percent: int | None
    last_sync_at: datetime | None
    clock_offset_seconds: float | None
    first_seen_at: datetime
    unassigned_readings: int


@dataclass(frozen=True)
class Assignment:
    """A device's user index belonging to a resident."""

    device_id: int
    user_index: int
    resident_id: int
    assigned_at: datetime
    readings_attached: int = 0


_DEVICE_SELECT = sql.SQL("""
    SELECT d.id, d.serial, d.kind, d.model, d.manufacturer, d.gateway_id, d.battery_percent,
           d.last_sync_at, d.clock_offset_seconds, d.first_seen_at,
           (SELECT count(*) FROM blood_pressure_readings r
             WHERE r.device_id = d.id AND r.resident_id IS NULL)
         + (SELECT count(*) FROM glucose_readings r
             WHERE r.device_id = d.id AND r.resident_id IS NULL) AS unassigned_readings
    FROM devices d
""")


async def list_devices(
    conn: AsyncConnection[Any], *, unassigned_only: bool = False
) -> list[DeviceInfo]:
    """Every device; with unassigned_only, those with readings that belong to nobody yet."""
    where = sql.SQL("WHERE unassigned_readings > 0" if unassigned_only else "")
    query = sql.SQL("SELECT * FROM ({}) d {} ORDER BY id").format(_DEVICE_SELECT, where)
    async with conn.cursor(row_factory=class_row(DeviceInfo)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def find_device(conn: AsyncConnection[Any], serial_or_id: str | int) -> DeviceInfo:
    """A device by its serial or its id."""
    async with conn.cursor(row_factory=class_row(DeviceInfo)) as cur:
        column = sql.Identifier("d", "id" if isinstance(serial_or_id, int) else "serial")
        await cur.execute(
            sql.SQL("{} WHERE {} = %s").format(_DEVICE_SELECT, column), (serial_or_id,)
        )
        device = await cur.fetchone()
    if device is None:
        raise NotFound(f"no device {serial_or_id}")
    return device


async def assign_device(
    conn: AsyncConnection[Any],
    serial_or_id: str | int,
    user_index: int,
    resident_id: int,
    *,
    actor: Actor = SYSTEM,
) -> Assignment:
    """Readings of this device user belong to the resident from now on; readings of it that
    were waiting unassigned are attached to the resident too, and queued for detection.
    Audited for the resident, and for the one it was taken from, if any."""
    device = await find_device(conn, serial_or_id)
    before = await _assigned_to(conn, device.id, user_index)
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        try:
            await cur.execute(
                """
                INSERT INTO device_users (device_id, user_index, resident_id) VALUES (%s, %s, %s)
                ON CONFLICT (device_id, user_index) DO UPDATE
                    SET resident_id = excluded.resident_id, assigned_at = now()
                RETURNING device_id, user_index, resident_id, assigned_at
                """,
                (device.id, user_index, resident_id),
            )
        except psycopg.errors.ForeignKeyViolation:
            raise NotFound(f"no resident {resident_id}") from None
        assignment = await cur.fetchone()
    assert assignment is not None
    attached = 0
    for table, kind in (
        ("blood_pressure_readings", "blood_pressure"),
        ("glucose_readings", "glucose"),
    ):
        # Attached readings are queued for detection like freshly stored ones.
        cur2 = await conn.execute(
            sql.SQL(
                """WITH attached AS (
                       UPDATE {} SET resident_id = %(resident)s
                       WHERE device_id = %(device)s AND user_index = %(user)s
                         AND resident_id IS NULL
                       RETURNING resident_id, device_id, user_index, sequence_number,
                                 measured_at)
                   INSERT INTO readings_to_check (resident_id, kind, device_id, user_index,
                                                  sequence_number, measured_at)
                   SELECT resident_id, {}, device_id, user_index, sequence_number, measured_at
                   FROM attached"""
            ).format(sql.Identifier(table), sql.Literal(kind)),
            {"resident": resident_id, "device": device.id, "user": user_index},
        )
        attached += cur2.rowcount
    where = {"device_id": device.id, "user_index": user_index}
    if before is not None and before != resident_id:
        await audit.record(conn, actor, "unassign device", before, **where)
    await audit.record(
        conn, actor, "assign device", resident_id, **where, readings_attached=attached
    )
    return Assignment(
        assignment.device_id,
        assignment.user_index,
        assignment.resident_id,
        assignment.assigned_at,
        attached,
    )


async def _assigned_to(conn: AsyncConnection[Any], device_id: int, user_index: int) -> int | None:
    """The resident a device user belongs to now (locked until the transaction ends)."""
    cur = await conn.execute(
        """SELECT resident_id FROM device_users WHERE device_id = %s AND user_index = %s
           FOR UPDATE""",
        (device_id, user_index),
    )
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def unassign_device(
    conn: AsyncConnection[Any], serial_or_id: str | int, user_index: int, *, actor: Actor = SYSTEM
) -> None:
    """New readings of this device user are kept unassigned; stored ones keep their resident.
    Audited."""
    device = await find_device(conn, serial_or_id)
    cur = await conn.execute(
        """DELETE FROM device_users WHERE device_id = %s AND user_index = %s
           RETURNING resident_id""",
        (device.id, user_index),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"device {device.serial} user {user_index} is not assigned")
    await audit.record(
        conn, actor, "unassign device", int(row[0]), device_id=device.id, user_index=user_index
    )
