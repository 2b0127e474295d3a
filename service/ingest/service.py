"""Ingest one batch of readings from a gateway: one transaction, an answer per reading."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from service.ingest.parsing import ParsedBatch
from service.ingest.queries import (
    DeviceRow,
    KnownDevice,
    ReadingKey,
    insert_readings,
    upsert_devices,
)
from service.ingest.schemas import (
    SENSOR_STATUS_BITS,
    BloodPressureIn,
    GlucoseIn,
)
from service.units import to_mmhg, to_mmol_per_l

# Rows are inserted in key order, so concurrent batches do not deadlock; this is insurance.
_ATTEMPTS = 3


def _device_rows(batch: ParsedBatch) -> list[DeviceRow]:
    """One row per serial: what the gateway reported about it, or just its kind."""
    rows: dict[str, DeviceRow] = {}
    for _, reading in batch.readings:
        if reading.device_serial not in rows:
            rows[reading.device_serial] = DeviceRow(
                reading.device_serial, reading.kind, None, None, None, None, None
            )
    for report in batch.devices:
        rows[report.serial] = DeviceRow(
            report.serial,
            report.kind,
            report.model,
            report.manufacturer,
            report.battery_percent,
            report.clock_offset_seconds,
            report.synced_at,
        )
    return list(rows.values())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _key(device_id: int, reading: BloodPressureIn | GlucoseIn) -> ReadingKey:
    sequence = -1 if reading.sequence_number is None else reading.sequence_number
    return (device_id, reading.user_index, sequence, (reading.measured_at - _EPOCH) // _MICROSECOND)


def _blood_pressure_row(key: ReadingKey, r: BloodPressureIn) -> tuple[Any, ...]:
    status = r.status
    return (
        *key,
        to_mmhg(r.systolic, r.unit),
        to_mmhg(r.diastolic, r.unit),
        None if r.mean_arterial is None else to_mmhg(r.mean_arterial, r.unit),
        None if r.pulse is None else round(r.pulse, 1),
        r.unit,
        status.body_movement if status else None,
        status.cuff_loose if status else None,
        status.irregular_pulse if status else None,
        status.pulse_range if status else None,
        status.improper_position if status else None,
        r.time_source,
    )


def _glucose_row(key: ReadingKey, r: GlucoseIn) -> tuple[Any, ...]:
    sensor_status = sum(1 << SENSOR_STATUS_BITS.index(name) for name in set(r.sensor_status))
    control = (
        r.control_solution
        or r.sample_type == "control_solution"
        or r.sample_location == "control_solution"
    )
    return (
        *key,
        to_mmol_per_l(r.concentration, r.unit),
        r.concentration,
        r.unit,
        r.meal,
        r.sample_type,
        r.sample_location,
        sensor_status,
        control,
        r.time_source,
    )


def _ownership_problem(
    reading: BloodPressureIn | GlucoseIn, device: KnownDevice | None, gateway_id: int
) -> str | None:
    if device is None:  # pragma: no cover - upsert_devices returns every serial
        return f"device {reading.device_serial} could not be registered"
    if device.gateway_id != gateway_id:
        return f"device {reading.device_serial} is registered to another gateway"
    if device.kind != reading.kind:
        return f"device {reading.device_serial} is a {device.kind} device, not {reading.kind}"
    return None


# (index, status, reason): plain tuples, as a batch answers for up to a thousand readings.
Outcome = tuple[int, str, str | None]


async def _store(
    conn: psycopg.AsyncConnection[Any],
    gateway_id: int,
    batch: ParsedBatch,
    skew: timedelta,
    residents: set[int],
) -> list[Outcome]:
    devices = await upsert_devices(conn, gateway_id, _device_rows(batch))
    results: list[Outcome] = []
    rows: dict[str, list[tuple[Any, ...]]] = {"blood_pressure": [], "glucose": []}
    keyed: list[tuple[int, str, ReadingKey]] = []
    for index, reading in batch.readings:
        device = devices.get(reading.device_serial)
        problem = _ownership_problem(reading, device, gateway_id)
        if problem is not None or device is None:
            results.append((index, "rejected", problem))
            continue
        key = _key(device.id, reading)
        if isinstance(reading, BloodPressureIn):
            rows["blood_pressure"].append(_blood_pressure_row(key, reading))
        else:
            rows["glucose"].append(_glucose_row(key, reading))
        keyed.append((index, reading.kind, key))
    stored = await insert_readings(conn, rows, skew)
    for kind_stored in stored.values():
        residents.update(kind_stored.residents)
    for index, kind, key in keyed:
        if key in stored[kind].keys:
            stored[kind].keys.discard(key)  # a repeat of the key later in this batch is a duplicate
            results.append((index, "accepted", None))
        else:
            results.append((index, "duplicate", None))
    return results


async def ingest_batch(
    pool: AsyncConnectionPool,
    gateway_id: int,
    batch: ParsedBatch,
    skew: timedelta,
    stored_for: Callable[[set[int]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Store the good readings of a batch in one transaction; answer for every reading.

    After the commit, `stored_for` hears which residents got new readings (detection is
    woken for them). The answer is the JSON-ready form of BatchResult.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        residents: set[int] = set()
        try:
            # Pipelined: BEGIN goes with the devices' statement, the two inserts together,
            # then COMMIT; three round trips to PostgreSQL instead of five.
            async with pool.connection() as conn, conn.pipeline(), conn.transaction():
                outcomes = await _store(conn, gateway_id, batch, skew, residents)
            break
        # A resident erased while the batch was stored: their device's readings go in again,
        # now as nobody's (the assignment went with them).
        except (
            psycopg.errors.DeadlockDetected,
            psycopg.errors.SerializationFailure,
            psycopg.errors.ForeignKeyViolation,
        ):
            if attempt == _ATTEMPTS:
                raise
    if stored_for is not None and residents:
        await stored_for(residents)
    outcomes.extend((r.index, r.status, r.reason) for r in batch.rejected)
    outcomes.sort()
    counts = Counter(status for _, status, _ in outcomes)
    return {
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "results": [
            {"index": index, "status": status, "reason": reason}
            for index, status, reason in outcomes
        ],
    }


def outcome_counts(batch: ParsedBatch, answer: dict[str, Any]) -> Counter[tuple[str | None, str]]:
    """How many readings of each kind `answer` accepted, took as duplicates or rejected;
    the kind is None for a rejected item that named none Linli knows."""
    kinds: dict[int, str] = {index: reading.kind for index, reading in batch.readings}
    kinds.update(batch.rejected_kinds)
    return Counter((kinds.get(result["index"]), result["status"]) for result in answer["results"])
