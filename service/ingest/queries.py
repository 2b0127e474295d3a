"""SQL of ingest: register devices, insert readings idempotently. Never commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

# device_id, user_index, sequence_number, measured_at in microseconds since the Unix epoch.
# Times travel as integers: exact, and far cheaper to send, return and compare than datetimes.
ReadingKey = tuple[int, int, int, int]


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

    @property
    def has_metadata(self) -> bool:
        """True when the gateway reported anything beyond serial and kind."""
        return any(
            value is not None
            for value in (
                self.model,
                self.manufacturer,
                self.battery_percent,
                self.clock_offset_seconds,
                self.synced_at,
            )
        )


_REGISTER_DEVICES = """
    INSERT INTO devices (serial, kind, gateway_id, model, manufacturer, battery_percent,
                         clock_offset_seconds, last_sync_at)
    SELECT d.serial, d.kind, %(gateway_id)s, d.model, d.manufacturer, d.battery_percent,
           d.clock_offset_seconds, d.synced_at
    FROM unnest(%(serial)b::text[], %(kind)b::text[], %(model)b::text[],
                %(manufacturer)b::text[], %(battery)b::smallint[],
                %(offset)b::double precision[], %(synced)b::timestamptz[])
         AS d(serial, kind, model, manufacturer, battery_percent, clock_offset_seconds,
              synced_at)
    WHERE NOT EXISTS (SELECT 1 FROM devices known WHERE known.serial = d.serial)
    ORDER BY d.serial
    ON CONFLICT (serial) DO NOTHING
"""
# Only rows whose metadata really changes are written (and locked): concurrent batches of
# one home do not queue behind each other on unchanged device rows.
_REFRESH_DEVICES = """
    UPDATE devices AS d SET
        model = coalesce(u.model, d.model),
        manufacturer = coalesce(u.manufacturer, d.manufacturer),
        battery_percent = coalesce(u.battery_percent, d.battery_percent),
        clock_offset_seconds = coalesce(u.clock_offset_seconds, d.clock_offset_seconds),
        last_sync_at = greatest(u.synced_at, d.last_sync_at)
    FROM unnest(%(serial)b::text[], %(model)b::text[], %(manufacturer)b::text[],
                %(battery)b::smallint[], %(offset)b::double precision[],
                %(synced)b::timestamptz[])
         AS u(serial, model, manufacturer, battery_percent, clock_offset_seconds, synced_at)
    WHERE d.serial = u.serial AND d.gateway_id = %(gateway_id)s
      AND (coalesce(u.model, d.model), coalesce(u.manufacturer, d.manufacturer),
           coalesce(u.battery_percent, d.battery_percent),
           coalesce(u.clock_offset_seconds, d.clock_offset_seconds),
           greatest(u.synced_at, d.last_sync_at))
          IS DISTINCT FROM
          (d.model, d.manufacturer, d.battery_percent, d.clock_offset_seconds, d.last_sync_at)
