"""The emulated BP monitor and glucose meter, driven by a bumble central on the same radio."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from bumble.att import ATT_Error
from bumble.core import UUID
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy
from bumble.hci import Address

from devices.codecs import (
    BloodPressureMeasurement,
    DateTime,
    GlucoseMeasurement,
    MeasurementStatus,
    decode_blood_pressure_measurement,
    decode_current_time,
    decode_glucose_context,
    decode_glucose_measurement,
    decode_string,
)
from devices.emulation import BloodPressureMonitor, DeviceClock, EmulatedHome, GlucoseMeter

TIMEOUT = 5.0
INSUFFICIENT_ENCRYPTION = 0x0F
WRITE_NOT_PERMITTED = 0x03
READ_NOT_PERMITTED = 0x02
CCCD_IMPROPERLY_CONFIGURED = 0xFD
PROCEDURE_ALREADY_IN_PROGRESS = 0xFE


class Collector:
    """A bumble central connected to one emulated device, with its services discovered."""

    def __init__(self, connection: Connection, peer: Peer) -> None:
        self.connection = connection
        self.peer = peer

    @classmethod
    async def connect(cls, central: Device, address: str) -> Collector:
        connection = await central.connect(Address(address), timeout=TIMEOUT)
        peer = Peer(connection)
        await peer.discover_services()
        for service in peer.services:
            await service.discover_characteristics()
        return cls(connection, peer)

    def characteristic(self, uuid16: int) -> CharacteristicProxy[bytes]:
        [found] = self.peer.get_characteristics_by_uuid(UUID.from_16_bits(uuid16))
        return found

    async def subscribe(self, uuid16: int) -> asyncio.Queue[bytes]:
        received: asyncio.Queue[bytes] = asyncio.Queue()
        await self.peer.subscribe(self.characteristic(uuid16), received.put_nowait)
        return received

    async def read(self, uuid16: int) -> bytes:
        return bytes(await self.peer.read_value(self.characteristic(uuid16)))

    async def write(self, uuid16: int, hex_bytes: str) -> None:
        data = bytes.fromhex(hex_bytes)
        await self.peer.write_value(self.characteristic(uuid16), data, with_response=True)


async def next_packet(queue: asyncio.Queue[bytes]) -> bytes:
    return await asyncio.wait_for(queue.get(), TIMEOUT)


def drain(queue: asyncio.Queue[bytes]) -> list[bytes]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


@asynccontextmanager
async def home_with(*devices: GlucoseMeter | BloodPressureMonitor) -> AsyncIterator[Device]:
    """The devices advertising on one radio, and a powered-on central beside them."""
    async with EmulatedHome(*devices) as home:
        yield await home.central()


class GlucoseSession:
    """A collector subscribed to 0x2A18, 0x2A34 and RACP indications (in that order)."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.measurements: asyncio.Queue[bytes] = asyncio.Queue()
        self.contexts: asyncio.Queue[bytes] = asyncio.Queue()
        self.racp: asyncio.Queue[bytes] = asyncio.Queue()

    @classmethod
    async def open(cls, central: Device, meter: GlucoseMeter) -> GlucoseSession:
        session = cls(await Collector.connect(central, meter.info.address))
        session.measurements = await session.collector.subscribe(0x2A18)
        session.contexts = await session.collector.subscribe(0x2A34)
        session.racp = await session.collector.subscribe(0x2A52)
        return session

    async def request(self, hex_bytes: str) -> bytes:
        """Write a RACP request and wait for the final indication."""
        await self.collector.write(0x2A52, hex_bytes)
        return await next_packet(self.racp)

    def received(self) -> list[GlucoseMeasurement]:
        return [decode_glucose_measurement(p) for p in drain(self.measurements)]


def five_record_meter(**settings: object) -> GlucoseMeter:
    meter = GlucoseMeter(**settings)  # type: ignore[arg-type]
    for minutes, mg in enumerate([95, 140, 103, 180, 110]):
        meter.add_record(
            mg,
            taken_at=dt.datetime(2024, 3, 15, 7, 0) + dt.timedelta(minutes=90 * minutes),
            meal="preprandial" if mg < 150 and minutes % 2 == 0 else None,
        )
    return meter


