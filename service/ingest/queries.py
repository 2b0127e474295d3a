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


# One statement: unknown devices registered under this gateway, what the gateway reports
# of its own devices refreshed, and every device of the batch returned (also those of
# another gateway, which ingest refuses readings of). A device row is written (and locked)
# only when its metadata really changes: concurrent batches of one home do not queue behind
# each other on unchanged rows. The final SELECT sees the table as the statement began, so
# devices registered now come from the INSERT's RETURNING (and devices another batch
# registered while this one waited on them, from a second look: `upsert_devices`).
_UPSERT_DEVICES = """
WITH d AS (
    SELECT * FROM unnest(%(serial)b::text[], %(kind)b::text[], %(model)b::text[],
                         %(manufacturer)b::text[], %(battery)b::smallint[],
                         %(offset)b::double precision[], %(synced)b::timestamptz[])
         AS d(serial, kind, model, manufacturer, battery_percent, clock_offset_seconds,
              synced_at)
), registered AS (
    INSERT INTO devices (serial, kind, gateway_id, model, manufacturer, battery_percent,
                         clock_offset_seconds, last_sync_at)
    SELECT d.serial, d.kind, %(gateway_id)s, d.model, d.manufacturer, d.battery_percent,
           d.clock_offset_seconds, d.synced_at
    FROM d
    WHERE NOT EXISTS (SELECT 1 FROM devices known WHERE known.serial = d.serial)
    ORDER BY d.serial
    ON CONFLICT (serial) DO NOTHING
    RETURNING id, serial, kind, gateway_id
), refreshed AS (
    UPDATE devices AS known SET
        model = coalesce(d.model, known.model),
        manufacturer = coalesce(d.manufacturer, known.manufacturer),
        battery_percent = coalesce(d.battery_percent, known.battery_percent),
        clock_offset_seconds = coalesce(d.clock_offset_seconds, known.clock_offset_seconds),
        last_sync_at = greatest(d.synced_at, known.last_sync_at)
    FROM d
    WHERE known.serial = d.serial AND known.gateway_id = %(gateway_id)s
      AND (coalesce(d.model, known.model), coalesce(d.manufacturer, known.manufacturer),
           coalesce(d.battery_percent, known.battery_percent),
           coalesce(d.clock_offset_seconds, known.clock_offset_seconds),
           greatest(d.synced_at, known.last_sync_at))
          IS DISTINCT FROM
          (known.model, known.manufacturer, known.battery_percent,
           known.clock_offset_seconds, known.last_sync_at)
)
SELECT id, serial, kind, gateway_id FROM devices WHERE serial IN (SELECT serial FROM d)
UNION ALL
SELECT id, serial, kind, gateway_id FROM registered
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
    async with conn.cursor(row_factory=class_row(KnownDevice)) as cur:
        await cur.execute(_UPSERT_DEVICES, _device_params(gateway_id, devices))
        found = {d.serial: d for d in await cur.fetchall()}
        missing = [d.serial for d in devices if d.serial not in found]
        if missing:  # registered by a concurrent batch that committed after this one began
            await cur.execute(
                "SELECT id, serial, kind, gateway_id FROM devices WHERE serial = ANY(%s)",
                (missing,),
            )
            found |= {d.serial: d for d in await cur.fetchall()}
        return found


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


# Rendered once: composing the statement on every batch cost more than sending it.
_INSERT_SQL = {
    kind: _insert_sql(kind, table, columns).as_string() for kind, (table, columns) in TABLES.items()
}
_COLUMN_NAMES = {
    kind: tuple(name for name, _ in _KEY_COLUMNS + columns) for kind, (_, columns) in TABLES.items()
}


@dataclass
class Stored:
    """What one insert stored: the readings' keys, and the residents they belong to."""

    keys: set[ReadingKey] = field(default_factory=set)
    residents: set[int] = field(default_factory=set)


async def insert_readings(
    conn: AsyncConnection[Any], rows: dict[str, list[tuple[Any, ...]]], skew: timedelta
) -> dict[str, Stored]:
    """Insert each kind's rows (key columns first, then the kind's columns); say what was
    stored now, by kind.

    A row whose key is already stored, or repeated in `rows`, is skipped: that is what makes
    a resend, or two identical batches at once, store each reading exactly once. A stored
    reading of a known resident is queued for detection in the same statement. The
    statements are all sent before any answer is read: in a pipeline, one round trip.
    """
    cursors = {}
    for kind, kind_rows in rows.items():
        if kind_rows:
            # One JSON document, parsed by PostgreSQL in C: far cheaper than arrays from Python.
            names = _COLUMN_NAMES[kind]
            document = orjson.dumps([dict(zip(names, row, strict=True)) for row in kind_rows])
            cursors[kind] = await conn.execute(_INSERT_SQL[kind], [skew, document.decode()])
    stored = {kind: Stored() for kind in rows}
    for kind, cur in cursors.items():
        for row in await cur.fetchall():
            stored[kind].keys.add((row[0], row[1], row[2], row[3]))
            if row[4] is not None:
                stored[kind].residents.add(row[4])
    return stored
