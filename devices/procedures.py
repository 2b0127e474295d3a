"""Profile procedures over bleak: device facts, clocks, blood-pressure indications, and the
glucose meter's Record Access Control Point download of only the new records."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bleak import BleakClient
from bleak.exc import BleakError, BleakGATTProtocolError

from devices import gatt
from devices.clock import ClockCheck
from devices.codecs import (
    ABORT,
    CurrentTime,
    DecodeError,
    FilterType,
    GlucoseContext,
    GlucoseMeasurement,
    OpCode,
    Operator,
    RacpRequest,
    RacpResponse,
    ResponseCode,
    decode_battery_level,
    decode_blood_pressure_feature,
    decode_blood_pressure_measurement,
    decode_current_time,
    decode_glucose_context,
    decode_glucose_measurement,
    decode_response,
    decode_string,
    encode_current_time,
    encode_request,
)
from devices.readings import Captured, Timing, blood_pressure_item, glucose_item

log = logging.getLogger(__name__)

LAST_SEQUENCE = 0xFFFF  # GLS sequence numbers are uint16 and wrap


class RacpFailed(Exception):
    """The meter answered the record request with an error response code."""


class ProcedureTimeout(Exception):
    """The meter stopped sending records and never said it was done."""


@dataclass(frozen=True)
class DeviceFacts:
    """Who the device is and how its battery is."""

    serial: str
    model: str | None
    manufacturer: str | None
    battery_percent: int | None


async def _string(client: BleakClient, short: int) -> str | None:
    data = await gatt.read(client, short)
    if data is None:
        return None
    try:
        return decode_string(data).strip() or None
    except DecodeError as exc:
        log.warning("%s: unreadable 0x%04X: %s", client.address, short, exc)
        return None


async def read_device_facts(client: BleakClient) -> DeviceFacts:
    """Serial, model, manufacturer (Device Information) and battery level, where offered."""
    battery = await gatt.read(client, gatt.BATTERY_LEVEL)
    try:
        battery_percent = None if battery is None else decode_battery_level(battery)
    except DecodeError as exc:
        log.warning("%s: unreadable battery level: %s", client.address, exc)
        battery_percent = None
    return DeviceFacts(
        serial=await _string(client, gatt.SERIAL_NUMBER) or client.address,
        model=await _string(client, gatt.MODEL_NUMBER),
        manufacturer=await _string(client, gatt.MANUFACTURER_NAME),
        battery_percent=battery_percent,
    )


async def check_clock(client: BleakClient, zone: ZoneInfo) -> ClockCheck | None:
    """Compare the device's Current Time with the gateway's (None: no usable Current Time)."""
    data = await gatt.read(client, gatt.CURRENT_TIME)
    if data is None:
        return None
    now = datetime.now(UTC)
    try:
        device_time = decode_current_time(data).date_time.to_datetime()
    except DecodeError as exc:
        log.warning("%s: unreadable Current Time: %s", client.address, exc)
        return None
    return None if device_time is None else ClockCheck(device_time, now, zone)


async def set_clock_if_off(client: BleakClient, check: ClockCheck | None, zone: ZoneInfo) -> None:
    """Set the device's clock when it is off (or unreadable) and the device lets us.

    Called only after the records stamped by the old clock are safely stored: were the clock
    set first, a download cut short would leave records whose old stamps nobody can correct.
    """
    found = gatt.characteristic(client, gatt.CURRENT_TIME)
    if found is None or (check is not None and not check.needs_setting):
        return
    if "write" not in found.properties:
        log.info("%s: clock is off and cannot be set; readings are corrected", client.address)
        return
    local = datetime.now(UTC).astimezone(zone).replace(tzinfo=None)
    value = encode_current_time(CurrentTime.from_datetime(local))
    try:
        await gatt.secured(client, lambda: client.write_gatt_char(found, value, response=True))
        log.info("%s: clock set to %s", client.address, local.isoformat(timespec="seconds"))
    except BleakGATTProtocolError as exc:  # 0x80: "data field ignored", common on monitors
        log.warning("%s: device refused the clock setting: %s", client.address, exc)


def _timing(zone: ZoneInfo, received_at: datetime, check: ClockCheck | None) -> Timing:
    return Timing(zone, received_at, check)


async def read_blood_pressure(
    client: BleakClient,
    facts: DeviceFacts,
    *,
    zone: ZoneInfo,
    check: ClockCheck | None,
    idle_seconds: float = 3.0,
) -> list[Captured]:
    """Subscribe to measurements and take what the monitor sends, until it falls silent."""
    feature_data = await gatt.read(client, gatt.BLOOD_PRESSURE_FEATURE)
    feature = None
    if feature_data is not None:
        try:
            feature = decode_blood_pressure_feature(feature_data)
        except DecodeError as exc:
            log.warning("%s: unreadable feature: %s", facts.serial, exc)
    queue: asyncio.Queue[tuple[int, gatt.Packet]] = asyncio.Queue()
    await gatt.subscribe(client, queue, gatt.BLOOD_PRESSURE_MEASUREMENT)
    items: list[Captured] = []
    try:
        while client.is_connected:
            try:
                _, (received_at, data) = await asyncio.wait_for(queue.get(), idle_seconds)
            except TimeoutError:
                break
            try:
                measurement = decode_blood_pressure_measurement(data)
            except DecodeError as exc:
                log.warning("%s: bad blood-pressure packet %s: %s", facts.serial, data.hex(), exc)
                continue
            item = blood_pressure_item(
                measurement,
                serial=facts.serial,
                timing=_timing(zone, received_at, check),
                feature=feature,
            )
            if item is not None:
                items.append(item)
    finally:
        await gatt.unsubscribe(client, gatt.BLOOD_PRESSURE_MEASUREMENT)
    return items


@dataclass
class GlucoseDownload:
    """What a record download brought so far; complete records survive a broken download.

    With a `checkpoint`, every `checkpoint_every` records are handed to it (to be stored with
    their cursor) and leave `items`, so a gateway that dies mid-download loses little work.
    """

    items: list[Captured] = field(default_factory=list)
    last_sequence: int | None = None  # the newest record stored (start: the cursor)
    bad_packets: int = 0
    checkpoint: Callable[[GlucoseDownload], None] | None = None
    checkpoint_every: int = 50
    _pending: dict[int, tuple[GlucoseMeasurement, datetime]] = field(default_factory=dict)
    _contexts: dict[int, GlucoseContext] = field(default_factory=dict)


def is_newer(sequence: int, than: int) -> bool:
    """True when `sequence` comes after `than` on the wrapping uint16 counter.

    After a wrap, ">= last + 1" also returns the old records numbered above the cursor; they
    must not move the cursor back.
    """
    return 0 < (sequence - than) % (LAST_SEQUENCE + 1) < (LAST_SEQUENCE + 1) // 2


def _request_after(last_sequence: int | None) -> RacpRequest:
    if last_sequence is None or last_sequence >= LAST_SEQUENCE:
        # Never synced, or the counter wrapped: ask for everything; resends are harmless.
        return RacpRequest(OpCode.REPORT_STORED_RECORDS, Operator.ALL_RECORDS)
    return RacpRequest(
        OpCode.REPORT_STORED_RECORDS,
        Operator.GREATER_THAN_OR_EQUAL_TO,
        FilterType.SEQUENCE_NUMBER,
        minimum=last_sequence + 1,
    )


def _flush(
    download: GlucoseDownload, serial: str, zone: ZoneInfo, check: ClockCheck | None, *, all_: bool
) -> None:
    """Turn received measurements into items, in arrival order, once their context is in."""
    for sequence in list(download._pending):
        measurement, received_at = download._pending[sequence]
        context = download._contexts.pop(sequence, None)
        if context is None and measurement.context_follows and not all_:
            break  # its context is on the way; keep the order
        del download._pending[sequence]
        item = glucose_item(
            measurement, context, serial=serial, timing=_timing(zone, received_at, check)
        )
        if item is not None:
            download.items.append(item)
        if download.last_sequence is None or is_newer(sequence, download.last_sequence):
            download.last_sequence = sequence
    if download.checkpoint is not None and len(download.items) >= download.checkpoint_every:
        download.checkpoint(download)


def _take(
    download: GlucoseDownload, short: int, data: bytes, received_at: datetime, serial: str
) -> None:
    try:
        if short == gatt.GLUCOSE_MEASUREMENT:
            measurement = decode_glucose_measurement(data)
            download._pending[measurement.sequence_number] = (measurement, received_at)
        else:
            context = decode_glucose_context(data)
            download._contexts[context.sequence_number] = context
    except DecodeError as exc:
        download.bad_packets += 1
        log.warning("%s: bad glucose packet %s: %s", serial, data.hex(), exc)


async def _abort(client: BleakClient, serial: str) -> None:
    if not client.is_connected:
        return
    try:
        await client.write_gatt_char(
            gatt.uuid(gatt.RECORD_ACCESS_CONTROL_POINT), encode_request(ABORT), response=True
        )
    except (BleakError, TimeoutError) as exc:
        log.warning("%s: abort refused: %s", serial, exc)


async def download_glucose(
    client: BleakClient,
    download: GlucoseDownload,
    *,
    serial: str,
    zone: ZoneInfo,
    check: ClockCheck | None,
    record_timeout: float = 10.0,
) -> ResponseCode:
    """Ask the meter for the records after `download.last_sequence`; collect them there.

    Raises RacpFailed for an error response, ProcedureTimeout when the meter falls silent
    (after sending Abort); what arrived before stays in `download` either way.
    """
    queue: asyncio.Queue[tuple[int, gatt.Packet]] = asyncio.Queue()
    shorts = (gatt.GLUCOSE_MEASUREMENT, gatt.GLUCOSE_CONTEXT, gatt.RECORD_ACCESS_CONTROL_POINT)
    # Measurement CCCDs first, the control point last, as the profile asks.
    for short in shorts:
        await gatt.subscribe(client, queue, short)
    request = encode_request(_request_after(download.last_sequence))
    racp = gatt.uuid(gatt.RECORD_ACCESS_CONTROL_POINT)
    try:
        await gatt.secured(client, lambda: client.write_gatt_char(racp, request, response=True))
        answer = await _collect(client, queue, download, serial, zone, check, record_timeout)
    finally:
        _flush(download, serial, zone, check, all_=True)
        await gatt.unsubscribe(client, *shorts)
    if answer.response_code not in (ResponseCode.SUCCESS, ResponseCode.NO_RECORDS_FOUND):
        raise RacpFailed(f"{serial}: record request answered {answer.response_code.name}")
    return answer.response_code


async def _collect(
    client: BleakClient,
    queue: asyncio.Queue[tuple[int, gatt.Packet]],
    download: GlucoseDownload,
    serial: str,
    zone: ZoneInfo,
    check: ClockCheck | None,
    record_timeout: float,
) -> RacpResponse:
    while True:
        try:
            short, (received_at, data) = await asyncio.wait_for(queue.get(), record_timeout)
        except TimeoutError:
            await _abort(client, serial)
            raise ProcedureTimeout(f"{serial}: no record for {record_timeout:.0f} s") from None
        if short != gatt.RECORD_ACCESS_CONTROL_POINT:
            _take(download, short, data, received_at, serial)
            _flush(download, serial, zone, check, all_=False)
            continue
        try:
            answer = decode_response(data)
        except DecodeError as exc:
            log.warning("%s: bad control point answer %s: %s", serial, data.hex(), exc)
            continue
        if (
            isinstance(answer, RacpResponse)
            and answer.request_op_code == OpCode.REPORT_STORED_RECORDS
        ):
            return answer
