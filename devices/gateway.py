"""The gateway's main loop: scan for health devices, read each into the outbox, upload.

Reading devices and uploading run side by side: a home whose network is down keeps reading
its devices into the outbox, and the uploader catches up when the network returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from bleak import BleakScanner
from bleak.backends.device import BLEDevice

from devices import gatt
from devices.config import GatewayConfig
from devices.outbox import Outbox, OutboxStats
from devices.sync import SyncResult, sync_device
from devices.uploader import ServiceUnavailable, TokenRefused, Uploader

log = logging.getLogger(__name__)
HEALTH_SERVICES = [gatt.uuid(gatt.BLOOD_PRESSURE_SERVICE), gatt.uuid(gatt.GLUCOSE_SERVICE)]


@dataclass
class BleakOptions:
    """Extra arguments for BleakScanner and BleakClient (a backend and its radio, in tests)."""

    scanner: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)


async def find_health_devices(
    seconds: float, options: BleakOptions | None = None
) -> list[tuple[BLEDevice, str | None]]:
    """Blood-pressure monitors and glucose meters advertising nearby: (device, name)."""
    options = options or BleakOptions()
    found = await BleakScanner.discover(
        timeout=seconds, service_uuids=HEALTH_SERVICES, return_adv=True, **options.scanner
    )
    return [(device, adv.local_name or device.name) for device, adv in found.values()]


def _wanted(config: GatewayConfig, device: BLEDevice) -> bool:
    if not config.devices:
        return True
    return device.address.upper() in {d.address.upper() for d in config.devices}


async def read_devices_once(
    config: GatewayConfig, outbox: Outbox, zone: ZoneInfo, options: BleakOptions
) -> list[SyncResult]:
    """One round: scan, then read every wanted device found."""
    results = []
    for device, name in await find_health_devices(config.scan_seconds, options):
        if not _wanted(config, device):
            continue
        result = await sync_device(device, outbox, zone=zone, client_options=options.client)
        results.append(result)
        if result.error:
            log.warning("%s (%s): %s", name or device.address, result.serial, result.error)
        else:
            log.info(
                "%s (%s): %d new readings",
                name or device.address,
                result.serial,
                result.new_readings,
            )
    return results


async def run_gateway(
    config: GatewayConfig,
    *,
    zone: ZoneInfo,
    stop: asyncio.Event,
    options: BleakOptions | None = None,
    rounds: int | None = None,
) -> OutboxStats:
    """Read devices every sync interval and upload continuously, until `stop` (or `rounds`).

    Before returning it tries once more to upload what is pending, and says what is left.
    """
    options = options or BleakOptions()
    with Outbox(config.outbox_path, max_pending=config.max_pending) as outbox:
        await _read_and_upload(config, outbox, zone, stop, options, rounds)
        return outbox.stats()


async def _read_and_upload(
    config: GatewayConfig,
    outbox: Outbox,
    zone: ZoneInfo,
    stop: asyncio.Event,
    options: BleakOptions,
    rounds: int | None,
) -> None:
    async with httpx.AsyncClient(base_url=config.service_url, timeout=30) as http:
        uploader = Uploader(outbox, http, config.token)
        wake = asyncio.Event()
        uploading = asyncio.create_task(uploader.run(wake, idle_seconds=5))
        done = 0
        try:
            while not stop.is_set() and (rounds is None or done < rounds):
                await read_devices_once(config, outbox, zone, options)
                done += 1
                wake.set()
                if rounds is None or done < rounds:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), config.sync_interval_seconds)
        finally:
            uploading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await uploading
            with contextlib.suppress(ServiceUnavailable, TokenRefused):
                await uploader.upload_pending()
