"""SQL of ingest: register devices, insert readings idempotently. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

ReadingKey = tuple[int, int, int, datetime]  # device_id, user_index, sequence_number, measured_at


@dataclass(frozen=True)
class KnownDevice:
    """A device as ingest needs it."""

    id: int
    serial: str
    kind: str
    gateway_id: int


@dataclass(frozen=True)
class DeviceRow:
    """Metadata of one device for the upsert; None leaves the stored value alone."""

    serial: str
    kind: str
    model: str | None
    manufacturer: str | None
    battery_percent: int | None
    clock_offset_seconds: float | None
    synced_at: datetime | None


async def upsert_devices(
    conn: AsyncConnection[Any], gateway_id: int, devices: list[DeviceRow]
) -> dict[str, KnownDevice]:
    """Register unknown devices under this gateway, refresh what the gateway reports, and
    return every device of the batch by serial (also those owned by another gateway)."""
    devices = sorted(devices, key=lambda d: d.serial)  # one lock order for concurrent batches
    await conn.execute(
        """
        INSERT INTO devices (serial, kind, gateway_id, model, manufacturer, battery_percent,
                             clock_offset_seconds, last_sync_at)
        SELECT d.serial, d.kind, %(gateway_id)s, d.model, d.manufacturer, d.battery_percent,
               d.clock_offset_seconds, d.synced_at
        FROM unnest(%(serial)s::text[], %(kind)s::text[], %(model)s::text[],
                    %(manufacturer)s::text[], %(battery)s::smallint[],
                    %(offset)s::double precision[], %(synced)s::timestamptz[])
             AS d(serial, kind, model, manufacturer, battery_percent, clock_offset_seconds,
                  synced_at)
        ORDER BY d.serial
        ON CONFLICT (serial) DO UPDATE SET
            model = coalesce(excluded.model, devices.model),
            manufacturer = coalesce(excluded.manufacturer, devices.manufacturer),
            battery_percent = coalesce(excluded.battery_percent, devices.battery_percent),
            clock_offset_seconds = coalesce(excluded.clock_offset_seconds,
                                            devices.clock_offset_seconds),
            last_sync_at = greatest(excluded.last_sync_at, devices.last_sync_at)
        WHERE devices.gateway_id = excluded.gateway_id
        """,
        {
            "gateway_id": gateway_id,
            "serial": [d.serial for d in devices],
            "kind": [d.kind for d in devices],
            "model": [d.model for d in devices],
            "manufacturer": [d.manufacturer for d in devices],
            "battery": [d.battery_percent for d in devices],
            "offset": [d.clock_offset_seconds for d in devices],
            "synced": [d.synced_at for d in devices],
        },
    )
    async with conn.cursor(row_factory=class_row(KnownDevice)) as cur:
        await cur.execute(
            "SELECT id, serial, kind, gateway_id FROM devices WHERE serial = ANY(%s)",
            ([d.serial for d in devices],),
        )
        return {d.serial: d for d in await cur.fetchall()}


# Columns of each readings table after the shared ones, with their array types.
BLOOD_PRESSURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("systolic", "real"),
    ("diastolic", "real"),
    ("mean_arterial", "real"),
    ("pulse", "real"),
    ("unit_sent", "text"),
    ("body_movement", "boolean"),
    ("cuff_loose", "boolean"),
    ("irregular_pulse", "boolean"),
    ("pulse_range", "text"),
    ("improper_position", "boolean"),
)
GLUCOSE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("glucose_mmol", "real"),
    ("value_sent", "double precision"),
    ("unit_sent", "text"),
    ("meal", "text"),
    ("sample_type", "text"),
    ("sample_location", "text"),
    ("sensor_status", "integer"),
    ("control_solution", "boolean"),
)
TABLES = {
    "blood_pressure": ("blood_pressure_readings", BLOOD_PRESSURE_COLUMNS),
    "glucose": ("glucose_readings", GLUCOSE_COLUMNS),
}
_KEY_COLUMNS = (
    ("device_id", "bigint"),
    ("user_index", "smallint"),
    ("sequence_number", "integer"),
    ("measured_at", "timestamptz"),
)


def _insert_sql(table: str, columns: tuple[tuple[str, str], ...]) -> sql.Composed:
    every = _KEY_COLUMNS + columns
    return sql.SQL(
        """
        INSERT INTO {table} (device_id, user_index, sequence_number, measured_at, resident_id,
                             time_problem, {columns})
        SELECT s.device_id, s.user_index, s.sequence_number, s.measured_at, du.resident_id,
               CASE WHEN s.measured_at > now() + %s THEN 'future' END, {values}
        FROM unnest({arrays}) AS s({names})
        LEFT JOIN device_users du
               ON du.device_id = s.device_id AND du.user_index = s.user_index
        ORDER BY s.device_id, s.user_index, s.sequence_number, s.measured_at
        ON CONFLICT (device_id, user_index, sequence_number, measured_at) DO NOTHING
        RETURNING device_id, user_index, sequence_number, measured_at
        """
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
        values=sql.SQL(", ").join(sql.Identifier("s", name) for name, _ in columns),
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(kind)) for _, kind in every),
        names=sql.SQL(", ").join(sql.Identifier(name) for name, _ in every),
    )


_INSERT_SQL = {kind: _insert_sql(table, columns) for kind, (table, columns) in TABLES.items()}


async def insert_readings(
    conn: AsyncConnection[Any], kind: str, rows: list[tuple[Any, ...]], skew: timedelta
) -> set[ReadingKey]:
    """Insert rows (key columns first, then the kind's columns); return the keys stored now.

    A row whose key is already stored, or repeated in `rows`, is skipped: that is what makes
    a resend, or two identical batches at once, store each reading exactly once.
    """
    if not rows:
        return set()
    columns = list(zip(*rows, strict=True))
    cur = await conn.execute(_INSERT_SQL[kind], [skew, *(list(c) for c in columns)])
    return {(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()}


async def touch_gateway(conn: AsyncConnection[Any], gateway_id: int) -> None:
    """Record that the gateway was heard from."""
    await conn.execute("UPDATE gateways SET last_seen_at = now() WHERE id = %s", (gateway_id,))
