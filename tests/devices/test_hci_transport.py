"""The gateway's central on a controller reached over HCI on TCP, as a gateway in another
process reaches an emulated home (and a real one a USB dongle): bleak's public API on one
side, an emulated home serving `tcp-server` on the other, both in this test's loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from bleak import BleakClient, BleakScanner
from bleak.uuids import normalize_uuid_str
from bumble import hci

from devices.bumble_backend.transport import (
    BadTransportSpec,
    HciTransportError,
    TransportRadio,
    check_transport_spec,
    transport_radio,
)
from devices.config import GatewayConfig
from devices.emulation import EmulatedHome, GlucoseMeter
from devices.emulation.hci_server import BadServerSpec, HciServer, ServerSpec, parse_server_spec
from devices.gateway import BleakOptions, read_devices_once
from devices.outbox import Outbox

FULING = ZoneInfo("Asia/Shanghai")
GLUCOSE_SERVICE = normalize_uuid_str("1808")
MANUFACTURER = normalize_uuid_str("2A29")
GLUCOSE_FEATURE = normalize_uuid_str("2A51")
TIMEOUT = 5.0
SCAN_SECONDS = 0.3


@pytest.fixture
def meter() -> GlucoseMeter:
    meter = GlucoseMeter()
    for number in range(20):
        meter.add_record(mg_per_dl=90 + number)
    return meter


@pytest.fixture
async def served(meter: GlucoseMeter) -> AsyncIterator[HciServer]:
    """The meter's home, with a controller on its radio served on a free local port."""
    async with EmulatedHome(meter) as home:
        yield await home.serve_hci("tcp-server:127.0.0.1:0")


async def find_meter(radio: TransportRadio) -> BleakClient:
    device = await BleakScanner.find_device_by_filter(
        lambda _d, adv: GLUCOSE_SERVICE in adv.service_uuids,
        timeout=TIMEOUT,
        **radio.scanner_options,
    )
    assert device is not None, "the meter is not heard through the served controller"
    return BleakClient(device, timeout=TIMEOUT, **radio.client_options)


async def eventually(condition: Callable[[], bool], seconds: float = TIMEOUT) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - emulated devices' own state, no events
            await asyncio.sleep(0.01)


async def test_a_central_over_tcp_reads_a_meter_served_over_hci(served: HciServer):
    async with transport_radio(served.client_spec) as radio, await find_meter(radio) as client:
        assert bytes(await client.read_gatt_char(MANUFACTURER)) == b"Linli Emulated"


async def test_the_gateway_downloads_a_meter_through_the_served_controller(
    served: HciServer, tmp_path: Path
):
    config = GatewayConfig(
        service_url="http://127.0.0.1:9", token="lgw_x", data_dir=tmp_path, scan_seconds=0.5
    )
    async with transport_radio(served.client_spec) as radio:
        options = BleakOptions(scanner=radio.scanner_options, client=radio.client_options)
        with Outbox(config.outbox_path) as outbox:
            [result] = await read_devices_once(config, outbox, FULING, options)
            assert (result.new_readings, result.last_sequence, result.error) == (20, 20, None)
            assert outbox.stats().pending == 20


async def test_a_bond_made_through_a_dongle_with_a_public_address_is_used_again(
    meter: GlucoseMeter,
):
    meter.require_encryption = True
    async with EmulatedHome(meter) as home:
        dongle = HciServer(home.link, public_address="00:1A:7D:DA:71:13")
        try:
            await dongle.start("tcp-server:127.0.0.1:0")
            async with transport_radio(dongle.client_spec) as radio:
                async with await find_meter(radio) as client:
                    await client.pair()
                # The meter keeps the bond under the address the gateway dials from, not
                # under the dongle's public address, so the next visit re-encrypts with it.
                assert [a for a, _ in await meter.device.keystore.get_all()] == [
                    "C0:00:00:00:00:01"
                ]
                async with await find_meter(radio) as client:
                    # Refused with Insufficient Encryption unless the bond re-encrypted the link.
                    assert len(await client.read_gatt_char(GLUCOSE_FEATURE)) == 2
        finally:
            await dongle.close()


async def _dies_connected(radio: TransportRadio, served: HciServer) -> None:
    await (await find_meter(radio)).connect()
    assert len(served.controller.le_connections) == 1


async def _dies_scanning(radio: TransportRadio, served: HciServer) -> None:
    await BleakScanner(**radio.scanner_options).start()
    assert served.controller.le_scan_enable


