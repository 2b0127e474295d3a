"""Glucose Measurement 0x2A18 and Glucose Feature 0x2A51 (Glucose Service 0x1808)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from devices.codecs._wire import BitField, Reader, code_of, s16, sfloat, u16
from devices.codecs.date_time import DateTime, encode_date_time, read_date_time
from devices.codecs.errors import EncodeError, check_flagged_length, check_length
from devices.codecs.sfloat import SFloat

GlucoseUnit = Literal["kg/L", "mol/L"]

# Molar mass of glucose C6H12O6: 180.156 g/mol, so 1 mmol/L = 18.0156 mg/dL.
MG_PER_DL_PER_MMOL_PER_L = 18.0156

FLAG_TIME_OFFSET = 0x01
FLAG_CONCENTRATION = 0x02
FLAG_MOL_PER_L = 0x04
FLAG_SENSOR_STATUS = 0x08
FLAG_CONTEXT_FOLLOWS = 0x10

RESERVED = "reserved"
SAMPLE_TYPES: dict[int, str] = {
    1: "capillary_whole_blood",
    2: "capillary_plasma",
    3: "venous_whole_blood",
    4: "venous_plasma",
    5: "arterial_whole_blood",
    6: "arterial_plasma",
    7: "undetermined_whole_blood",
    8: "undetermined_plasma",
    9: "interstitial_fluid",
    10: "control_solution",
}
SAMPLE_LOCATIONS: dict[int, str] = {
    1: "finger",
    2: "alternate_site",
    3: "earlobe",
    4: "control_solution",
    15: "not_available",
}


@dataclass(frozen=True, slots=True)
class SensorStatus(BitField):
    """Sensor Status Annunciation bits 0..11 (names as the service's upload API uses them)."""

    device_battery_low: bool = False
    sensor_malfunction: bool = False
    sample_size_insufficient: bool = False
    strip_insertion_error: bool = False
    strip_type_incorrect: bool = False
    result_too_high: bool = False
    result_too_low: bool = False
    sensor_temperature_too_high: bool = False
    sensor_temperature_too_low: bool = False
    read_interrupted: bool = False
    general_device_fault: bool = False
    time_fault: bool = False
    reserved_bits: int = 0


@dataclass(frozen=True, slots=True)
class GlucoseMeasurement:
    """One 0x2A18 packet; optional fields are None when absent.

    `sample_type` and `sample_location` are present exactly when `concentration` is; a
    code the specification reserves decodes as "reserved". `time_offset` is in minutes.
    """

    sequence_number: int
    base_time: DateTime
    time_offset: int | None = None
    concentration: SFloat | None = None
    unit: GlucoseUnit = "kg/L"
    sample_type: str | None = None
    sample_location: str | None = None
    sensor_status: SensorStatus | None = None
    context_follows: bool = False

    @property
    def flags(self) -> int:
        """The flags byte this measurement is sent with."""
        return (
            (FLAG_TIME_OFFSET if self.time_offset is not None else 0)
            | (FLAG_CONCENTRATION if self.concentration is not None else 0)
            | (FLAG_MOL_PER_L if self.unit == "mol/L" else 0)
            | (FLAG_SENSOR_STATUS if self.sensor_status is not None else 0)
            | (FLAG_CONTEXT_FOLLOWS if self.context_follows else 0)
        )

    @property
    def user_facing_time(self) -> dt.datetime | None:
        """Base time plus time offset (device local time), None when the date is unknown."""
        base = self.base_time.to_datetime()
        if base is None:
            return None
        return base + dt.timedelta(minutes=self.time_offset or 0)

    @property
    def concentration_mg_per_dl(self) -> float | None:
        """The concentration in mg/dL (0.1), None when absent or special."""
        return to_mg_per_dl(self.concentration, self.unit)

    @property
    def concentration_mmol_per_l(self) -> float | None:
        """The concentration in mmol/L (0.01), None when absent or special."""
        return to_mmol_per_l(self.concentration, self.unit)

    @property
    def is_control_solution(self) -> bool:
        """True when measured on control solution (type or location says so), not on blood."""
        return "control_solution" in (self.sample_type, self.sample_location)


def to_mg_per_dl(value: SFloat | None, unit: GlucoseUnit) -> float | None:
    """A concentration in kg/L or mol/L as mg/dL rounded to 0.1 (None when not a number)."""
    if value is None or value.value is None:
        return None
    if unit == "kg/L":
        return round(value.value * 100_000, 1)
    return round(value.value * 1000 * MG_PER_DL_PER_MMOL_PER_L, 1)


def to_mmol_per_l(value: SFloat | None, unit: GlucoseUnit) -> float | None:
    """A concentration in kg/L or mol/L as mmol/L rounded to 0.01 (None when not a number)."""
    if value is None or value.value is None:
        return None
    if unit == "mol/L":
        return round(value.value * 1000, 2)
    return round(value.value * 100_000 / MG_PER_DL_PER_MMOL_PER_L, 2)


def _size(flags: int) -> int:
    return (
        10
        + (2 if flags & FLAG_TIME_OFFSET else 0)
        + (3 if flags & FLAG_CONCENTRATION else 0)
        + (2 if flags & FLAG_SENSOR_STATUS else 0)
    )


def decode_glucose_measurement(data: bytes) -> GlucoseMeasurement:
    """Decode a Glucose Measurement (0x2A18); the time offset is a signed sint16."""
    name = "0x2A18"
    flags = check_flagged_length(name, data, _size)
    reader = Reader(name, data)
    reader.u8()
    sequence = reader.u16()
    base_time = read_date_time(reader)
    offset = reader.s16() if flags & FLAG_TIME_OFFSET else None
    concentration = sample_type = sample_location = None
    if flags & FLAG_CONCENTRATION:
        concentration = reader.sfloat()
        type_location = reader.u8()
        sample_type = SAMPLE_TYPES.get(type_location & 0x0F, RESERVED)
        sample_location = SAMPLE_LOCATIONS.get(type_location >> 4, RESERVED)
    status = SensorStatus.from_int(reader.u16()) if flags & FLAG_SENSOR_STATUS else None
    reader.end()
    return GlucoseMeasurement(
        sequence_number=sequence,
        base_time=base_time,
        time_offset=offset,
        concentration=concentration,
        unit="mol/L" if flags & FLAG_MOL_PER_L else "kg/L",
        sample_type=sample_type,
        sample_location=sample_location,
        sensor_status=status,
        context_follows=bool(flags & FLAG_CONTEXT_FOLLOWS),
    )


def encode_glucose_measurement(value: GlucoseMeasurement) -> bytes:
    """The bytes of a 0x2A18 packet."""
    if value.unit not in ("kg/L", "mol/L"):
        raise EncodeError(f"glucose unit {value.unit!r} is neither kg/L nor mol/L")
    out = bytearray([value.flags])
    out += u16(value.sequence_number, "sequence number") + encode_date_time(value.base_time)
    if value.time_offset is not None:
        out += s16(value.time_offset, "time offset")
    if value.concentration is not None:
        if value.sample_type is None or value.sample_location is None:
            raise EncodeError("a glucose concentration needs a sample type and location")
        type_code = code_of(SAMPLE_TYPES, value.sample_type, "sample type")
        location_code = code_of(SAMPLE_LOCATIONS, value.sample_location, "sample location")
        out += sfloat(value.concentration) + bytes([location_code << 4 | type_code])
    elif value.sample_type is not None or value.sample_location is not None:
        raise EncodeError("a sample type or location needs a glucose concentration")
    if value.sensor_status is not None:
        out += u16(value.sensor_status.to_int(), "sensor status")
    return bytes(out)


@dataclass(frozen=True, slots=True)
class GlucoseFeature(BitField):
    """Glucose Feature 0x2A51: what the meter supports (unnamed bits kept)."""

    low_battery_detection: bool = False
    sensor_malfunction_detection: bool = False
    sample_size: bool = False
    strip_insertion_error_detection: bool = False
    strip_type_error_detection: bool = False
    result_high_low_detection: bool = False
    temperature_high_low_detection: bool = False
    read_interrupt_detection: bool = False
    general_device_fault: bool = False
    time_fault: bool = False
    multiple_bond: bool = False
    reserved_bits: int = 0


def decode_glucose_feature(data: bytes) -> GlucoseFeature:
    """Decode Glucose Feature (0x2A51, uint16)."""
    check_length("0x2A51", data, 2)
    return GlucoseFeature.from_int(int.from_bytes(data, "little"))


def encode_glucose_feature(value: GlucoseFeature) -> bytes:
    """The two bytes of a Glucose Feature."""
    return u16(value.to_int(), "glucose feature")