class TestBloodPressureMonitor:
    async def test_stored_readings_of_two_users_arrive_as_indications_then_it_disconnects(
        self,
    ) -> None:
        monitor = BloodPressureMonitor(users=(1, 2), disconnect_after_sending=True)
        first = monitor.add_reading(
            128,
            82,
            97,
            pulse=72,
            user_id=1,
            taken_at=dt.datetime(2024, 3, 15, 8, 30, 45),
            status=MeasurementStatus(irregular_pulse=True),
        )
        second = monitor.add_reading(
            141, 91, pulse=66, user_id=2, taken_at=dt.datetime(2024, 3, 15, 8, 40)
        )
        async with home_with(monitor) as central:
            collector = await Collector.connect(central, monitor.info.address)
            gone = asyncio.Event()
            collector.connection.on(collector.connection.EVENT_DISCONNECTION, lambda *_: gone.set())
            indications = await collector.subscribe(0x2A35)
            await asyncio.wait_for(gone.wait(), TIMEOUT)

            received = [decode_blood_pressure_measurement(p) for p in drain(indications)]
            assert received == [first, second]
            assert [(m.user_id, m.systolic_mmhg, m.diastolic_mmhg) for m in received] == [
                (1, 128, 82),
                (2, 141, 91),
            ]
            assert received[0].status == MeasurementStatus(irregular_pulse=True)
            assert received[1].mean_arterial_pressure.special == "nan"
            assert monitor.pending == []

            # Delivered readings are not sent again; a new one is.
            third = monitor.add_reading(
                119, 77, 91, user_id=1, taken_at=dt.datetime(2024, 3, 16, 8, 0)
            )
            again = await Collector.connect(central, monitor.info.address)
            indications = await again.subscribe(0x2A35)
            assert decode_blood_pressure_measurement(await next_packet(indications)) == third

    async def test_bpm_is_indicate_only_and_dis_is_read_only(self) -> None:
        monitor = BloodPressureMonitor(manufacturer="Omron Healthcare")
        async with home_with(monitor) as central:
            collector = await Collector.connect(central, monitor.info.address)
            assert decode_string(await collector.read(0x2A29)) == "Omron Healthcare"
            with pytest.raises(ATT_Error) as read_bpm:
                await collector.read(0x2A35)
            assert read_bpm.value.error_code == READ_NOT_PERMITTED
            with pytest.raises(ATT_Error) as write_dis:
                await collector.write(0x2A29, "41")
            assert write_dis.value.error_code == WRITE_NOT_PERMITTED
            assert decode_string(await collector.read(0x2A29)) == "Omron Healthcare"

    async def test_pairing_required_before_indications(self) -> None:
        monitor = BloodPressureMonitor(require_encryption=True)
        reading = monitor.add_reading(120, 80, 93, taken_at=dt.datetime(2024, 3, 15, 9, 0))
        async with home_with(monitor) as central:
            collector = await Collector.connect(central, monitor.info.address)
            with pytest.raises(ATT_Error) as refused:
                await collector.subscribe(0x2A35)
            assert refused.value.error_code == INSUFFICIENT_ENCRYPTION
            assert monitor.pending == [reading]

            await collector.connection.pair()
            indications = await collector.subscribe(0x2A35)
            assert decode_blood_pressure_measurement(await next_packet(indications)) == reading

    async def test_intermediate_cuff_pressure_notifications(self) -> None:
        monitor = BloodPressureMonitor()
        async with home_with(monitor) as central:
            collector = await Collector.connect(central, monitor.info.address)
            cuff = await collector.subscribe(0x2A36)
            await monitor.inflate([60, 85])
            received = [
                decode_blood_pressure_measurement(await next_packet(cuff)) for _ in range(2)
            ]
            assert [m.systolic_mmhg for m in received] == [60, 85]
            assert all(m.diastolic.special == "nan" for m in received)


