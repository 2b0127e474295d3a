"""Emulated homes for `linli collect --emulate N` and `linli ble scan --emulate N`: each home
has a blood-pressure monitor and a glucose meter with a few days of readings stored."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from devices.emulation.base import EmulatedDevice
from devices.emulation.bp_monitor import BloodPressureMonitor
from devices.emulation.clock import DeviceClock
from devices.emulation.glucose_meter import GlucoseMeter


def emulated_homes(
    count: int, zone: ZoneInfo, *, days: int = 7, seed: int = 1, record_interval: float = 0.0
) -> list[EmulatedDevice]:
    """The devices of `count` homes, with clocks on `zone` and `days` of readings each.

    `record_interval` (s) paces the meters' record notifications, as slow meters do.
    """
    rng = random.Random(seed)

    def local_now() -> dt.datetime:
        return dt.datetime.now(zone).replace(tzinfo=None)

    devices: list[EmulatedDevice] = []
    for home in range(1, count + 1):
        monitor = BloodPressureMonitor(
            f"BP Monitor {home}", serial=f"EMU-BP-{home:03d}", clock=DeviceClock(local_now)
        )
        meter = GlucoseMeter(
            f"Glucose Meter {home}",
            serial=f"EMU-GL-{home:03d}",
            clock=DeviceClock(local_now),
            record_interval=record_interval,
        )
        for day in range(days, 0, -1):
            morning = local_now().replace(
                hour=7, minute=rng.randint(0, 50), second=0, microsecond=0
            )
            taken = morning - dt.timedelta(days=day)
            monitor.add_reading(
                rng.randint(118, 168),
                rng.randint(72, 98),
                pulse=rng.randint(58, 92),
                taken_at=taken,
            )
            meter.add_record(
                mmol_per_l=round(rng.uniform(5.2, 9.5), 1),
                taken_at=taken + dt.timedelta(minutes=10),
                meal="fasting",
            )
        devices += [monitor, meter]
    return devices
