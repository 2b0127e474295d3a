"""Reading one device: connect (with timeouts and backoff), learn who it is, check its clock,
download what is new, and put it in the outbox together with the download cursor."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from devices import gatt
from devices.clock import ClockCheck
from devices.outbox import Cursor, Outbox, OutboxFull
from devices.procedures import (
    DeviceFacts,
    GlucoseDownload,
    ProcedureTimeout,
    RacpFailed,
    check_clock,
    download_glucose,
    read_blood_pressure,
    read_device_facts,
    set_clock_if_off,
)

log = logging.getLogger(__name__)
NO_USER = 255


@dataclass(frozen=True)
class SyncResult:
    """What one visit to a device brought."""

    address: str
    serial: str | None = None
    kind: str | None = None
    new_readings: int = 0
    last_sequence: int | None = None
    error: str | None = None


def _report(facts: DeviceFacts, kind: str, check: ClockCheck | None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "serial": facts.serial,
        "kind": kind,
        "synced_at": datetime.now(UTC).isoformat(),
    }
    extra = {
        "model": facts.model,
        "manufacturer": facts.manufacturer,
        "battery_percent": facts.battery_percent,
        "clock_offset_seconds": None if check is None else check.offset.total_seconds(),
    }
    report.update({key: value for key, value in extra.items() if value is not None})
    return report


async def _sync_glucose(
    client: BleakClient, outbox: Outbox, facts: DeviceFacts, zone: ZoneInfo
) -> SyncResult:
    check = await check_clock(client, zone)
    cursor = outbox.cursor(facts.serial, NO_USER)
    report = _report(facts, "glucose", check)
    stored = 0

    def store(download: GlucoseDownload) -> None:
        # What arrived is stored before the cursor moves past it, even on a broken link.
        nonlocal stored
        cursors = []
        if download.last_sequence is not None:
            cursors.append(Cursor(facts.serial, NO_USER, download.last_sequence))
        stored += outbox.record(download.items, cursors=cursors, device_report=report)
        download.items.clear()

    start = None if cursor is None else cursor.last_sequence
    download = GlucoseDownload(last_sequence=start, checkpoint=store)
    problem = None
    try:
        await download_glucose(
            client,
            download,
            serial=facts.serial,
            zone=zone,
            check=check,
        )
    except (RacpFailed, ProcedureTimeout, BleakError, TimeoutError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    finally:
        store(download)
    if problem is None:
        await set_clock_if_off(client, check, zone)
    return SyncResult(
        client.address, facts.serial, "glucose", stored, download.last_sequence, problem
    )


async def _sync_blood_pressure(
    client: BleakClient, outbox: Outbox, facts: DeviceFacts, zone: ZoneInfo
) -> SyncResult:
    check = await check_clock(client, zone)
    items = await read_blood_pressure(client, facts, zone=zone, check=check)
    new = outbox.record(items, device_report=_report(facts, "blood_pressure", check))
    await set_clock_if_off(client, check, zone)
    return SyncResult(client.address, facts.serial, "blood_pressure", new)


async def _sync_connected(client: BleakClient, outbox: Outbox, zone: ZoneInfo) -> SyncResult:
    facts = await read_device_facts(client)
    if gatt.offers(client, gatt.GLUCOSE_SERVICE):
        return await _sync_glucose(client, outbox, facts, zone)
    if gatt.offers(client, gatt.BLOOD_PRESSURE_SERVICE):
        return await _sync_blood_pressure(client, outbox, facts, zone)
    return SyncResult(
        client.address, facts.serial, error="neither a blood-pressure monitor nor a glucose meter"
    )


async def sync_device(
    device: BLEDevice,
    outbox: Outbox,
    *,
    zone: ZoneInfo,
    client_options: dict[str, Any] | None = None,
    connect_timeout: float = 20.0,
    attempts: int = 3,
    rng: random.Random | None = None,
) -> SyncResult:
    """Read one device into the outbox, retrying a failed connection with backoff."""
    rng = rng or random.Random()
    stats = outbox.stats()
    if stats.pending >= stats.max_pending:
        # Readings stay on the device (monitors may delete what they have sent).
        return SyncResult(device.address, error="outbox full: device left unread")
    last_error = "not tried"
    for attempt in range(attempts):
        try:
            async with BleakClient(
                device, timeout=connect_timeout, **(client_options or {})
            ) as client:
                return await _sync_connected(client, outbox, zone)
        except OutboxFull as exc:
            return SyncResult(device.address, error=str(exc))
        except (BleakError, TimeoutError, EOFError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: attempt %d failed: %s", device.address, attempt + 1, last_error)
            if attempt + 1 < attempts:
                await asyncio.sleep(rng.uniform(0, 0.5 * 2**attempt))
    return SyncResult(device.address, error=last_error)
