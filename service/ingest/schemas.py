"""The JSON a gateway sends to POST /v1/readings, validated strictly.

Values come in the unit the device sent; the service converts them. Validation is strict
(no numbers in strings, no times without an offset, no unknown fields) so that a gateway bug
shows up as a clear rejection instead of a silently wrong reading.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from service.units import GlucoseUnit, PressureUnit, to_mmhg, to_mmol_per_l

# Beyond these no instrument measures: such a value is a broken packet, not a reading.
# Implausible but possible values (systolic 320) are stored and left to the quality guard.
PRESSURE_RANGE_MMHG = (1.0, 500.0)
MAX_PULSE_BPM = 400.0
GLUCOSE_RANGE_MMOL = (0.1, 100.0)
NO_USER = 255  # BPS User ID 0xFF: unknown user; also used for single-user devices.

# Printable text only: control characters (NUL above all, which PostgreSQL text refuses) in a
# serial number are a broken packet.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Serial = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_PRINTABLE),
]
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_PRINTABLE),
]
ReadingKind = Literal["blood_pressure", "glucose"]

Meal = Literal["preprandial", "postprandial", "fasting", "casual", "bedtime"]
SampleType = Literal[
    "capillary_whole_blood",
    "capillary_plasma",
    "venous_whole_blood",
    "venous_plasma",
    "arterial_whole_blood",
    "arterial_plasma",
    "undetermined_whole_blood",
    "undetermined_plasma",
    "interstitial_fluid",
    "control_solution",
]
SampleLocation = Literal["finger", "alternate_site", "earlobe", "control_solution", "not_available"]
# Sensor Status Annunciation bits 0..11 of the Glucose Measurement characteristic, in order.
SensorStatus = Literal[
    "device_battery_low",
    "sensor_malfunction",
    "sample_size_insufficient",
    "strip_insertion_error",
    "strip_type_incorrect",
    "result_too_high",
    "result_too_low",
    "sensor_temperature_too_high",
    "sensor_temperature_too_low",
    "read_interrupted",
    "general_device_fault",
    "time_fault",
]
SENSOR_STATUS_BITS: tuple[str, ...] = get_args(SensorStatus)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class BloodPressureStatus(_Strict):
    """Measurement Status bits of 0x2A35; leave out (or null) what the device does not report."""

    body_movement: bool | None = None
    cuff_loose: bool | None = None
    irregular_pulse: bool | None = None
    pulse_range: Literal["within", "above", "below"] | None = None
    improper_position: bool | None = None


class _ReadingBase(_Strict):
    device_serial: Serial = Field(description="Serial number (or Bluetooth address) of the device.")
    user_index: int = Field(
        default=NO_USER, ge=0, le=255, description="The device's user ID; 255 = unknown/single."
    )
    sequence_number: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="The device's record sequence number."
    )
    measured_at: AwareDatetime = Field(description="When measured, with its UTC offset.")
    time_source: Literal["device", "corrected", "received"] = Field(
        default="device",
        description="device: the device's clock; corrected: moved by the clock's measured"
        " offset; received: the device gave no usable time, so when the gateway received it.",
    )


class BloodPressureIn(_ReadingBase):
    """One blood-pressure reading as the monitor reported it."""

    kind: Literal["blood_pressure"]
    unit: PressureUnit = Field(description="Unit of the three pressures as the device sent them.")
    systolic: float = Field(gt=0)
    diastolic: float = Field(gt=0)
    mean_arterial: float | None = Field(default=None, gt=0)
    pulse: float | None = Field(default=None, ge=1, le=MAX_PULSE_BPM, description="Beats/min.")
    status: BloodPressureStatus | None = None

    @model_validator(mode="after")
    def _within_instrument_range(self) -> BloodPressureIn:
        low, high = PRESSURE_RANGE_MMHG
        for name in ("systolic", "diastolic", "mean_arterial"):
            value = getattr(self, name)
            if value is not None and not low <= to_mmhg(value, self.unit) <= high:
                raise ValueError(
                    f"{name} {value} {self.unit} is outside what a blood-pressure monitor measures"
                )
        return self


class GlucoseIn(_ReadingBase):
    """One glucose reading as the meter reported it."""

    kind: Literal["glucose"]
    unit: GlucoseUnit = Field(description="Unit of the concentration as sent (kg/L, mol/L ...).")
    concentration: float = Field(gt=0)
    meal: Meal | None = None
    sample_type: SampleType | None = None
    sample_location: SampleLocation | None = None
    sensor_status: list[SensorStatus] = Field(default_factory=list, max_length=16)
    control_solution: bool = Field(
        default=False, description="Measured on control solution, not on the resident's blood."
    )

    @model_validator(mode="after")
    def _within_instrument_range(self) -> GlucoseIn:
        low, high = GLUCOSE_RANGE_MMOL
        if not low <= to_mmol_per_l(self.concentration, self.unit) <= high:
            raise ValueError(
                f"concentration {self.concentration} {self.unit} is outside what a meter measures"
            )
        return self


ReadingIn = Annotated[BloodPressureIn | GlucoseIn, Field(discriminator="kind")]
reading_adapter: TypeAdapter[BloodPressureIn | GlucoseIn] = TypeAdapter(ReadingIn)
readings_adapter: TypeAdapter[list[BloodPressureIn | GlucoseIn]] = TypeAdapter(list[ReadingIn])


class DeviceReport(_Strict):
    """What the gateway knows about a device at this upload (all but serial and kind optional)."""

    serial: Serial
    kind: ReadingKind
    model: Label | None = None
    manufacturer: Label | None = None
    battery_percent: int | None = Field(default=None, ge=0, le=100)
    clock_offset_seconds: float | None = Field(
        default=None, description="Device clock minus gateway clock at sync time, in seconds."
    )
    synced_at: AwareDatetime | None = None


devices_adapter: TypeAdapter[list[DeviceReport]] = TypeAdapter(list[DeviceReport])


class ReadingBatch(BaseModel):
    """The body of POST /v1/readings (documentation; items are validated one by one)."""

    readings: list[ReadingIn]
    devices: list[DeviceReport] = Field(default_factory=list)


class ItemResult(BaseModel):
    """What became of one reading of the batch."""

    index: int = Field(description="Position of the reading in the batch, from 0.")
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None


class BatchResult(BaseModel):
    """The answer to POST /v1/readings: counts and one result per reading, in order."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]
