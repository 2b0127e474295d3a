"""Translations between bumble's objects and bleak's: UUIDs, advertisements, errors."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator

from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import att, core
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement

AdType = AdvertisingData.Type

# AD types carrying service UUIDs, with the size of one UUID in bytes.
_SERVICE_UUID_LISTS = {
    AdType.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdType.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdType.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdType.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdType.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    AdType.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
}
_SERVICE_DATA = {
    AdType.SERVICE_DATA_16_BIT_UUID: 2,
    AdType.SERVICE_DATA_32_BIT_UUID: 4,
    AdType.SERVICE_DATA_128_BIT_UUID: 16,
}


def bleak_uuid(value: UUID) -> str:
    """A bumble UUID as bleak spells it: 128-bit, lowercase, with dashes."""
    # bumble keeps UUID bytes little-endian, as they travel over the air.
    return str(uuid.UUID(bytes=bytes(reversed(value.uuid_128_bytes))))


def merge_advertising_data(
    previous: AdvertisingData | None, update: AdvertisingData
) -> AdvertisingData:
    """`previous` with every AD type that `update` carries replaced by `update`'s version.

    A scan response carries other fields than the advertisement it answers; like BlueZ, the
    scanner reports what it knows of the device, not just the last packet.
    """
    if previous is None:
        return update
    replaced = {ad_type for ad_type, _ in update.ad_structures}
    kept = [(t, v) for t, v in previous.ad_structures if t not in replaced]
    return AdvertisingData([*kept, *update.ad_structures])


def advertisement_data(data: AdvertisingData, advertisement: Advertisement) -> AdvertisementData:
    """bleak's AdvertisementData for the merged AD structures of one advertiser."""
    name = data.get(AdType.COMPLETE_LOCAL_NAME) or data.get(AdType.SHORTENED_LOCAL_NAME)
    service_uuids: list[str] = []
    for list_type, size in _SERVICE_UUID_LISTS.items():
        for raw in data.get_all(list_type, raw=True):
            service_uuids.extend(
                bleak_uuid(UUID.from_bytes(raw[i : i + size]))
                for i in range(0, len(raw) - size + 1, size)
            )
    service_data: dict[str, bytes] = {}
    for data_type, size in _SERVICE_DATA.items():
        for raw in data.get_all(data_type, raw=True):
            service_data[bleak_uuid(UUID.from_bytes(raw[:size]))] = bytes(raw[size:])
    manufacturer_data = {
        int.from_bytes(raw[:2], "little"): bytes(raw[2:])
        for raw in data.get_all(AdType.MANUFACTURER_SPECIFIC_DATA, raw=True)
        if len(raw) >= 2
    }
    raw_tx_power = data.get(AdType.TX_POWER_LEVEL, raw=True)
    # The TX Power Level AD field is a signed byte; bumble decodes it unsigned.
    tx_power = int.from_bytes(raw_tx_power[:1], "little", signed=True) if raw_tx_power else None
    return AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=list(dict.fromkeys(service_uuids)),
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


@contextlib.contextmanager
def gatt_errors(still_connected: Callable[[], bool]) -> Iterator[None]:
    """Raise what bleak's backends raise for a failed GATT procedure.

    ATT error responses become BleakGATTProtocolError with the same code; bumble's GATT
    timeout becomes TimeoutError. bumble cancels a pending request when the link drops,
    which would look like our task being cancelled: that becomes a BleakError instead.
    """
    try:
        yield
    except att.ATT_Error as error:
        raise BleakGATTProtocolError(error.error_code) from error
    except core.TimeoutError as error:
        raise TimeoutError(f"GATT request timed out: {error}") from error
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if (task is None or task.cancelling() == 0) and not still_connected():
            raise BleakError("Disconnected during the GATT operation") from None
        raise
