"""Decoded measurements become the readings the gateway uploads (POST /v1/readings items).

Values stay in the unit the device sent; the service converts them. A measurement without a
usable value (systolic NaN, a glucose NaN without a HI/LO flag) is not a reading and is left
out with a log line. A meter's HI/LO result (+/-INF, or the result-too-high/low flag) is a
reading that matters: it is sent at the meter's limit with the flag, so the service sees both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from devices.clock import ClockCheck, reading_time
from devices.codecs import (
    BloodPressureFeature,
    BloodPressureMeasurement,
    GlucoseContext,
    GlucoseMeasurement,
    SFloat,
)
from devices.codecs.date_time import DateTime
from devices.codecs.glucose import SAMPLE_LOCATIONS, SAMPLE_TYPES
from devices.codecs.glucose_context import MEALS

log = logging.getLogger(__name__)

NO_USER = 255
# What meters show as HI and LO, in the units of the Glucose Measurement characteristic.
GLUCOSE_HI = {"kg/L": 600e-5, "mol/L": 33.3e-3}  # 600 mg/dL, 33.3 mmol/L
GLUCOSE_LO = {"kg/L": 20e-5, "mol/L": 1.1e-3}  # 20 mg/dL, 1.1 mmol/L
# The codecs' names are the upload API's names; "reserved" codes are not sent.
_SAMPLE_TYPES = set(SAMPLE_TYPES.values())
_SAMPLE_LOCATIONS = set(SAMPLE_LOCATIONS.values())
_MEALS = set(MEALS.values())
# Measurement Status bit -> the Blood Pressure Feature bit that says the device can detect it.
_STATUS_FEATURES = {
    "body_movement": "body_movement_detection",
    "cuff_loose": "cuff_fit_detection",
    "irregular_pulse": "irregular_pulse_detection",
    "pulse_range": "pulse_rate_range_detection",
    "improper_position": "measurement_position_detection",
}


@dataclass(frozen=True)
class Captured:
    """An upload item, with the device's own name for the record it came from.

    The identity (user, sequence number and the device's own time stamp) stays the same each
    time the device sends the record, whatever correction its time got; the outbox remembers
    it so that a record sent again is not uploaded again. None when the device gave no stamp.
    """

    item: dict[str, Any]
    identity: str | None


def record_identity(user_index: int, sequence: int | None, stamp: datetime | None) -> str | None:
    """How the device itself names a record, or None without its own time stamp."""
    if stamp is None:
        return None
    return f"{user_index}|{-1 if sequence is None else sequence}|{stamp.isoformat()}"


def _device_stamp(stamp: DateTime | None, minutes: int = 0) -> datetime | None:
    local = None if stamp is None else stamp.to_datetime()
    if local is not None and minutes:
        try:
            local = local + timedelta(minutes=minutes)  # GLS user-facing time: base + offset
        except OverflowError:  # a base time at the end of year 9999 and an offset past it
            return None
    return local


@dataclass(frozen=True)
class Timing:
    """What is needed to time a device's readings: its zone, its clock check, the receipt."""

    zone: ZoneInfo
    received_at: datetime
    check: ClockCheck | None


def _number(value: SFloat | None) -> float | None:
    return None if value is None else value.value


def _time(local: datetime | None, timing: Timing) -> dict[str, str]:
    when, source = reading_time(
        local, zone=timing.zone, received_at=timing.received_at, check=timing.check
    )
    return {"measured_at": when.isoformat(), "time_source": str(source)}


def _status(m: BloodPressureMeasurement, feature: BloodPressureFeature | None) -> dict[str, Any]:
    if m.status is None:
        return {}
    status: dict[str, Any] = {}
    for name, feature_bit in _STATUS_FEATURES.items():
        if feature is not None and not getattr(feature, feature_bit):
            continue  # a status bit means something only if the device can detect it
        value = getattr(m.status, name)
        if name == "pulse_range" and value not in ("within", "above", "below"):
            continue
        status[name] = value
    return {"status": status}


def blood_pressure_item(
    m: BloodPressureMeasurement,
    *,
    serial: str,
    timing: Timing,
    feature: BloodPressureFeature | None = None,
) -> Captured | None:
    """The upload item of a Blood Pressure Measurement, or None when it holds no pressures."""
    systolic, diastolic = _number(m.systolic), _number(m.diastolic)
    if systolic is None or diastolic is None:
        log.warning(
            "%s: measurement without pressures (systolic %s, diastolic %s) left out",
            serial,
            m.systolic.special or systolic,
            m.diastolic.special or diastolic,
        )
        return None
    user = NO_USER if m.user_id is None else m.user_id
    stamp = _device_stamp(m.time_stamp)
    item = {
        "kind": "blood_pressure",
        "device_serial": serial,
        "user_index": user,
        **_time(stamp, timing),
        "unit": m.unit,
        "systolic": systolic,
        "diastolic": diastolic,
        "mean_arterial": _number(m.mean_arterial_pressure),
        "pulse": _number(m.pulse_rate),
        **_status(m, feature),
    }
    return Captured(item, record_identity(user, None, stamp))


def _concentration(m: GlucoseMeasurement, flags: set[str]) -> float | None:
    value = m.concentration
    if value is None:
        return None
    if value.value is not None:
        return value.value
    if value.special == "positive_infinity" or "result_too_high" in flags:
        flags.add("result_too_high")
        return GLUCOSE_HI[m.unit]
    if value.special == "negative_infinity" or "result_too_low" in flags:
        flags.add("result_too_low")
        return GLUCOSE_LO[m.unit]
    return None


def glucose_item(
    m: GlucoseMeasurement,
    context: GlucoseContext | None,
    *,
    serial: str,
    timing: Timing,
) -> Captured | None:
    """The upload item of a Glucose Measurement (with its context), or None without a value."""
    flags = set(m.sensor_status.set_names()) if m.sensor_status else set()
    concentration = _concentration(m, flags)
    if concentration is None:
        log.warning("%s: glucose record %d without a value left out", serial, m.sequence_number)
        return None
    sample_type = m.sample_type if m.sample_type in _SAMPLE_TYPES else None
    location = m.sample_location if m.sample_location in _SAMPLE_LOCATIONS else None
    meal = context.meal if context is not None and context.meal in _MEALS else None
    stamp = _device_stamp(m.base_time, m.time_offset or 0)
    item = {
        "kind": "glucose",
        "device_serial": serial,
        "user_index": NO_USER,
        "sequence_number": m.sequence_number,
        **_time(stamp, timing),
        "unit": m.unit,
        "concentration": concentration,
        "meal": meal,
        "sample_type": sample_type,
        "sample_location": location,
        "sensor_status": sorted(flags),
        "control_solution": "control_solution" in (sample_type, location),
    }
    return Captured(item, record_identity(NO_USER, m.sequence_number, stamp))
