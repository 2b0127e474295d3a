"""Reading a resident's readings and daily summaries. Written once for both database modes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from service.ingest.schemas import SENSOR_STATUS_BITS

ReadingKind = Literal["blood_pressure", "glucose"]


@dataclass(frozen=True)
class _StoredReading:
    id: int
    device_serial: str
    user_index: int
    sequence_number: int | None
    resident_id: int | None
    measured_at: datetime
    received_at: datetime
    time_problem: str | None
    time_source: str


@dataclass(frozen=True)
class BloodPressureReading(_StoredReading):
    """One stored blood-pressure reading; pressures in mmHg."""

    systolic: float
    diastolic: float
    mean_arterial: float | None
    pulse: float | None
    unit_sent: str
    body_movement: bool | None
    cuff_loose: bool | None
    irregular_pulse: bool | None
    pulse_range: str | None
    improper_position: bool | None


@dataclass(frozen=True)
class GlucoseReading(_StoredReading):
    """One stored glucose reading; glucose_mmol in mmol/L, value_sent in unit_sent."""

    glucose_mmol: float
    value_sent: float
    unit_sent: str
    meal: str | None
    sample_type: str | None
    sample_location: str | None
    sensor_status: list[str]
    control_solution: bool


@dataclass(frozen=True)
class DailyBloodPressure:
    """One resident's blood pressure over one day (China Standard Time)."""

    day: str
    readings: int
    systolic_mean: float
    systolic_min: float
    systolic_max: float
    diastolic_mean: float
    diastolic_min: float
    diastolic_max: float
    pulse_mean: float | None
    irregular_pulse_readings: int


@dataclass(frozen=True)
class DailyGlucose:
    """One resident's glucose over one day (China Standard Time); control solution excluded."""

    day: str
    readings: int
    glucose_mean: float
    glucose_min: float
    glucose_max: float
    fasting_readings: int
    fasting_mean: float | None


_COMMON = sql.SQL("""r.id, d.serial AS device_serial, r.user_index,
    nullif(r.sequence_number, -1) AS sequence_number, r.resident_id, r.measured_at,
    r.received_at, r.time_problem, r.time_source""")
_BLOOD_PRESSURE = sql.SQL("""
    SELECT {common}, r.systolic, r.diastolic, r.mean_arterial, r.pulse, r.unit_sent,
           r.body_movement, r.cuff_loose, r.irregular_pulse, r.pulse_range, r.improper_position
    FROM blood_pressure_readings r JOIN devices d ON d.id = r.device_id
""").format(common=_COMMON)
# Bit i of sensor_status is SENSOR_STATUS_BITS[i]; names are returned in bit order.
_GLUCOSE = sql.SQL("""
    SELECT {common}, r.glucose_mmol, r.value_sent, r.unit_sent, r.meal, r.sample_type,
           r.sample_location,
           ARRAY(SELECT name FROM unnest(%(bit_names)s::text[]) WITH ORDINALITY AS b(name, bit)
                 WHERE r.sensor_status & (1 << (b.bit::int - 1)) <> 0 ORDER BY b.bit)
               AS sensor_status,
           r.control_solution
    FROM glucose_readings r JOIN devices d ON d.id = r.device_id
""").format(common=_COMMON)
_RESIDENT_RANGE = sql.SQL("""
    WHERE r.resident_id = %(resident)s
      AND r.measured_at >= %(since)s AND r.measured_at < %(until)s
    ORDER BY r.measured_at, r.id
    LIMIT %(limit)s
""")
_UNASSIGNED = sql.SQL(
    "WHERE r.resident_id IS NULL ORDER BY r.measured_at DESC, r.id DESC LIMIT %(limit)s"
)


async def _fetch_readings(
    conn: AsyncConnection[Any], kind: ReadingKind, where: sql.SQL, params: dict[str, Any]
) -> list[BloodPressureReading] | list[GlucoseReading]:
    params = {**params, "bit_names": list(SENSOR_STATUS_BITS)}
    if kind == "blood_pressure":
        async with conn.cursor(row_factory=class_row(BloodPressureReading)) as cur:
            await cur.execute(sql.Composed([_BLOOD_PRESSURE, where]), params)
            return await cur.fetchall()
    async with conn.cursor(row_factory=class_row(GlucoseReading)) as cur:
        await cur.execute(sql.Composed([_GLUCOSE, where]), params)
        return await cur.fetchall()


async def resident_readings(
    conn: AsyncConnection[Any],
    resident_id: int,
    kind: ReadingKind,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[BloodPressureReading] | list[GlucoseReading]:
    """The resident's readings of one kind in [since, until), oldest first."""
    params = {"resident": resident_id, "since": since, "until": until, "limit": limit}
    return await _fetch_readings(conn, kind, _RESIDENT_RANGE, params)


async def unassigned_readings(
    conn: AsyncConnection[Any], kind: ReadingKind, limit: int
) -> list[BloodPressureReading] | list[GlucoseReading]:
    """Readings no resident owns yet (their device user is not assigned), newest first."""
    return await _fetch_readings(conn, kind, _UNASSIGNED, {"limit": limit})


_DAILY_BLOOD_PRESSURE = """
    SELECT to_char(day AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day, readings,
           systolic_mean, systolic_min, systolic_max, diastolic_mean, diastolic_min,
           diastolic_max, pulse_mean, irregular_pulse_readings
    FROM daily_blood_pressure
    WHERE resident_id = %(resident)s AND day >= %(since)s AND day < %(until)s
    ORDER BY day
"""
_DAILY_GLUCOSE = """
    SELECT to_char(day AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day, readings,
           glucose_mean, glucose_min, glucose_max, fasting_readings, fasting_mean
    FROM daily_glucose
    WHERE resident_id = %(resident)s AND day >= %(since)s AND day < %(until)s
    ORDER BY day
"""


async def daily_summaries(
    conn: AsyncConnection[Any],
    resident_id: int,
    kind: ReadingKind,
    since: datetime,
    until: datetime,
) -> list[DailyBloodPressure] | list[DailyGlucose]:
    """Per-day summaries of the resident's readings for the days starting in [since, until)."""
    params = {"resident": resident_id, "since": since, "until": until}
    if kind == "blood_pressure":
        async with conn.cursor(row_factory=class_row(DailyBloodPressure)) as cur:
            await cur.execute(_DAILY_BLOOD_PRESSURE, params)
            return await cur.fetchall()
    async with conn.cursor(row_factory=class_row(DailyGlucose)) as cur:
        await cur.execute(_DAILY_GLUCOSE, params)
        return await cur.fetchall()
