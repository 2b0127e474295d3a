"""Blood Pressure Measurement 0x2A35, Intermediate Cuff Pressure 0x2A36, BP Feature 0x2A49."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from devices.codecs._wire import BitField, Reader, sfloat, u8, u16
from devices.codecs.date_time import DateTime, encode_date_time, read_date_time
from devices.codecs.errors import EncodeError, check_flagged_length, check_length
from devices.codecs.sfloat import SFloat

PressureUnit = Literal["mmHg", "kPa"]
PulseRange = Literal["within", "above", "below", "reserved"]

# 1 kPa = 1000 Pa / 133.322387415 Pa per mmHg.
MMHG_PER_KPA = 1000 / 133.322387415
UNKNOWN_USER = 0xFF

FLAG_KPA = 0x01
FLAG_TIME_STAMP = 0x02
FLAG_PULSE_RATE = 0x04
FLAG_USER_ID = 0x08
FLAG_STATUS = 0x10

PULSE_RANGES: tuple[PulseRange, ...] = ("within", "above", "below", "reserved")


def to_mmhg(value: SFloat, unit: PressureUnit) -> float | None:
    """A pressure in mmHg rounded to 0.1, or None for a special value."""
    if value.value is None:
        return None
    return round(value.value * MMHG_PER_KPA if unit == "kPa" else value.value, 1)


@dataclass(frozen=True, slots=True)
class MeasurementStatus:
    """Measurement Status (uint16) of 0x2A35 as named booleans."""

    body_movement: bool = False
    cuff_loose: bool = False
    irregular_pulse: bool = False
    pulse_range: PulseRange = "within"
    improper_position: bool = False
    reserved_bits: int = 0

    @classmethod
    def from_int(cls, value: int) -> MeasurementStatus:
        """The status of a raw uint16 (bits 6..15 kept in `reserved_bits`)."""
        return cls(
            body_movement=bool(value & 0x01),
            cuff_loose=bool(value & 0x02),
            irregular_pulse=bool(value & 0x04),
            pulse_range=PULSE_RANGES[value >> 3 & 0x03],
            improper_position=bool(value & 0x20),
            reserved_bits=value & 0xFFC0,
        )

    def to_int(self) -> int:
        """The raw uint16."""
        if self.pulse_range not in PULSE_RANGES:
            raise EncodeError(f"pulse range {self.pulse_range!r} not one of {PULSE_RANGES}")
        return (
            self.body_movement * 0x01
            | self.cuff_loose * 0x02
            | self.irregular_pulse * 0x04
            | PULSE_RANGES.index(self.pulse_range) << 3
            | self.improper_position * 0x20
            | self.reserved_bits
        )


@dataclass(frozen=True, slots=True)
class BloodPressureMeasurement:
    """One 0x2A35 (or 0x2A36) packet; optional fields are None when absent.

    In an Intermediate Cuff Pressure the current cuff pressure is in `systolic`.
    """

    systolic: SFloat
    diastolic: SFloat
    mean_arterial_pressure: SFloat
    unit: PressureUnit = "mmHg"
    time_stamp: DateTime | None = None
    pulse_rate: SFloat | None = None
    user_id: int | None = None
    status: MeasurementStatus | None = None

    @property
    def flags(self) -> int:
        """The flags byte this measurement is sent with."""
        return (
            (FLAG_KPA if self.unit == "kPa" else 0)
            | (FLAG_TIME_STAMP if self.time_stamp is not None else 0)
            | (FLAG_PULSE_RATE if self.pulse_rate is not None else 0)
            | (FLAG_USER_ID if self.user_id is not None else 0)
            | (FLAG_STATUS if self.status is not None else 0)
        )

    @property
    def systolic_mmhg(self) -> float | None:
        """Systolic pressure in mmHg (0.1), None for a special value."""
        return to_mmhg(self.systolic, self.unit)

    @property
    def diastolic_mmhg(self) -> float | None:
        """Diastolic pressure in mmHg (0.1), None for a special value."""
        return to_mmhg(self.diastolic, self.unit)

    @property
    def mean_arterial_pressure_mmhg(self) -> float | None:
        """Mean arterial pressure in mmHg (0.1), None for a special value."""
        return to_mmhg(self.mean_arterial_pressure, self.unit)


def _size(flags: int) -> int:
    return (
        7
        + (7 if flags & FLAG_TIME_STAMP else 0)
        + (2 if flags & FLAG_PULSE_RATE else 0)
        + (1 if flags & FLAG_USER_ID else 0)
        + (2 if flags & FLAG_STATUS else 0)
    )


def _decode(name: str, data: bytes) -> BloodPressureMeasurement:
    flags = check_flagged_length(name, data, _size)
    reader = Reader(name, data)
    reader.u8()
    systolic, diastolic, mean = reader.sfloat(), reader.sfloat(), reader.sfloat()
    time_stamp = read_date_time(reader) if flags & FLAG_TIME_STAMP else None
    pulse = reader.sfloat() if flags & FLAG_PULSE_RATE else None
    user = reader.u8() if flags & FLAG_USER_ID else None
    status = MeasurementStatus.from_int(reader.u16()) if flags & FLAG_STATUS else None
    reader.end()
    unit: PressureUnit = "kPa" if flags & FLAG_KPA else "mmHg"
    return BloodPressureMeasurement(
        systolic, diastolic, mean, unit, time_stamp, pulse, user, status
    )


def decode_blood_pressure_measurement(data: bytes) -> BloodPressureMeasurement:
    """Decode a Blood Pressure Measurement (0x2A35)."""
    return _decode("0x2A35", data)


def decode_intermediate_cuff_pressure(data: bytes) -> BloodPressureMeasurement:
    """Decode an Intermediate Cuff Pressure (0x2A36; the BPM layout, cuff pressure first)."""
    return _decode("0x2A36", data)


def encode_blood_pressure_measurement(value: BloodPressureMeasurement) -> bytes:
    """The bytes of a 0x2A35 (or 0x2A36) packet."""
    if value.unit not in ("mmHg", "kPa"):
        raise EncodeError(f"pressure unit {value.unit!r} is neither mmHg nor kPa")
    out = bytearray([value.flags])
    out += sfloat(value.systolic) + sfloat(value.diastolic) + sfloat(value.mean_arterial_pressure)
    if value.time_stamp is not None:
        out += encode_date_time(value.time_stamp)
    if value.pulse_rate is not None:
        out += sfloat(value.pulse_rate)
    if value.user_id is not None:
        out += u8(value.user_id, "user id")
    if value.status is not None:
        out += u16(value.status.to_int(), "measurement status")
    return bytes(out)


encode_intermediate_cuff_pressure = encode_blood_pressure_measurement


@dataclass(frozen=True, slots=True)
class BloodPressureFeature(BitField):
    """Blood Pressure Feature 0x2A49: what the monitor can detect (unnamed bits kept)."""

    body_movement_detection: bool = False
    cuff_fit_detection: bool = False
    irregular_pulse_detection: bool = False
    pulse_rate_range_detection: bool = False
    measurement_position_detection: bool = False
    multiple_bonds: bool = False
    reserved_bits: int = 0


def decode_blood_pressure_feature(data: bytes) -> BloodPressureFeature:
    """Decode Blood Pressure Feature (0x2A49, uint16)."""
    check_length("0x2A49", data, 2)
    return BloodPressureFeature.from_int(int.from_bytes(data, "little"))


def encode_blood_pressure_feature(value: BloodPressureFeature) -> bytes:
    """The two bytes of a Blood Pressure Feature."""
    return u16(value.to_int(), "blood pressure feature")
