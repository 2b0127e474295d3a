"""Deterministic readings for the ingest benchmark: gateway JSON bodies, and the same as rows."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from service.ingest.schemas import SENSOR_STATUS_BITS, ReadingKind
from service.units import MG_PER_DL_PER_MMOL_PER_L, MMHG_PER_KPA, to_mmhg, to_mmol_per_l

# Residents' clocks: China Standard Time, as the gateways would send it.
CST = timezone(timedelta(hours=8))
DEVICES_PER_HOME = 2
# A fixed past start keeps the run deterministic and no reading in the future.
START = datetime(2025, 1, 1, tzinfo=UTC)
_BP_MODELS = (("HEM-7361T", "OMRON"), ("BP3MW1-4YE", "Yuwell"), ("U80K", "Yuwell"))
_GLUCOSE_MODELS = (("iCARE-i3", "Sinocare"), ("Accu-Chek Instant", "Roche"))
_MEALS = ("fasting", "postprandial", "casual", "bedtime")
_MEAL_MMOL = {"fasting": (6.8, 1.4), "postprandial": (9.6, 2.2), "casual": (8.2, 2.0)}


@dataclass(frozen=True)
class BenchDevice:
    """One home device: what the gateway reports about it, and how it sends values."""

    home: int  # the home, and so the gateway, the device belongs to
    serial: str
    kind: ReadingKind
    model: str
    manufacturer: str
    battery_percent: int
    unit: str
    users: tuple[int, ...]
    reports_status: bool

    def report(self) -> dict[str, Any]:
        """The device as it appears in the body's "devices" list."""
        return {
            "serial": self.serial,
            "kind": self.kind,
            "model": self.model,
            "manufacturer": self.manufacturer,
            "battery_percent": self.battery_percent,
        }


@dataclass(frozen=True)
class Sample:
    """One reading: its key, and the kind's fields exactly as the gateway sends them."""

    device: BenchDevice
    user_index: int
    sequence_number: int
    measured_at: datetime
    fields: dict[str, Any]

    def item(self) -> dict[str, Any]:
        """The reading as one item of the body's "readings" list."""
        return {
            "kind": self.device.kind,
            "device_serial": self.device.serial,
            "user_index": self.user_index,
            "sequence_number": self.sequence_number,
            "measured_at": self.measured_at.astimezone(CST).isoformat(),
            **self.fields,
        }


def make_devices(count: int, rng: random.Random) -> list[BenchDevice]:
    """`count` devices: three blood-pressure monitors for two glucose meters."""
    devices = []
    for number in range(count):
        if number % 5 < 3:
            model, maker = rng.choice(_BP_MODELS)
            kind: ReadingKind = "blood_pressure"
            unit = "kPa" if rng.random() < 0.1 else "mmHg"
            users: tuple[int, ...] = (1, 2) if rng.random() < 0.3 else (255,)
        else:
            model, maker = rng.choice(_GLUCOSE_MODELS)
            kind, unit, users = "glucose", rng.choice(("mmol/L", "mg/dL", "kg/L")), (255,)
        devices.append(
            BenchDevice(
                home=number // DEVICES_PER_HOME,
                serial=f"BENCH{number:05d}",
                kind=kind,
                model=model,
                manufacturer=maker,
                battery_percent=rng.randint(20, 100),
                unit=unit,
                users=users,
                reports_status=rng.random() < 0.7,
            )
        )
    return devices


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _blood_pressure_fields(device: BenchDevice, rng: random.Random) -> dict[str, Any]:
    systolic = round(_clamp(rng.gauss(142, 16), 95, 210))
    diastolic = round(_clamp(rng.gauss(84, 10), 55, systolic - 20))
    mean = diastolic + (systolic - diastolic) / 3

    def sent(mmhg: float) -> float:
        return round(mmhg / MMHG_PER_KPA, 1) if device.unit == "kPa" else float(round(mmhg))

    fields: dict[str, Any] = {
        "unit": device.unit,
        "systolic": sent(systolic),
        "diastolic": sent(diastolic),
        "mean_arterial": sent(mean),
        "pulse": float(round(_clamp(rng.gauss(74, 11), 45, 130))),
    }
    if device.reports_status:
        fields["status"] = {
            "body_movement": rng.random() < 0.03,
            "cuff_loose": rng.random() < 0.02,
            "irregular_pulse": rng.random() < 0.06,
            "pulse_range": "within",
            "improper_position": False,
        }
    return fields