class TestGlucoseRacp:
    async def test_count_and_report_greater_or_equal_with_contexts(self) -> None:
        meter = five_record_meter()
        async with home_with(meter) as central:
            session = await GlucoseSession.open(central, meter)
            assert await session.request("04 01") == bytes.fromhex("05 00 05 00")

            assert await session.request("01 03 01 03 00") == bytes.fromhex("06 00 01 01")
            received = session.received()
            assert [m.sequence_number for m in received] == [3, 4, 5]
            assert [m.concentration_mg_per_dl for m in received] == [103, 180, 110]
            contexts = [decode_glucose_context(p) for p in drain(session.contexts)]
            assert [(c.sequence_number, c.meal) for c in contexts] == [
                (3, "preprandial"),
                (5, "preprandial"),
            ]
            assert [m.context_follows for m in received] == [True, False, True]

    async def test_no_records_found(self) -> None:
        meter = five_record_meter()
        async with home_with(meter) as central:
            session = await GlucoseSession.open(central, meter)
            assert await session.request("01 03 01 63 00") == bytes.fromhex("06 00 01 06")
            assert session.received() == []

    @pytest.mark.parametrize(
        ("request_hex", "response_hex"),
        [
            ("01 07", "06 00 01 04"),  # reserved operator: operator not supported
            ("01 00", "06 00 01 03"),  # null operator: invalid operator
            ("09 01", "06 00 09 02"),  # unknown op code
            ("01 03 01", "06 00 01 05"),  # operand truncated
            ("01 03 02 E8 07 03 0F 08 00 00", "06 00 01 09"),  # user-facing-time filter
        ],
    )
    async def test_refused_requests(self, request_hex: str, response_hex: str) -> None:
        meter = five_record_meter()
        async with home_with(meter) as central:
            session = await GlucoseSession.open(central, meter)
            assert await session.request(request_hex) == bytes.fromhex(response_hex)
            assert session.received() == []
            assert len(meter.records) == 5

    async def test_first_last_range_and_delete(self) -> None:
        meter = five_record_meter()
        async with home_with(meter) as central:
            session = await GlucoseSession.open(central, meter)
            for request, expected in [
                ("01 05", [1]),
                ("01 06", [5]),
                ("01 04 01 02 00 04 00", [2, 3, 4]),
            ]:
                assert await session.request(request) == bytes.fromhex("06 00 01 01")
                assert [m.sequence_number for m in session.received()] == expected

            assert await session.request("02 02 01 02 00") == bytes.fromhex("06 00 02 01")
            assert await session.request("04 01") == bytes.fromhex("05 00 03 00")
            assert [r.sequence_number for r in meter.records] == [3, 4, 5]

    async def test_abort_stops_a_running_report_and_other_requests_are_refused_meanwhile(
        self,
    ) -> None:
        meter = five_record_meter(record_interval=0.05)
        async with home_with(meter) as central:
            session = await GlucoseSession.open(central, meter)
            await session.collector.write(0x2A52, "01 01")
            await next_packet(session.measurements)  # the first record is on its way

            with pytest.raises(ATT_Error) as busy:
                await session.collector.write(0x2A52, "04 01")
            assert busy.value.error_code == PROCEDURE_ALREADY_IN_PROGRESS

            assert await session.request("03 00") == bytes.fromhex("06 00 03 01")
            await asyncio.sleep(0.2)  # longer than the meter's pace: nothing more may come
            assert len(session.received()) < 4
            assert drain(session.racp) == []  # no "06 00 01 01" for the aborted report
            assert not meter.procedure_running

    async def test_cccds_not_enabled(self) -> None:
        meter = five_record_meter()
        async with home_with(meter) as central:
            collector = await Collector.connect(central, meter.info.address)
            with pytest.raises(ATT_Error) as no_racp_indications:
                await collector.write(0x2A52, "04 01")
            assert no_racp_indications.value.error_code == CCCD_IMPROPERLY_CONFIGURED

            racp = await collector.subscribe(0x2A52)
            with pytest.raises(ATT_Error) as no_measurement_notifications:
                await collector.write(0x2A52, "01 01")
            assert no_measurement_notifications.value.error_code == CCCD_IMPROPERLY_CONFIGURED

            await collector.write(0x2A52, "04 01")  # a count needs no measurement CCCD
            assert await next_packet(racp) == bytes.fromhex("05 00 05 00")


