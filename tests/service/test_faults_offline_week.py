"""A gateway cut off from the service for a week: the readings of a building's monitors and
meters pile up in its outbox, day after day, while every upload fails. Then the service
comes up; the gateway's uploader sends them all, each once, oldest measurement first.

The order is checked on what the service recorded: the time each reading was received
(`received_at`, its batch's transaction time) never goes backwards as the time of
measurement goes forwards."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import psycopg

from devices.outbox import Cursor, Outbox
from devices.readings import Captured, record_identity
from devices.uploader import Backoff, Uploader
from tests.conftest import free_port
from tests.effort import record, tries
from tests.factories import new_gateway
from tests.processes import Running
from tests.service.faults import (
    ReadingKey,
    process_env,
    reading_key,
    serve,
    stored_keys,
    twice_or_more,
)

TEST = "offline_week"
DAYS = 7
# A building's gateway: monitors shared by four people who measure four times a day, and
# meters of people who measure before and after meals and at bedtime.
MONITORS, MONITOR_USERS, MONITOR_TIMES = 12, 4, (7, 11, 17, 21)
METERS, METER_TIMES = 30, (6, 8, 11, 13, 17, 19, 21, 22)


def day_of_readings(
    day: int, first_day: datetime, building: int, rng: random.Random
) -> Iterator[tuple[str, int, list[Captured]]]:
    """Each device's readings of one day, as its sync hands them to the outbox: device by
    device, so that the outbox receives them out of their order of measurement."""
    midnight = first_day + timedelta(days=day)
    for number in range(MONITORS * building):
        serial = f"BP-WEEK-{number:03d}"
        for user in range(1, MONITOR_USERS + 1):
            times = [_at(midnight, hour, rng) for hour in MONITOR_TIMES]
            yield serial, user, [_monitor_item(serial, user, at, rng) for at in times]
    for number in range(METERS * building):
        serial = f"GL-WEEK-{number:03d}"
        times = [_at(midnight, hour, rng) for hour in METER_TIMES]
        first = day * len(METER_TIMES) + 1  # the meter's record counter
        yield serial, 255, [_meter_item(serial, first + i, at, rng) for i, at in enumerate(times)]


def _at(day: datetime, hour: int, rng: random.Random) -> datetime:
    return day + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))


def _monitor_item(serial: str, user: int, at: datetime, rng: random.Random) -> Captured:
    item: dict[str, Any] = {
        "kind": "blood_pressure",
        "device_serial": serial,
        "user_index": user,
        "measured_at": at.isoformat(),
        "unit": "mmHg",
        "systolic": rng.randrange(110, 160),
        "diastolic": rng.randrange(65, 95),
        "pulse": rng.randrange(55, 95),
    }
    return Captured(item, record_identity(user, None, at))


def _meter_item(serial: str, sequence: int, at: datetime, rng: random.Random) -> Captured:
    item: dict[str, Any] = {
        "kind": "glucose",
        "device_serial": serial,
        "sequence_number": sequence,
        "measured_at": at.isoformat(),
        "unit": "mmol/L",
        "concentration": round(rng.uniform(4.5, 11.0), 1),
    }
    return Captured(item, record_identity(255, sequence, at))


def offline_week(outbox: Outbox, building: int, first_day: datetime) -> list[ReadingKey]:
    """Fill the outbox with a week of the building's readings; what entered it."""
    rng = random.Random(7)
    entered: list[ReadingKey] = []
    for day in range(DAYS):
        for serial, user, captured in day_of_readings(day, first_day, building, rng):
            last = captured[-1].item.get("sequence_number")
            cursors = [] if last is None else [Cursor(serial, user, last)]
            assert outbox.record(captured, cursors=cursors) == len(captured)
            entered += [reading_key(c.item) for c in captured]
    return entered


async def upload_when_the_service_comes(
    outbox: Outbox, url: str, token: str, env: dict[str, str]
) -> tuple[Running, float]:
    """Keep trying to upload; start the service; the service and the seconds the outbox
    took to empty once it answered."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        uploader = Uploader(outbox, client, token, backoff=Backoff(0.05, 0.5))
        wake = asyncio.Event()
        uploading = asyncio.create_task(uploader.run(wake, idle_seconds=0.2))
        try:
            await asyncio.sleep(1)  # a few tries into the void
            assert outbox.stats().pending > 0
            service = await asyncio.to_thread(serve, env)
            started = time.monotonic()
            wake.set()
            while outbox.stats().pending:
                assert not uploading.done(), uploading
                assert time.monotonic() - started < 300, "the outbox did not empty"
                await asyncio.sleep(0.05)
            return service, time.monotonic() - started
        finally:
            uploading.cancel()


def received_in_order_of_measurement(conninfo: str) -> tuple[int, int, list[str]]:
    """How many readings and batches the service recorded, and where a reading measured
    later was received before one measured earlier (none, when the order held)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            """SELECT measured_at, received_at, id, device_id, user_index, kind
               FROM (SELECT measured_at, received_at, id, device_id, user_index,
                            'blood_pressure' AS kind FROM blood_pressure_readings
                     UNION ALL
                     SELECT measured_at, received_at, id, device_id, user_index, 'glucose'
                     FROM glucose_readings) r
               ORDER BY measured_at, received_at"""
        ).fetchall()
    problems = [
        f"measured {b[0]} received {b[1]}, before measured {a[0]} received {a[1]}"
        for a, b in pairwise(rows)
        if b[1] < a[1]
    ]
    last_id: dict[tuple[str, int, int], int] = {}
    for _, _, row_id, device, user, kind in rows:  # each device's rows: ids rise with time
        stream = (kind, device, user)
        if row_id < last_id.get(stream, 0):
            problems.append(f"{stream}: row {row_id} measured after row {last_id[stream]}")
        last_id[stream] = row_id
    return len(rows), len({row[1] for row in rows}), problems


def test_a_week_offline_is_delivered_once_in_order_of_measurement(database_url, tmp_path: Path):
    building = tries(1, 5)  # how many times the building's devices the gateway reads
    _, token = new_gateway(database_url, "邻里楼")
    port = free_port()
    env = process_env(database_url, port)
    first_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day -= timedelta(days=DAYS)
    with Outbox(tmp_path / "outbox.db") as outbox:
        entered = offline_week(outbox, building, first_day)
        service, seconds = asyncio.run(
            upload_when_the_service_comes(outbox, f"http://127.0.0.1:{port}", token, env)
        )
        with service:
            stats = outbox.stats()
    assert (stats.pending, stats.dead_letters) == (0, 0)
    stored = stored_keys(database_url)
    assert twice_or_more(stored) == []
    assert sorted(stored) == sorted(entered)  # all of them, each once
    readings, batches, problems = received_in_order_of_measurement(database_url)
    assert problems == []
    assert readings == len(entered)
    record(TEST, "readings delivered after a week offline", readings)
    record(TEST, "batches", batches)
    record(TEST, "seconds to catch up", seconds)