def _glucose_fields(device: BenchDevice, rng: random.Random, meal: str) -> dict[str, Any]:
    mean, spread = _MEAL_MMOL.get(meal, (7.8, 1.8))
    mmol = round(_clamp(rng.gauss(mean, spread), 2.5, 25.0), 1)
    mg_dl = round(mmol * MG_PER_DL_PER_MMOL_PER_L)
    sent = {"mmol/L": mmol, "mg/dL": float(mg_dl), "kg/L": round(mg_dl * 1e-5, 7)}[device.unit]
    return {
        "unit": device.unit,
        "concentration": sent,
        "meal": meal,
        "sample_type": "capillary_whole_blood",
        "sample_location": "finger",
        "sensor_status": ["device_battery_low"] if device.battery_percent < 25 else [],
    }


def make_samples(readings: int, devices: list[BenchDevice], seed: int) -> list[Sample]:
    """`readings` readings spread evenly over the devices, about two a day each; home by home,
    oldest first, as homes upload their backlogs."""
    rng = random.Random(seed)
    offsets = [timedelta(minutes=rng.randint(6 * 60, 9 * 60)) for _ in devices]
    samples = []
    for number in range(readings):
        slot, which = divmod(number, len(devices))
        device = devices[which]
        at = START + offsets[which] + timedelta(hours=12 * slot, minutes=rng.randint(0, 90))
        if device.kind == "blood_pressure":
            fields = _blood_pressure_fields(device, rng)
        else:
            fields = _glucose_fields(device, rng, _MEALS[slot % len(_MEALS)])
        user = device.users[slot % len(device.users)]
        samples.append(Sample(device, user, slot + 1, at, fields))
    samples.sort(key=lambda s: (s.device.home, s.measured_at, s.device.serial))
    return samples


def make_devices_and_samples(
    readings: int, device_count: int, seed: int
) -> tuple[list[BenchDevice], list[Sample]]:
    """The benchmark's devices and readings; the same for the same arguments."""
    devices = make_devices(device_count, random.Random(seed))
    return devices, make_samples(readings, devices, seed + 1)


def batches(samples: list[Sample], size: int) -> Iterator[list[Sample]]:
    """Consecutive batches of at most `size` readings, each from one home (one gateway)."""
    for _, of_home in itertools.groupby(samples, key=lambda s: s.device.home):
        readings = list(of_home)
        for start in range(0, len(readings), size):
            yield readings[start : start + size]


def encode_body(batch: list[Sample]) -> bytes:
    """The POST /v1/readings body a gateway sends for this batch, devices included."""
    devices = {s.device.serial: s.device for s in batch}
    return orjson.dumps(
        {"readings": [s.item() for s in batch], "devices": [d.report() for d in devices.values()]}
    )


def copy_row(sample: Sample, device_id: int) -> tuple[Any, ...]:
    """The key and the kind's columns, converted as the service converts them."""
    key = (device_id, sample.user_index, sample.sequence_number, sample.measured_at)
    f = sample.fields
    if sample.device.kind == "blood_pressure":
        status = f.get("status") or {}
        return (
            *key,
            to_mmhg(f["systolic"], f["unit"]),
            to_mmhg(f["diastolic"], f["unit"]),
            to_mmhg(f["mean_arterial"], f["unit"]),
            f["pulse"],
            f["unit"],
            *(status.get(name) for name in ("body_movement", "cuff_loose", "irregular_pulse")),
            status.get("pulse_range"),
            status.get("improper_position"),
            "device",
        )
    bits = sum(1 << SENSOR_STATUS_BITS.index(name) for name in f["sensor_status"])
    return (
        *key,
        to_mmol_per_l(f["concentration"], f["unit"]),
        f["concentration"],
        f["unit"],
        f["meal"],
        f["sample_type"],
        f["sample_location"],
        bits,
        False,
        "device",
    )