class TestGlucoseQuirks:
    async def test_encryption_required_until_just_works_pairing(self) -> None:
        meter = five_record_meter(require_encryption=True)
        async with home_with(meter) as central:
            collector = await Collector.connect(central, meter.info.address)
            assert decode_string(await collector.read(0x2A25)) == "GLM-0001"  # DIS stays open
            for attempt in (
                collector.subscribe(0x2A18),
                collector.subscribe(0x2A52),
                collector.read(0x2A51),
            ):
                with pytest.raises(ATT_Error) as refused:
                    await attempt
                assert refused.value.error_code == INSUFFICIENT_ENCRYPTION
            with pytest.raises(ATT_Error) as refused_write:
                await collector.write(0x2A52, "04 01")
            assert refused_write.value.error_code == INSUFFICIENT_ENCRYPTION

            await collector.connection.pair()
            assert collector.connection.is_encrypted
            session = GlucoseSession(collector)
            session.measurements = await collector.subscribe(0x2A18)
            session.racp = await collector.subscribe(0x2A52)
            assert await session.request("01 01") == bytes.fromhex("06 00 01 01")
            assert [m.sequence_number for m in session.received()] == [1, 2, 3, 4, 5]

    async def test_sequence_numbers_wrap_past_65535(self) -> None:
        meter = GlucoseMeter(first_sequence=65534)
        for mg in (101, 102, 103, 104):
            meter.add_record(mg, taken_at=dt.datetime(2024, 3, 15, 7, 0))
        async with home_with(meter) as central:
            session = await GlucoseSession.open(central, meter)
            assert await session.request("01 01") == bytes.fromhex("06 00 01 01")
            assert [m.sequence_number for m in session.received()] == [65534, 65535, 0, 1]
            assert await session.request("01 03 01 FF FF") == bytes.fromhex("06 00 01 01")
            assert [m.sequence_number for m in session.received()] == [65535]
            assert meter.next_sequence == 2

    async def test_control_solution_record_is_flagged(self) -> None:
        meter = GlucoseMeter()
        meter.add_record(mmol_per_l=5.6, taken_at=dt.datetime(2024, 3, 15, 7, 0))
        meter.add_record(
            mg_per_dl=120, taken_at=dt.datetime(2024, 3, 15, 7, 5), control_solution=True
        )
        async with home_with(meter) as central:
            session = await GlucoseSession.open(central, meter)
            assert await session.request("01 01") == bytes.fromhex("06 00 01 01")
            blood, control = session.received()
            assert not blood.is_control_solution
            assert blood.concentration_mmol_per_l == 5.6
            assert control.is_control_solution
            assert (control.sample_type, control.sample_location) == (
                "control_solution",
                "control_solution",
            )

    async def test_clock_unset_reset_and_written_through_cts(self) -> None:
        host_now = dt.datetime(2026, 11, 26, 16, 46, 35)
        unset = GlucoseMeter("Unset", clock=DeviceClock.never_set(lambda: host_now))
        unset.add_record(99)
        reset = GlucoseMeter(
            "Reset", clock=DeviceClock.starting_at(dt.datetime(2000, 1, 1), lambda: host_now)
        )
        fixed = GlucoseMeter("Fixed", cts_writable=False)
        async with home_with(unset, reset, fixed) as central:
            on_unset = await Collector.connect(central, unset.info.address)
            current = decode_current_time(await on_unset.read(0x2A2B))
            assert not current.date_time.is_known
            assert unset.records[0].measurement.user_facing_time is None

            await on_unset.write(0x2A2B, "EA 07 0B 1A 10 2E 23 04 00 01")
            current = decode_current_time(await on_unset.read(0x2A2B))
            assert current.date_time == DateTime(2026, 11, 26, 16, 46, 35)

            on_reset = await Collector.connect(central, reset.info.address)
            assert decode_current_time(await on_reset.read(0x2A2B)).date_time.year == 2000

            on_fixed = await Collector.connect(central, fixed.info.address)
            with pytest.raises(ATT_Error) as refused:
                await on_fixed.write(0x2A2B, "EA 07 0B 1A 10 2E 23 04 00 01")
            assert refused.value.error_code == WRITE_NOT_PERMITTED


async def test_devices_advertise_their_name_and_service() -> None:
    monitor, meter = BloodPressureMonitor("BP Cuff"), GlucoseMeter("Sugar Meter")
    async with EmulatedHome(monitor, meter) as home:
        assert [(d.name, d.address, d.kind) for d in home.devices] == [
            ("BP Cuff", "F0:00:00:00:00:01", "blood_pressure"),
            ("Sugar Meter", "F0:00:00:00:00:02", "glucose"),
        ]
        central = await home.central()
        seen: dict[str, tuple[str | None, list[UUID]]] = {}

        def on_advertisement(advertisement: Advertisement) -> None:
            data = advertisement.data
            name = data.get(data.COMPLETE_LOCAL_NAME)
            uuids = data.get(data.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS) or []
            seen[str(advertisement.address)] = (str(name) if name else None, list(uuids))

        central.on(central.EVENT_ADVERTISEMENT, on_advertisement)
        await central.start_scanning()
        for _ in range(100):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
        await central.stop_scanning()
        assert seen[monitor.info.address] == ("BP Cuff", [UUID.from_16_bits(0x1810)])
        assert seen[meter.info.address] == ("Sugar Meter", [UUID.from_16_bits(0x1808)])


def test_readings_for_unknown_users_are_refused() -> None:
    monitor = BloodPressureMonitor(users=(1, 2))
    with pytest.raises(ValueError, match="user 3"):
        monitor.add_reading(120, 80, user_id=3)
    assert isinstance(monitor.add_reading(120, 80, user_id=2), BloodPressureMeasurement)
