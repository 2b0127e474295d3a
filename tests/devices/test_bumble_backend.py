"""The bleak backend over bumble, driven only through bleak's public API.

Peripherals are small bumble devices (tests/devices/bumble_peripherals.py) on the same
virtual radio as the central; they advertise every 20 ms, so each test takes milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import (
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak.uuids import normalize_uuid_str
from bumble.hci import Address

from devices.bumble_backend import BumbleClient, BumbleRadio, BumbleScanner, virtual_radio
from tests.devices.bumble_peripherals import (
    APPLICATION_ERROR,
    BOTH_CHAR,
    BPM_CHAR,
    FAILING_CHAR,
    MANUFACTURER_ID,
    NOTE_DESCRIPTOR,
    NOTIFY_CHAR,
    RW_CHAR,
    SECRET_CHAR,
    STALLING_CHAR,
    TEST_SERVICE,
    FixedPasskeyDisplay,
    GattPeripheral,
    Inbox,
    PasskeyKeyboard,
    Subscription,
    bond_of,
)

BPS = normalize_uuid_str("1810")
CCCD = normalize_uuid_str("2902")
INSUFFICIENT_ENCRYPTION = BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION
SCAN_SECONDS = 0.1
TIMEOUT = 2.0


@pytest.fixture
async def radio() -> AsyncIterator[BumbleRadio]:
    async with virtual_radio() as radio:
        yield radio


@pytest.fixture
async def cuff(radio: BumbleRadio) -> GattPeripheral:
    peripheral = GattPeripheral("Linli Test Cuff", "F0:00:00:00:00:01")
    await peripheral.start(radio)
    return peripheral


@pytest.fixture
async def found(radio: BumbleRadio, cuff: GattPeripheral) -> BLEDevice:
    device = await BleakScanner.find_device_by_name(
        cuff.name, timeout=TIMEOUT, **radio.scanner_options
    )
    assert device is not None
    return device


@pytest.fixture
async def client(radio: BumbleRadio, found: BLEDevice) -> AsyncIterator[BleakClient]:
    async with BleakClient(found, timeout=TIMEOUT, **radio.client_options) as client:
        yield client


class TestScanner:
    async def test_discovers_every_advertiser_with_its_advertisement(
        self, radio: BumbleRadio, cuff: GattPeripheral
    ) -> None:
        scale = GattPeripheral("Linli Test Scale", "F0:00:00:00:00:02", tx_power=4)
        await scale.start(radio)

        found = await BleakScanner.discover(
            timeout=SCAN_SECONDS, return_adv=True, **radio.scanner_options
        )

        assert set(found) == {cuff.address, scale.address}
        device, adv = found[cuff.address]
        assert device.name == adv.local_name == "Linli Test Cuff"
        assert adv.service_uuids == [BPS]
        assert adv.service_data == {BPS: b"\x01\x02"}
        assert adv.manufacturer_data == {MANUFACTURER_ID: b"linli"}
        assert adv.tx_power == -8  # a signed byte on the air
        assert isinstance(adv.rssi, int)
        assert device.details == Address(cuff.address)
        assert found[scale.address][1].tx_power == 4

    async def test_service_filter_keeps_only_matching_advertisers(
        self, radio: BumbleRadio, cuff: GattPeripheral
    ) -> None:
        other = GattPeripheral("Linli Other", "F0:00:00:00:00:03", advertised_service=None)
        await other.start(radio)

        everything = await BleakScanner.discover(timeout=SCAN_SECONDS, **radio.scanner_options)
        # bleak compares filter entries as given: they must be 128-bit, as on BlueZ.
        filtered = await BleakScanner.discover(
            timeout=SCAN_SECONDS, service_uuids=[BPS], **radio.scanner_options
        )

        assert {d.address for d in everything} == {cuff.address, other.address}
        assert [d.address for d in filtered] == [cuff.address]

    async def test_detection_callback_sees_advertisements_while_scanning(
        self, radio: BumbleRadio, cuff: GattPeripheral
    ) -> None:
        seen: list[str] = []
        scanner = BleakScanner(
            lambda device, _adv: seen.append(device.address),
            [BPS],
            backend=BumbleScanner,
            bumble_central=radio.central,
        )
        async with scanner:
            await asyncio.sleep(SCAN_SECONDS)
        count = len(seen)
        await asyncio.sleep(SCAN_SECONDS)

        assert count >= 2
        assert set(seen) == {cuff.address}
        assert len(seen) == count, "no detections after stop"
        assert not radio.central.is_scanning


class TestConnect:
    async def test_service_collection(self, client: BleakClient) -> None:
        services = client.services
        assert client.is_connected
        assert client.backend_id == "BumbleClient"
        assert client.name == "Linli Test Cuff"
        assert {BPS, TEST_SERVICE} <= {s.uuid for s in services}
        bpm = services.get_characteristic(BPM_CHAR)
        assert bpm is not None
        assert bpm.service_uuid == BPS
        assert bpm.properties == ["indicate"]
        assert [d.uuid for d in bpm.descriptors] == [CCCD]
        rw = services.get_characteristic(RW_CHAR)
        assert rw is not None
        assert sorted(rw.properties) == ["read", "write", "write-without-response"]
        assert [d.uuid for d in rw.descriptors] == [NOTE_DESCRIPTOR]
        assert client.mtu_size > 23  # exchanged on connect, as BlueZ does
        assert rw.max_write_without_response_size == client.mtu_size - 3

    async def test_services_argument_limits_discovery(
        self, radio: BumbleRadio, found: BLEDevice
    ) -> None:
        options = radio.client_options
        async with BleakClient(found, services=["1810"], timeout=TIMEOUT, **options) as client:
            assert [s.uuid for s in client.services] == [BPS]

    async def test_connects_by_address_string(
        self, radio: BumbleRadio, cuff: GattPeripheral
    ) -> None:
        async with BleakClient(cuff.address, timeout=TIMEOUT, **radio.client_options) as client:
            assert await client.read_gatt_char(RW_CHAR) == bytearray(b"\x00")

    async def test_unknown_address_is_not_found(self, radio: BumbleRadio) -> None:
        client = BleakClient("F0:00:00:00:00:99", timeout=SCAN_SECONDS, **radio.client_options)
        with pytest.raises(BleakDeviceNotFoundError):
            await client.connect()

    async def test_silent_peripheral_times_out_then_connects_when_back(
        self, radio: BumbleRadio, cuff: GattPeripheral, found: BLEDevice
    ) -> None:
        await cuff.stop_advertising()
        client = BleakClient(found, timeout=0.3, **radio.client_options)

        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.connect()
        elapsed = time.monotonic() - started

        assert 0.3 <= elapsed < 0.6
        assert not client.is_connected
        # The abandoned attempt must not block the next one nor connect behind our back.
        assert not radio.central.connections
        await cuff.advertise()
        await client.connect()
        assert client.is_connected
        await client.disconnect()

    async def test_two_devices_connect_at_the_same_time(
        self, radio: BumbleRadio, cuff: GattPeripheral
    ) -> None:
        meter = GattPeripheral("Linli Test Meter", "F0:00:00:00:00:05")
        await meter.start(radio)
        clients = [
            BleakClient(p.address, timeout=TIMEOUT, **radio.client_options) for p in (cuff, meter)
        ]

        await asyncio.gather(*(c.connect() for c in clients))

        assert [c.is_connected for c in clients] == [True, True]
        assert len(cuff.connections) == len(meter.connections) == 1
        await asyncio.gather(*(c.disconnect() for c in clients))

    async def test_scanner_keeps_scanning_while_a_client_looks_up_an_address(
        self, radio: BumbleRadio, cuff: GattPeripheral
    ) -> None:
        seen: list[str] = []
        async with BleakScanner(lambda d, _adv: seen.append(d.address), **radio.scanner_options):
            async with BleakClient(cuff.address, timeout=TIMEOUT, **radio.client_options):
                pass
            seen.clear()
            await asyncio.sleep(SCAN_SECONDS)
            assert seen, "the client's lookup must not stop the running scan"
        assert not radio.central.is_scanning

    async def test_backend_without_central_is_refused(self, found: BLEDevice) -> None:
        with pytest.raises(BleakError, match="bumble_central"):
            BleakClient(found, backend=BumbleClient)


class TestReadWrite:
    async def test_write_with_response_then_read_back(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        await client.write_gatt_char(RW_CHAR, b"\x2a\x01", response=True)

        assert cuff.writes == [b"\x2a\x01"]
        assert await client.read_gatt_char(RW_CHAR) == bytearray(b"\x2a\x01")
        assert await client.read_gatt_char(RW_CHAR, use_cached=True) == bytearray(b"\x2a\x01")

    async def test_write_without_response_reaches_the_peripheral(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        await client.write_gatt_char(RW_CHAR, b"\x07", response=False)
        await cuff.wait_for("written")

        assert cuff.writes == [b"\x07"]

    async def test_write_command_errors_go_unseen_write_request_errors_surface(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        # A Write Command has no response: the refusal cannot reach the central.
        await client.write_gatt_char(FAILING_CHAR, b"\x01", response=False)
        await cuff.wait_for("failing-written")

        with pytest.raises(BleakGATTProtocolError) as raised:
            await client.write_gatt_char(FAILING_CHAR, b"\x02", response=True)
        assert raised.value.code == APPLICATION_ERROR
        assert cuff.failing_writes == [b"\x01", b"\x02"]

    async def test_read_error_keeps_its_att_code(self, client: BleakClient) -> None:
        with pytest.raises(BleakGATTProtocolError) as raised:
            await client.read_gatt_char(FAILING_CHAR)
        assert raised.value.code == BleakGATTProtocolErrorCode(APPLICATION_ERROR)

    async def test_descriptor_write_then_read(self, client: BleakClient) -> None:
        rw = client.services.get_characteristic(RW_CHAR)
        assert rw is not None
        note = rw.get_descriptor(NOTE_DESCRIPTOR)
        assert note is not None
        assert await client.read_gatt_descriptor(note) == bytearray(b"note")

        await client.write_gatt_descriptor(note, b"memo")

        assert await client.read_gatt_descriptor(note) == bytearray(b"memo")


class TestNotifications:
    async def test_notifications_arrive_in_order_as_bytearray(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        inbox = Inbox()
        await client.start_notify(NOTIFY_CHAR, inbox)
        assert cuff.subscriptions[NOTIFY_CHAR] == Subscription(notify=True, indicate=False)

        await cuff.notify(NOTIFY_CHAR, b"\x01", b"\x02\x02", b"\x03")
        received = await inbox.take(3)

        assert received == [bytearray(b"\x01"), bytearray(b"\x02\x02"), bytearray(b"\x03")]
        assert all(type(value) is bytearray for value in received)

    async def test_indicate_only_characteristic_gets_indications(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        inbox = Inbox()
        await client.start_notify(BPM_CHAR, inbox)
        assert cuff.subscriptions[BPM_CHAR] == Subscription(notify=False, indicate=True)

        # indicate() returns only once the central confirmed each value.
        await cuff.indicate(BPM_CHAR, b"\x16\x80\x00", b"\x16\x81\x00")

        assert await inbox.take(2) == [bytearray(b"\x16\x80\x00"), bytearray(b"\x16\x81\x00")]

    async def test_notify_is_preferred_when_both_are_offered(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        await client.start_notify(BOTH_CHAR, Inbox())

        assert cuff.subscriptions[BOTH_CHAR] == Subscription(notify=True, indicate=False)

    async def test_stop_notify_clears_the_cccd_and_stops_delivery(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        inbox = Inbox()
        await client.start_notify(NOTIFY_CHAR, inbox)
        await cuff.notify(NOTIFY_CHAR, b"\x01")
        assert await inbox.take(1) == [bytearray(b"\x01")]

        await client.stop_notify(NOTIFY_CHAR)
        await cuff.notify(NOTIFY_CHAR, b"\x02")
        await asyncio.sleep(0.02)

        assert cuff.subscriptions[NOTIFY_CHAR] == Subscription(notify=False, indicate=False)
        assert inbox.queue.empty()


class TestDisconnect:
    async def test_peripheral_disconnect_calls_the_callback_once(
        self, radio: BumbleRadio, cuff: GattPeripheral, found: BLEDevice
    ) -> None:
        calls: list[BleakClient] = []
        gone = asyncio.Event()

        def on_disconnect(client: BleakClient) -> None:
            calls.append(client)
            gone.set()

        client = BleakClient(found, on_disconnect, timeout=TIMEOUT, **radio.client_options)
        await client.connect()

        [link] = cuff.connections
        await link.disconnect()
        await asyncio.wait_for(gone.wait(), TIMEOUT)
        await client.disconnect()
        await asyncio.sleep(0.01)

        assert calls == [client]
        assert not client.is_connected
        with pytest.raises(BleakError):
            _ = client.services

    async def test_our_own_disconnect_does_not_call_the_callback(
        self, radio: BumbleRadio, cuff: GattPeripheral, found: BLEDevice
    ) -> None:
        calls: list[BleakClient] = []
        async with BleakClient(found, calls.append, timeout=TIMEOUT, **radio.client_options):
            assert len(cuff.connections) == 1
        await asyncio.sleep(0.01)

        assert calls == []
        assert cuff.connections == []

    async def test_link_lost_during_a_read_is_a_bleak_error(
        self, client: BleakClient, cuff: GattPeripheral
    ) -> None:
        read = asyncio.create_task(client.read_gatt_char(STALLING_CHAR))
        await cuff.wait_for("stalled")

        [link] = cuff.connections
        await link.disconnect()

        # Not CancelledError: the caller's task was not cancelled, the link went away.
        with pytest.raises(BleakError):
            await asyncio.wait_for(read, TIMEOUT)
        assert not client.is_connected


class TestPairing:
    async def test_encrypted_characteristic_needs_pairing(
        self, radio: BumbleRadio, cuff: GattPeripheral, client: BleakClient
    ) -> None:
        with pytest.raises(BleakGATTProtocolError) as raised:
            await client.read_gatt_char(SECRET_CHAR)
        assert raised.value.code == INSUFFICIENT_ENCRYPTION

        await client.pair()

        assert await client.read_gatt_char(SECRET_CHAR) == bytearray(b"s3cret")
        [link] = cuff.connections
        assert link.is_encrypted
        keys = await bond_of(radio.central, cuff.address)
        assert keys is not None
        assert keys.ltk is not None
        assert not keys.ltk.authenticated  # Just Works

    async def test_pair_on_connect(
        self, radio: BumbleRadio, cuff: GattPeripheral, found: BLEDevice
    ) -> None:
        async with BleakClient(found, pair=True, timeout=TIMEOUT, **radio.client_options) as c:
            assert await c.read_gatt_char(SECRET_CHAR) == bytearray(b"s3cret")

    async def test_reconnect_with_bond_encrypts_without_pairing_again(
        self, radio: BumbleRadio, cuff: GattPeripheral, found: BLEDevice
    ) -> None:
        async with BleakClient(found, timeout=TIMEOUT, **radio.client_options) as client:
            await client.pair()
        pairings: list[object] = []

        async with BleakClient(found, timeout=TIMEOUT, **radio.client_options) as client:
            [link] = cuff.connections
            link.on(link.EVENT_PAIRING, pairings.append)
            assert link.is_encrypted
            assert await client.read_gatt_char(SECRET_CHAR) == bytearray(b"s3cret")
            await client.pair()  # already bonded and encrypted: nothing to do
        assert pairings == []

    async def test_peripheral_that_lost_the_bond_can_be_paired_again(
        self, radio: BumbleRadio, cuff: GattPeripheral, found: BLEDevice
    ) -> None:
        async with BleakClient(found, timeout=TIMEOUT, **radio.client_options) as client:
            await client.pair()
        # The vendor app "took over" the cuff: it no longer knows our key.
        assert cuff.device.keystore is not None
        await cuff.device.keystore.delete_all()

        async with BleakClient(found, timeout=TIMEOUT, **radio.client_options) as client:
            with pytest.raises(BleakGATTProtocolError) as raised:
                await client.read_gatt_char(SECRET_CHAR)
            assert raised.value.code == INSUFFICIENT_ENCRYPTION
            await client.pair()
            assert await client.read_gatt_char(SECRET_CHAR) == bytearray(b"s3cret")

    async def test_unpair_forgets_the_bond(
        self, radio: BumbleRadio, cuff: GattPeripheral, found: BLEDevice
    ) -> None:
        client = BleakClient(found, timeout=TIMEOUT, **radio.client_options)
        await client.connect()
        await client.pair()

        await client.unpair()

        assert not client.is_connected
        assert await bond_of(radio.central, cuff.address) is None
        await client.connect()
        with pytest.raises(BleakGATTProtocolError) as raised:
            await client.read_gatt_char(SECRET_CHAR)
        assert raised.value.code == INSUFFICIENT_ENCRYPTION
        await client.disconnect()

    @pytest.mark.parametrize(("typed", "pairs"), [(123456, True), (654321, False)])
    async def test_passkey_entry(self, typed: int, pairs: bool) -> None:
        async with virtual_radio(pairing_delegate=PasskeyKeyboard(typed)) as radio:
            cuff = GattPeripheral("Linli PIN Cuff", "F0:00:00:00:00:04")
            await cuff.start(radio, passkey_delegate=FixedPasskeyDisplay(123456))
            async with BleakClient(cuff.address, timeout=TIMEOUT, **radio.client_options) as c:
                if not pairs:
                    with pytest.raises(BleakError, match="Pairing"):
                        await c.pair()
                    assert await bond_of(radio.central, cuff.address) is None
                    return
                await c.pair()
                keys = await bond_of(radio.central, cuff.address)
                assert keys is not None
                assert keys.ltk is not None
                assert keys.ltk.authenticated
                assert await c.read_gatt_char(SECRET_CHAR) == bytearray(b"s3cret")