async def _dies_connecting(radio: TransportRadio, served: HciServer) -> None:
    # An attempt towards a device that never advertises stays pending in the controller.
    await radio.central.send_async_command(
        hci.HCI_LE_Create_Connection_Command(
            le_scan_interval=16,
            le_scan_window=16,
            initiator_filter_policy=0,
            peer_address_type=hci.Address.RANDOM_DEVICE_ADDRESS,
            peer_address=hci.Address("F0:00:00:00:00:99"),
            own_address_type=hci.OwnAddressType.RANDOM,
            connection_interval_min=24,
            connection_interval_max=40,
            max_latency=0,
            supervision_timeout=42,
            min_ce_length=0,
            max_ce_length=0,
        )
    )
    assert served.controller.pending_le_connection is not None


@pytest.mark.parametrize(
    "dying", [_dies_connected, _dies_scanning, _dies_connecting], ids=lambda f: f.__name__[1:]
)
async def test_a_central_that_vanishes_leaves_the_meter_to_the_next(
    served: HciServer, meter: GlucoseMeter, dying
):
    async with transport_radio(served.client_spec) as first:
        await dying(first, served)
        # Gone without a word to the controller: no disconnection, no scan stop, no cancel.
        await first.transport.close()
        await eventually(lambda: not served.host_connected)
    if dying is _dies_connected:
        assert len(meter.connections) == 1  # the controller keeps the link, as a dongle does

    async with transport_radio(served.client_spec) as second:
        # Powering on began with HCI Reset: the controller forgot what the first central did.
        controller = served.controller
        assert (controller.le_connections, controller.le_scan_enable) == ({}, False)
        assert controller.pending_le_connection is None
        await eventually(lambda: not meter.connections)  # the meter heard the link drop
        async with await find_meter(second) as client:
            assert bytes(await client.read_gatt_char(MANUFACTURER)) == b"Linli Emulated"
        assert served.host_connected


async def test_half_a_packet_from_a_dead_host_does_not_garble_the_next(served: HciServer):
    where = served.client_spec.removeprefix("tcp-client:").rsplit(":", 1)
    _, dying = await asyncio.open_connection(where[0], int(where[1]))
    await eventually(lambda: served.host_connected)
    dying.write(bytes(hci.HCI_Reset_Command())[:2])
    dying.close()  # the bytes arrive before the end of the connection
    await eventually(lambda: not served.host_connected)
    async with (
        transport_radio(served.client_spec, power_on_seconds=TIMEOUT) as radio,
        await find_meter(radio) as client,
    ):
        assert client.is_connected


async def test_a_newer_host_takes_the_controller_over(served: HciServer):
    where = served.client_spec.removeprefix("tcp-client:").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(where[0], int(where[1]))
    await eventually(lambda: served.host_connected)
    async with transport_radio(served.client_spec) as radio:
        assert await reader.read() == b""  # the older host was let go
        writer.close()
        async with await find_meter(radio) as client:
            assert client.is_connected


async def test_a_lost_transport_ends_the_work_with_one_clear_error(served: HciServer):
    async with transport_radio(served.client_spec) as radio:
        work = asyncio.sleep(60)
        await served.close()
        with pytest.raises(HciTransportError, match="lost the HCI transport"):
            async with asyncio.timeout(TIMEOUT):
                await radio.run_until_lost(work)


async def test_nobody_listening_is_a_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nobody listens on it
    with pytest.raises(HciTransportError, match="cannot open HCI transport"):
        async with transport_radio(f"tcp-client:127.0.0.1:{port}"):
            pass


async def test_a_listener_that_is_no_controller_is_a_transport_error():
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(HciTransportError, match="no controller answered"):
            async with transport_radio(f"tcp-client:127.0.0.1:{port}", power_on_seconds=0.5):
                pass


@pytest.mark.parametrize(
    "spec", ["tcp-client:127.0.0.1:9000", "usb:0", "usb:[driver=rtk]0", "hci-socket", "vhci:"]
)
def test_transport_specs_bumble_reads(spec):
    assert check_transport_spec(spec) == spec


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("bluetooth", "unknown HCI transport"),
        ("tcp:127.0.0.1:9000", "unknown HCI transport"),
        ("tcp-client:127.0.0.1", "bad HCI transport"),
        ("tcp-client:127.0.0.1:port", "bad HCI transport"),
        ("tcp-client:127.0.0.1:70000", "port is 1 to 65535"),
        ("usb", "bad HCI transport"),
    ],
)
def test_transport_specs_bumble_refuses(spec, words):
    with pytest.raises(BadTransportSpec, match=words):
        check_transport_spec(spec)


def test_server_specs():
    assert parse_server_spec("tcp-server:127.0.0.1:9000") == ServerSpec("127.0.0.1", 9000)
    assert parse_server_spec("tcp-server:_:0") == ServerSpec("_", 0)
    for bad in ["tcp-client:127.0.0.1:9000", "tcp-server:9000", "tcp-server:h:99999", "usb:0"]:
        with pytest.raises(BadServerSpec):
            parse_server_spec(bad)
