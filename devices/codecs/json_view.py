"""The JSON view of a decoded characteristic, as `linli ble decode` prints it.

Field names are the specification's, in snake_case; values are in the unit the device
sent, with normalised values alongside (`_mmhg`, `_mmol_per_l`, `_mg_per_dl`). A special
SFLOAT is null with its name in `<field>_special`; an unknown date is null with
`<field>_special` = "unknown". Optional fields the packet does not carry are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devices.codecs.blood_pressure import (
    BloodPressureMeasurement,
    decode_blood_pressure_feature,
    decode_blood_pressure_measurement,
    decode_intermediate_cuff_pressure,
    to_mmhg,
)
from devices.codecs.date_time import DateTime, decode_current_time, decode_date_time
from devices.codecs.device_info import (
    DIS_STRINGS,
    decode_battery_level,
    decode_pnp_id,
    decode_string,
    decode_system_id,
)
from devices.codecs.errors import UnknownCharacteristic
from devices.codecs.glucose import decode_glucose_feature, decode_glucose_measurement
from devices.codecs.glucose_context import decode_glucose_context
from devices.codecs.racp import OpCode, RacpRequest, RecordCount, decode_racp
from devices.codecs.sfloat import SFloat

Json = dict[str, Any]


def number(out: Json, key: str, value: SFloat) -> None:
    """Put an SFLOAT under `key`: a number, or null with its special's name in `<key>_special`.

    The number is an int when the device sent no decimals (exponent >= 0).
    """
    if value.value is None:
        out[key] = None
        out[f"{key}_special"] = value.special
    elif value.exponent is not None and value.exponent >= 0:
        out[key] = int(value.value)
    else:
        out[key] = value.value


def date_time(out: Json, key: str, value: DateTime) -> None:
    """Put a Date Time under `key` as ISO 8601 text, or null and `<key>_special` = unknown."""
    out[key] = value.isoformat()
    if not value.is_known:
        out[f"{key}_special"] = "unknown"


def _pressure(out: Json, key: str, value: SFloat, measurement: BloodPressureMeasurement) -> None:
    number(out, key, value)
    out[f"{key}_mmhg"] = to_mmhg(value, measurement.unit)


def _bpm_view(measurement: BloodPressureMeasurement, first: str) -> Json:
    flags = measurement.flags
    out: Json = {
        "flags": {
            "units_kpa": bool(flags & 0x01),
            "time_stamp_present": bool(flags & 0x02),
            "pulse_rate_present": bool(flags & 0x04),
            "user_id_present": bool(flags & 0x08),
            "measurement_status_present": bool(flags & 0x10),
        },
        "unit": measurement.unit,
    }
    _pressure(out, first, measurement.systolic, measurement)
    _pressure(out, "diastolic", measurement.diastolic, measurement)
    _pressure(out, "mean_arterial_pressure", measurement.mean_arterial_pressure, measurement)
    if measurement.time_stamp is not None:
        date_time(out, "time_stamp", measurement.time_stamp)
    if measurement.pulse_rate is not None:
        number(out, "pulse_rate", measurement.pulse_rate)
    if measurement.user_id is not None:
        out["user_id"] = measurement.user_id
        out["user_unknown"] = measurement.user_id == 0xFF
    if measurement.status is not None:
        status = measurement.status
        out["measurement_status"] = {
            "body_movement": status.body_movement,
            "cuff_loose": status.cuff_loose,
            "irregular_pulse": status.irregular_pulse,
            "pulse_range": status.pulse_range,
            "improper_position": status.improper_position,
        }
    return out


def _glucose_view(data: bytes) -> Json:
    measurement = decode_glucose_measurement(data)
    flags = measurement.flags
    out: Json = {
        "flags": {
            "time_offset_present": bool(flags & 0x01),
            "concentration_type_and_sample_location_present": bool(flags & 0x02),
            "concentration_units_mol_per_l": bool(flags & 0x04),
            "sensor_status_annunciation_present": bool(flags & 0x08),
            "context_information_follows": bool(flags & 0x10),
        },
        "sequence_number": measurement.sequence_number,
    }
    date_time(out, "base_time", measurement.base_time)
    if measurement.time_offset is not None:
        out["time_offset"] = measurement.time_offset
    user_time = measurement.user_facing_time
    out["user_facing_time"] = user_time.isoformat() if user_time else None
    if measurement.concentration is not None:
        number(out, "glucose_concentration", measurement.concentration)
        out["unit"] = measurement.unit
        out["glucose_concentration_mmol_per_l"] = measurement.concentration_mmol_per_l
        out["glucose_concentration_mg_per_dl"] = measurement.concentration_mg_per_dl
        out["type"] = measurement.sample_type
        out["sample_location"] = measurement.sample_location
    out["control_solution"] = measurement.is_control_solution
    if measurement.sensor_status is not None:
        out["sensor_status_annunciation"] = measurement.sensor_status.as_dict()
    return out


def _context_view(data: bytes) -> Json:
    context = decode_glucose_context(data)
    flags = context.flags
    out: Json = {
        "flags": {
            "carbohydrate_present": bool(flags & 0x01),
            "meal_present": bool(flags & 0x02),
            "tester_health_present": bool(flags & 0x04),
            "exercise_present": bool(flags & 0x08),
            "medication_present": bool(flags & 0x10),
            "medication_units_liters": bool(flags & 0x20),
            "hba1c_present": bool(flags & 0x40),
            "extended_flags_present": bool(flags & 0x80),
        },
        "sequence_number": context.sequence_number,
    }
    if context.extended_flags is not None:
        out["extended_flags"] = context.extended_flags
    if context.carbohydrate is not None:
        out["carbohydrate_id"] = context.carbohydrate_id
        number(out, "carbohydrate", context.carbohydrate)
        out["carbohydrate_unit"] = "kg"
    if context.meal is not None:
        out["meal"] = context.meal
    if context.tester is not None:
        out["tester"] = context.tester
        out["health"] = context.health
    if context.exercise_duration is not None:
        out["exercise_duration"] = context.exercise_duration
        out["exercise_duration_overrun"] = context.exercise_overrun
        out["exercise_intensity"] = context.exercise_intensity
    if context.medication is not None:
        out["medication_id"] = context.medication_id
        number(out, "medication", context.medication)
        out["medication_unit"] = context.medication_unit
    if context.hba1c is not None:
        number(out, "hba1c", context.hba1c)
    return out


def _racp_view(data: bytes) -> Json:
    packet = decode_racp(data)
    if isinstance(packet, RecordCount):
        return {"op_code": "number_of_stored_records_response", "number_of_records": packet.count}
    if isinstance(packet, RacpRequest):
        out: Json = {
            "op_code": packet.op_code.name.lower(),
            "operator": packet.operator.name.lower(),
        }
        if packet.filter_type is not None:
            out["filter_type"] = packet.filter_type.name.lower()
        for key, bound in (("minimum", packet.minimum), ("maximum", packet.maximum)):
            if isinstance(bound, DateTime):
                date_time(out, key, bound)
            elif bound is not None:
                out[key] = bound
        return out
    code = packet.request_op_code
    request = OpCode(code).name.lower() if code in set(OpCode) else f"0x{code:02X}"
    return {
        "op_code": "response_code",
        "request_op_code": request,
        "response_code": packet.response_code.name.lower(),
    }


def _current_time_view(data: bytes) -> Json:
    value = decode_current_time(data)
    out: Json = {}
    date_time(out, "date_time", value.date_time)
    out["day_of_week"] = value.day_of_week_name
    out["fractions256"] = value.fractions256
    out["adjust_reason"] = value.adjust_reason.as_dict()
    return out


def _date_time_view(data: bytes) -> Json:
    out: Json = {}
    date_time(out, "date_time", decode_date_time(data))
    return out


def _string_view(uuid16: int) -> Callable[[bytes], Json]:
    return lambda data: {DIS_STRINGS[uuid16]: decode_string(data, uuid16)}


def _system_id_view(data: bytes) -> Json:
    value = decode_system_id(data)
    return {
        "manufacturer_identifier": value.manufacturer_identifier,
        "organizationally_unique_identifier": value.organizationally_unique_identifier,
    }


def _pnp_id_view(data: bytes) -> Json:
    value = decode_pnp_id(data)
    return {
        "vendor_id_source": value.vendor_id_source_name,
        "vendor_id": value.vendor_id,
        "product_id": value.product_id,
        "product_version": value.product_version,
    }


DECODERS: dict[int, tuple[str, Callable[[bytes], Json]]] = {
    0x2A35: (
        "blood_pressure_measurement",
        lambda data: _bpm_view(decode_blood_pressure_measurement(data), "systolic"),
    ),
    0x2A36: (
        "intermediate_cuff_pressure",
        lambda data: _bpm_view(decode_intermediate_cuff_pressure(data), "current_cuff_pressure"),
    ),
    0x2A49: (
        "blood_pressure_feature",
        lambda data: dict(decode_blood_pressure_feature(data).as_dict()),
    ),
    0x2A18: ("glucose_measurement", _glucose_view),
    0x2A34: ("glucose_measurement_context", _context_view),
    0x2A51: ("glucose_feature", lambda data: dict(decode_glucose_feature(data).as_dict())),
    0x2A52: ("record_access_control_point", _racp_view),
    0x2A2B: ("current_time", _current_time_view),
    0x2A08: ("date_time", _date_time_view),
    0x2A19: ("battery_level", lambda data: {"battery_level": decode_battery_level(data)}),
    0x2A23: ("system_id", _system_id_view),
    0x2A50: ("pnp_id", _pnp_id_view),
    **{uuid16: (name, _string_view(uuid16)) for uuid16, name in DIS_STRINGS.items()},
}


def decode_to_dict(uuid16: int, data: bytes) -> Json:
    """Decode `data` of characteristic `uuid16` into its JSON view (DecodeError if bad)."""
    entry = DECODERS.get(uuid16)
    if entry is None:
        known = ", ".join(f"0x{uuid:04X}" for uuid in sorted(DECODERS))
        raise UnknownCharacteristic(f"unknown characteristic 0x{uuid16:04X} (known: {known})")
    name, view = entry
    return {"characteristic": f"0x{uuid16:04X}", "name": name, **view(bytes(data))}
