"""Small GATT helpers over bleak's public API: UUIDs, pairing on demand, notification queues."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_16

log = logging.getLogger(__name__)
T = TypeVar("T")

# Services and characteristics of the Bluetooth SIG health and device profiles.
BLOOD_PRESSURE_SERVICE = 0x1810
BLOOD_PRESSURE_MEASUREMENT = 0x2A35
BLOOD_PRESSURE_FEATURE = 0x2A49
GLUCOSE_SERVICE = 0x1808
GLUCOSE_MEASUREMENT = 0x2A18
GLUCOSE_CONTEXT = 0x2A34
GLUCOSE_FEATURE = 0x2A51
RECORD_ACCESS_CONTROL_POINT = 0x2A52
CURRENT_TIME = 0x2A2B
BATTERY_LEVEL = 0x2A19
MANUFACTURER_NAME = 0x2A29
MODEL_NUMBER = 0x2A24
SERIAL_NUMBER = 0x2A25
# ATT errors that mean "pair (or encrypt) first".
_NEEDS_SECURITY = {0x05, 0x0F}

Packet = tuple[datetime, bytes]  # when the gateway received it, and the value


def uuid(short: int) -> str:
    """The normalized 128-bit UUID string of a 16-bit SIG UUID."""
    return normalize_uuid_16(short)


def characteristic(client: BleakClient, short: int) -> BleakGATTCharacteristic | None:
    """The device's characteristic with this 16-bit UUID, or None."""
    return client.services.get_characteristic(uuid(short))


def offers(client: BleakClient, short: int) -> bool:
    """True when the device has the service or characteristic with this 16-bit UUID."""
    return (
        client.services.get_service(uuid(short)) is not None
        or characteristic(client, short) is not None
    )


async def secured(client: BleakClient, operation: Callable[[], Awaitable[T]]) -> T:
    """Run a GATT operation; if the device wants an encrypted link, pair, then run it again."""
    try:
        return await operation()
    except BleakGATTProtocolError as exc:
        if int(exc.code) not in _NEEDS_SECURITY:
            raise
        log.info("%s asks for an encrypted link (ATT 0x%02X): pairing", client.address, exc.code)
        await client.pair()
        return await operation()


async def read(client: BleakClient, short: int) -> bytes | None:
    """The value of a readable characteristic, or None when the device does not have it."""
    found = characteristic(client, short)
    if found is None or "read" not in found.properties:
        return None
    return bytes(await secured(client, lambda: client.read_gatt_char(found)))


class Subscription:
    """Notifications or indications of one characteristic, queued as they arrive.

    The bleak callback only enqueues (received_at, bytes); the procedure drains the queue.
    """

    def __init__(self, queue: asyncio.Queue[tuple[int, Packet]], short: int) -> None:
        self.queue = queue
        self.short = short

    def __call__(self, _: BleakGATTCharacteristic, data: bytearray) -> None:
        self.queue.put_nowait((self.short, (datetime.now(UTC), bytes(data))))


async def subscribe(
    client: BleakClient, queue: asyncio.Queue[tuple[int, Packet]], short: int
) -> bool:
    """Start notifications/indications of a characteristic into `queue`; False if absent."""
    found = characteristic(client, short)
    if found is None:
        return False
    await secured(client, lambda: client.start_notify(found, Subscription(queue, short)))
    return True


async def unsubscribe(client: BleakClient, *shorts: int) -> None:
    """Stop notifications, as far as the link still allows."""
    for short in shorts:
        found = characteristic(client, short)
        if found is None or not client.is_connected:
            continue
        try:
            await client.stop_notify(found)
        except (BleakError, TimeoutError) as exc:  # cleanup must not hide the real outcome
            log.debug("stop_notify 0x%04X: %s", short, exc)
