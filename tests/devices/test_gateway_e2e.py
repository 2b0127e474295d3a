"""The gateway end to end: bleak's public API over bumble-emulated devices, the outbox, and a
running Linli service on the embedded database."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from devices.bumble_backend import virtual_radio
from devices.codecs import ResponseCode
from devices.config import GatewayConfig
from devices.emulation import BloodPressureMonitor, DeviceClock, EmulatedHome, GlucoseMeter
from devices.gateway import BleakOptions, read_devices_once, run_gateway
from devices.outbox import Outbox
from devices.sync import SyncResult
from tests.conftest import LiveServer, free_port
from tests.factories import assign, community, count, new_gateway, resident

FULING = ZoneInfo("Asia/Shanghai")
T = TypeVar("T")


@pytest.fixture
def config(live_server, database_url: str, tmp_path: Path) -> GatewayConfig:
    _, token = new_gateway(database_url, "王家")
    return GatewayConfig(
        service_url=live_server.url, token=token, data_dir=tmp_path / "gw", scan_seconds=0.3
    )


def days_ago(days: float) -> dt.datetime:
    return (dt.datetime.now(FULING) - dt.timedelta(days=days)).replace(tzinfo=None, microsecond=0)


def fuling_now() -> dt.datetime:
    return dt.datetime.now(FULING).replace(tzinfo=None)


def meter_with(records: int, **settings: Any) -> GlucoseMeter:
    settings.setdefault("clock", DeviceClock(fuling_now))  # a meter set to local time
    meter = GlucoseMeter(**settings)
    for number in range(records):
        meter.add_record(
            mg_per_dl=90 + number % 80,
            taken_at=days_ago(30 - number * 0.08),
            meal="fasting" if number % 3 == 0 else None,
        )
    return meter


def in_home(devices: list[Any], work: Callable[[EmulatedHome, BleakOptions], Awaitable[T]]) -> T:
    """Run `work` with the devices advertising on a virtual radio the gateway listens to."""

    async def main() -> T:
        async with EmulatedHome(*devices) as home, virtual_radio(link=home.link) as radio:
            options = BleakOptions(scanner=radio.scanner_options, client=radio.client_options)
            return await work(home, options)

    return asyncio.run(main())


def read_once(config: GatewayConfig, devices: list[Any]) -> list[SyncResult]:
    async def work(home: EmulatedHome, options: BleakOptions) -> list[SyncResult]:
        with Outbox(config.outbox_path) as outbox:
            return await read_devices_once(config, outbox, FULING, options)

    return in_home(devices, work)


def run_once(config: GatewayConfig, devices: list[Any]) -> int:
    async def work(home: EmulatedHome, options: BleakOptions) -> int:
        stats = await run_gateway(
            config, zone=FULING, stop=asyncio.Event(), options=options, rounds=1
        )
        return stats.pending

    return in_home(devices, work)


class TestGlucoseMeter:
    def test_three_hundred_records_become_three_hundred_readings(self, config, db):
        meter = meter_with(300)
        assert run_once(config, [meter]) == 0  # nothing left in the outbox
        assert count(db, "glucose_readings") == 300
        fasting = db.execute("SELECT count(*) FROM glucose_readings WHERE meal = 'fasting'")
        assert fasting.fetchone() == (100,)

    def test_a_second_sync_downloads_only_the_new_records(self, config, db):
        meter = meter_with(20)
        [first] = read_once(config, [meter])
        assert (first.new_readings, first.last_sequence) == (20, 20)
        for _ in range(3):
            meter.add_record(mg_per_dl=101, taken_at=days_ago(0.01))
        [second] = read_once(config, [meter])
        assert (second.new_readings, second.last_sequence, second.error) == (3, 23, None)

    def test_a_meter_that_requires_encryption_is_paired_and_read(self, config, db):
        meter = meter_with(12, require_encryption=True)
        assert run_once(config, [meter]) == 0
        assert count(db, "glucose_readings") == 12

    def test_sequence_numbers_that_wrap_lose_nothing(self, config, db):
        meter = meter_with(4, first_sequence=0xFFFE)  # 65534, 65535, 0, 1
        assert run_once(config, [meter]) == 0
        assert count(db, "glucose_readings") == 4
        meter.add_record(mg_per_dl=120, taken_at=days_ago(0.01))  # sequence 2
        # After the wrap the meter sends 65534 and 65535 again; the gateway knows them.
        [second] = read_once(config, [meter])
        assert (second.new_readings, second.error) == (1, None)
        assert run_once(config, [meter]) == 0
        assert count(db, "glucose_readings") == 5
        with Outbox(config.outbox_path) as outbox:
            cursor = outbox.cursor("GLM-0001")
        assert cursor is not None
        assert cursor.last_sequence == 2

    def test_control_solution_is_never_the_residents_glucose(self, config, db):
        meter = meter_with(2)
        meter.add_record(mg_per_dl=110, taken_at=days_ago(0.5), control_solution=True)
        run_once(config, [meter])
        rows = db.execute("SELECT control_solution, count(*) FROM glucose_readings GROUP BY 1")
        assert dict(rows.fetchall()) == {False: 2, True: 1}

    def test_a_download_cut_short_resumes_without_loss_or_duplicates(self, config, db):
        meter = meter_with(60, record_interval=0.02)

        async def cut(home: EmulatedHome, options: BleakOptions) -> int:
            with Outbox(config.outbox_path) as outbox:
                task = asyncio.create_task(read_devices_once(config, outbox, FULING, options))
                while not meter.procedure_running:  # noqa: ASYNC110 - the meter's own state
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.3)  # about fifteen records on the air
                task.cancel()  # the gateway stops in the middle of the download
                await asyncio.gather(task, return_exceptions=True)
                return outbox.stats().pending

        partial = in_home([meter], cut)
        assert 0 < partial < 60
        assert run_once(config, [meter]) == 0
        assert count(db, "glucose_readings") == 60

    def test_a_fast_clock_is_set_only_after_its_records_are_stored(self, config, db):
        # A meter three hours fast: its stamps need correcting until the gateway sets it.
        fast = DeviceClock(fuling_now, skew=dt.timedelta(hours=3))
        meter = GlucoseMeter(clock=fast, record_interval=0.02)
        taken = [days_ago(2 - n * 0.02) for n in range(60)]
        for when in taken:
            meter.add_record(mg_per_dl=100, taken_at=when + dt.timedelta(hours=3))

        async def cut(home: EmulatedHome, options: BleakOptions) -> int:
            with Outbox(config.outbox_path) as outbox:
                task = asyncio.create_task(read_devices_once(config, outbox, FULING, options))
                while not meter.procedure_running:  # noqa: ASYNC110 - the meter's own state
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.3)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return outbox.stats().pending

        assert 0 < in_home([meter], cut) < 60
        assert fast.skew >= dt.timedelta(hours=3)  # not set while records remain unread
        assert run_once(config, [meter]) == 0
        assert abs(fast.skew) < dt.timedelta(seconds=5)  # set once everything was stored
        rows = db.execute("SELECT measured_at FROM glucose_readings ORDER BY sequence_number")
        stored = [row[0] for row in rows.fetchall()]
        expected = [when.replace(tzinfo=FULING) for when in taken]
        assert len(stored) == 60
        errors = [abs(a - b) for a, b in zip(stored, expected, strict=True)]
        assert max(errors) < dt.timedelta(seconds=5)

    def test_garbled_packets_never_become_readings_nor_stop_the_download(self, config, db):
        meter = meter_with(10)
        meter.garbled = {3, 7}
        [result] = read_once(config, [meter])
        assert (result.new_readings, result.last_sequence, result.error) == (8, 10, None)
        assert run_once(config, [meter]) == 0
        sequences = db.execute("SELECT sequence_number FROM glucose_readings ORDER BY 1")
        assert [row[0] for row in sequences] == [1, 2, 4, 5, 6, 8, 9, 10]

    def test_a_meter_answering_with_an_error_is_retried_next_time(self, config, db):
        meter = meter_with(6)
        meter.failing_reports = ResponseCode.PROCEDURE_NOT_COMPLETED
        [failed] = read_once(config, [meter])
        assert failed.new_readings == 0
        assert failed.error is not None
        assert "PROCEDURE_NOT_COMPLETED" in failed.error
        meter.failing_reports = None
        assert run_once(config, [meter]) == 0
        assert count(db, "glucose_readings") == 6


class TestBloodPressureMonitor:
    def test_a_two_user_monitor_fills_two_residents(self, config, db, database_url):
        monitor = BloodPressureMonitor(users=(1, 2), serial="BPM-2U")
        for day in range(3):
            monitor.add_reading(132 + day, 84, pulse=70, user_id=1, taken_at=days_ago(3 - day))
            monitor.add_reading(151 + day, 92, pulse=66, user_id=2, taken_at=days_ago(3 - day))
        assert run_once(config, [monitor]) == 0
        place = community(db)
        husband, wife = resident(db, place, "张国强"), resident(db, place, "李桂兰")
        assign(database_url, "BPM-2U", husband, user_index=1)
        assign(database_url, "BPM-2U", wife, user_index=2)
        rows = db.execute(
            "SELECT resident_id, count(*), min(systolic) FROM blood_pressure_readings GROUP BY 1"
        )
        assert sorted(rows.fetchall()) == sorted([(husband, 3, 132.0), (wife, 3, 151.0)])

    def test_monitor_and_meter_of_one_home_in_one_round(self, config, db):
        monitor = BloodPressureMonitor(serial="BPM-1")
        monitor.add_reading(128, 82, pulse=72, taken_at=days_ago(1))
        assert run_once(config, [monitor, meter_with(5)]) == 0
        assert count(db, "blood_pressure_readings") == 1
        assert count(db, "glucose_readings") == 5
        device = db.execute("SELECT battery_percent, clock_offset_seconds FROM devices")
        assert all(row[0] is not None for row in device.fetchall())


def test_service_unreachable_at_first_gets_everything_later(database_url, settings, tmp_path, db):
    _, token = new_gateway(database_url, "offline home")
    port = free_port()
    config = GatewayConfig(
        service_url=f"http://127.0.0.1:{port}",
        token=token,
        data_dir=tmp_path / "gw",
        scan_seconds=0.3,
    )
    meter = meter_with(25)
    assert run_once(config, [meter]) == 25  # read, kept in the outbox, nothing delivered
    assert count(db, "glucose_readings") == 0
    with LiveServer(settings, port):
        assert run_once(config, [meter]) == 0
    assert count(db, "glucose_readings") == 25
