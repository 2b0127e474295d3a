"""The demo's live homes: a blood-pressure monitor and a glucose meter (emulated with bumble)
for each home resident, who goes on measuring as the synthetic cohort says they would, on a
clock `speed` times faster than the wall clock. Each reading is stored in the device, where
the gateway finds it on its next round, as it would find a real one.

One home's resident has a hypertensive crisis at the start, so that an alert goes out within
the first minute whatever the cohort planned: the resident whose family was told of a crisis
longest ago (a family is not told of the same rule again within the hour).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from analytics.synthetic import BP, MEALS, Track
from devices.emulation.base import EmulatedDevice
from devices.emulation.bp_monitor import BloodPressureMonitor
from devices.emulation.clock import DeviceClock
from devices.emulation.glucose_meter import GlucoseMeter
from service.demo.seed import Home, cohort_member, period_ending

log = logging.getLogger(__name__)
# A device's readings at least this far apart in wall time: its time stamps have whole
# seconds, and two readings of one monitor with one time stamp are one reading.
MIN_GAP = dt.timedelta(seconds=5)
# Days of each resident's life ahead of the history, played at `speed`.
FUTURE_DAYS = 365
CRISIS = ((204, 122, 96), (198, 118, 94))  # systolic, diastolic, pulse: a crisis, re-measured
CRISIS_AFTER = (dt.timedelta(seconds=3), dt.timedelta(seconds=12))
# The first home's own readings resume after this, so the crisis stays open a while.
CRISIS_QUIET = dt.timedelta(seconds=90)


@dataclass(order=True)
class Measurement:
    """One reading a home resident takes at `at` (wall clock)."""

    at: dt.datetime
    home: int = field(compare=False)
    systolic: float | None = field(default=None, compare=False)
    diastolic: float | None = field(default=None, compare=False)
    pulse: float | None = field(default=None, compare=False)
    glucose: float | None = field(default=None, compare=False)
    meal: str | None = field(default=None, compare=False)


@dataclass
class LiveHome:
    """A home resident's devices."""

    home: Home
    monitor: BloodPressureMonitor
    meter: GlucoseMeter

    @property
    def devices(self) -> list[EmulatedDevice]:
        """Both devices, for the virtual radio."""
        return [self.monitor, self.meter]


def live_homes(
    homes: tuple[Home, ...], zone: ZoneInfo, next_sequence: dict[str, int]
) -> list[LiveHome]:
    """The homes' devices, their clocks right; a meter goes on from its last sequence number."""

    def local_now() -> dt.datetime:
        return dt.datetime.now(zone).replace(tzinfo=None)

    return [
        LiveHome(
            home,
            BloodPressureMonitor(
                f"BP Monitor {number}", serial=home.bp_serial, clock=DeviceClock(local_now)
            ),
            GlucoseMeter(
                f"Glucose Meter {number}",
                serial=home.glucose_serial,
                clock=DeviceClock(local_now),
                first_sequence=next_sequence.get(home.glucose_serial, 1),
            ),
        )
        for number, home in enumerate(homes, start=1)
    ]


def schedule(
    homes: tuple[Home, ...], seed: int, start: dt.datetime, speed: float, crisis: int = 0
) -> Iterator[Measurement]:
    """Every reading the home residents take from `start` on, in wall-clock order: their
    cohort future from now, its time divided by `speed`, with a crisis in home `crisis`."""
    period, passed = period_ending(start, FUTURE_DAYS)
    streams = []
    for number, home in enumerate(homes):
        _profile, track = cohort_member(seed, home.index, period)
        readings = _readings(number, track, passed, start, speed)
        if number == crisis:
            readings = (m for m in readings if m.at >= start + CRISIS_QUIET)
        streams.append(readings)
    if homes:
        planted = [
            Measurement(start + after, crisis, s, d, p)
            for after, (s, d, p) in zip(CRISIS_AFTER, CRISIS, strict=True)
        ]
        streams.append(iter(planted))
    return heapq.merge(*streams)


def _readings(
    number: int, track: Track, passed: int, start: dt.datetime, speed: float
) -> Iterator[Measurement]:
    ahead = np.flatnonzero(track.t >= passed)
    last = {True: start, False: start}
    for i in ahead:
        bp = bool(track.kind[i] == BP)
        at = start + dt.timedelta(seconds=float(track.t[i] - passed) / speed)
        at = max(at, last[bp] + MIN_GAP)
        last[bp] = at
        if bp:
            pulse = None if np.isnan(track.pulse[i]) else round(float(track.pulse[i]))
            yield Measurement(
                at,
                number,
                round(float(track.systolic[i])),
                round(float(track.diastolic[i])),
                pulse,
            )
        else:
            meal = MEALS[int(track.meal[i])] if track.meal[i] >= 0 else None
            yield Measurement(at, number, glucose=round(float(track.glucose[i]), 1), meal=meal)


async def measure(
    homes: list[LiveHome],
    readings: Iterator[Measurement],
    stop: asyncio.Event,
    said: Callable[[str], None],
) -> None:
    """Take each reading at its time, until `stop`."""
    for m in readings:
        wait = (m.at - dt.datetime.now(dt.UTC)).total_seconds()
        if wait > 0:
            try:
                await asyncio.wait_for(stop.wait(), wait)
                return
            except TimeoutError:
                pass
        if stop.is_set():
            return
        home = homes[m.home]
        if m.systolic is not None and m.diastolic is not None:
            home.monitor.add_reading(m.systolic, m.diastolic, pulse=m.pulse)
            said(f"{home.home.name} measures blood pressure {m.systolic:g}/{m.diastolic:g} mmHg")
        elif m.glucose is not None:
            home.meter.add_record(mmol_per_l=m.glucose, meal=m.meal)
            said(f"{home.home.name} measures glucose {m.glucose:g} mmol/L")