"""


def _device_params(gateway_id: int, devices: list[DeviceRow]) -> dict[str, Any]:
    return {
        "gateway_id": gateway_id,
        "serial": [d.serial for d in devices],
        "kind": [d.kind for d in devices],
        "model": [d.model for d in devices],
        "manufacturer": [d.manufacturer for d in devices],
        "battery": [d.battery_percent for d in devices],
        "offset": [d.clock_offset_seconds for d in devices],
        "synced": [d.synced_at for d in devices],
    }


async def upsert_devices(
    conn: AsyncConnection[Any], gateway_id: int, devices: list[DeviceRow]
) -> dict[str, KnownDevice]:
    """Register unknown devices under this gateway, refresh what the gateway reports, and
    return every device of the batch by serial (also those owned by another gateway)."""
    devices = sorted(devices, key=lambda d: d.serial)  # one lock order for concurrent batches
    await conn.execute(_REGISTER_DEVICES, _device_params(gateway_id, devices))
    reported = [d for d in devices if d.has_metadata]
    if reported:
        await conn.execute(_REFRESH_DEVICES, _device_params(gateway_id, reported))
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
    ("time_source", "text"),
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
    ("time_source", "text"),
)
TABLES = {
    "blood_pressure": ("blood_pressure_readings", BLOOD_PRESSURE_COLUMNS),
    "glucose": ("glucose_readings", GLUCOSE_COLUMNS),
}
_KEY_COLUMNS = (
    ("device_id", "bigint"),
    ("user_index", "smallint"),
    ("sequence_number", "integer"),
    ("measured_us", "bigint"),
)


def _insert_sql(kind: str, table: str, columns: tuple[tuple[str, str], ...]) -> sql.Composed:
    every = _KEY_COLUMNS + columns
    # A reading stored for a resident is queued for detection in the same statement.
    return sql.SQL(
        """
        WITH stored AS (
            INSERT INTO {table} (device_id, user_index, sequence_number, measured_at,
                                 resident_id, time_problem, {columns})
            SELECT s.device_id, s.user_index, s.sequence_number,
                   TIMESTAMPTZ 'epoch' + s.measured_us * INTERVAL '1 microsecond',
                   du.resident_id,
                   CASE WHEN TIMESTAMPTZ 'epoch' + s.measured_us * INTERVAL '1 microsecond'
                             > now() + %s THEN 'future' END,
                   {values}
            FROM json_to_recordset(%s::json) AS s({names})
            LEFT JOIN device_users du
                   ON du.device_id = s.device_id AND du.user_index = s.user_index
            ORDER BY s.device_id, s.user_index, s.sequence_number, s.measured_us
            ON CONFLICT (device_id, user_index, sequence_number, measured_at) DO NOTHING
            RETURNING device_id, user_index, sequence_number, measured_at, resident_id
        ), queued AS (
            INSERT INTO readings_to_check (resident_id, kind, device_id, user_index,
                                           sequence_number, measured_at)
            SELECT resident_id, {kind}, device_id, user_index, sequence_number, measured_at
            FROM stored WHERE resident_id IS NOT NULL
        )
        SELECT device_id, user_index, sequence_number,
               (extract(epoch FROM measured_at) * 1000000)::bigint, resident_id
        FROM stored
        """
    ).format(
        table=sql.Identifier(table),
        kind=sql.Literal(kind),
        columns=sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
        values=sql.SQL(", ").join(sql.Identifier("s", name) for name, _ in columns),
        names=sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in every
        ),
    )


_INSERT_SQL = {kind: _insert_sql(kind, table, columns) for kind, (table, columns) in TABLES.items()}
_COLUMN_NAMES = {
    kind: tuple(name for name, _ in _KEY_COLUMNS + columns) for kind, (_, columns) in TABLES.items()
}


@dataclass
class Stored:
    """What one insert stored: the readings' keys, and the residents they belong to."""

    keys: set[ReadingKey] = field(default_factory=set)
    residents: set[int] = field(default_factory=set)


async def insert_readings(
    conn: AsyncConnection[Any], kind: str, rows: list[tuple[Any, ...]], skew: timedelta
) -> Stored:
    """Insert rows (key columns first, then the kind's columns); say what was stored now.

    A row whose key is already stored, or repeated in `rows`, is skipped: that is what makes
    a resend, or two identical batches at once, store each reading exactly once. A stored
    reading of a known resident is queued for detection in the same statement.
    """
    if not rows:
        return Stored()
    # One JSON document, parsed by PostgreSQL in C: far cheaper than dumping arrays in Python.
    names = _COLUMN_NAMES[kind]
    document = orjson.dumps([dict(zip(names, row, strict=True)) for row in rows])
    cur = await conn.execute(_INSERT_SQL[kind], [skew, document.decode()])
    stored = Stored()
    for row in await cur.fetchall():
        stored.keys.add((row[0], row[1], row[2], row[3]))
        if row[4] is not None:
            stored.residents.add(row[4])
    return stored


async def touch_gateway(conn: AsyncConnection[Any], gateway_id: int) -> None:
    """Record that the gateway was heard from."""
    # At most once a minute, so that concurrent batches of one gateway do not queue on its row.
    await conn.execute(
        """UPDATE gateways SET last_seen_at = now()
           WHERE id = %s
             AND (last_seen_at IS NULL OR last_seen_at < now() - INTERVAL '1 minute')""",
        (gateway_id,),
    )
