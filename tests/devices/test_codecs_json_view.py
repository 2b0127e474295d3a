"""The JSON view `linli ble decode` prints: names, units, specials, unknown dates."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.codecs import DecodeError, UnknownCharacteristic, decode_to_dict
from devices.codecs.json_view import DECODERS
from tests.fuzzing import counted, examples


def view(uuid16: int, text: str) -> dict[str, object]:
    return decode_to_dict(uuid16, bytes.fromhex(text))


class TestBloodPressure:
    def test_full_measurement(self) -> None:
        out = view(0x2A35, "1E 80 00 52 00 61 00 E8 07 03 0F 08 1E 2D 48 00 01 04 00")
        assert out["characteristic"] == "0x2A35"
        assert out["name"] == "blood_pressure_measurement"
        assert out["flags"] == {
            "units_kpa": False,
            "time_stamp_present": True,
            "pulse_rate_present": True,
            "user_id_present": True,
            "measurement_status_present": True,
        }
        assert (out["systolic"], out["diastolic"], out["mean_arterial_pressure"]) == (128, 82, 97)
        assert out["time_stamp"] == "2024-03-15T08:30:45"
        assert out["pulse_rate"] == 72
        assert out["user_id"] == 1
        assert out["measurement_status"] == {
            "body_movement": False,
            "cuff_loose": False,
            "irregular_pulse": True,
            "pulse_range": "within",
            "improper_position": False,
        }

    def test_kpa_values_as_sent_plus_mmhg_and_special_names(self) -> None:
        out = view(0x2A35, "05 A0 F0 6B F0 FF 07 40 00")
        assert out["unit"] == "kPa"
        assert (out["systolic"], out["diastolic"]) == (16.0, 10.7)
        assert (out["systolic_mmhg"], out["diastolic_mmhg"]) == (120.0, 80.3)
        assert out["mean_arterial_pressure"] is None
        assert out["mean_arterial_pressure_special"] == "nan"
        assert out["mean_arterial_pressure_mmhg"] is None
        assert "systolic_special" not in out
        assert "time_stamp" not in out

    def test_unknown_time_stamp(self) -> None:
        out = view(0x2A35, "02 78 00 50 00 5D 00 00 00 00 00 08 1E 2D")
        assert out["time_stamp"] is None
        assert out["time_stamp_special"] == "unknown"


class TestGlucose:
    def test_measurement(self) -> None:
        out = view(0x2A18, "1B 05 00 E8 07 03 0F 07 2D 00 3C 00 69 B0 11 00 00")
        assert out["sequence_number"] == 5
        assert out["base_time"] == "2024-03-15T07:45:00"
        assert out["time_offset"] == 60
        assert out["user_facing_time"] == "2024-03-15T08:45:00"
        assert (out["glucose_concentration"], out["unit"]) == (0.00105, "kg/L")
        assert out["glucose_concentration_mg_per_dl"] == 105.0
        assert out["glucose_concentration_mmol_per_l"] == 5.83
        assert (out["type"], out["sample_location"]) == ("capillary_whole_blood", "finger")
        assert out["control_solution"] is False
        status = out["sensor_status_annunciation"]
        assert isinstance(status, dict)
        assert len(status) == 12
        assert not any(status.values())

    def test_hi_reading(self) -> None:
        out = view(0x2A18, "0A 07 00 E8 07 03 0F 0C 00 00 FE 07 11 20 00")
        assert out["glucose_concentration"] is None
        assert out["glucose_concentration_special"] == "positive_infinity"
        assert out["sensor_status_annunciation"]["result_too_high"] is True  # type: ignore[index]

    def test_context(self) -> None:
        out = view(0x2A34, "7F 05 00 01 2D D0 01 51 08 07 32 01 04 B0 41 F0")
        assert out["meal"] == "preprandial"
        assert (out["carbohydrate_id"], out["carbohydrate"], out["carbohydrate_unit"]) == (
            "breakfast",
            0.045,
            "kg",
        )
        assert (out["tester"], out["health"]) == ("self", "no_issues")
        assert (out["exercise_duration"], out["exercise_intensity"]) == (1800, 50)
        assert (out["medication_id"], out["medication"], out["medication_unit"]) == (
            "rapid_acting_insulin",
            4e-05,
            "L",
        )
        assert out["hba1c"] == 6.5

    def test_racp(self) -> None:
        assert view(0x2A52, "06 00 01 06") == {
            "characteristic": "0x2A52",
            "name": "record_access_control_point",
            "op_code": "response_code",
            "request_op_code": "report_stored_records",
            "response_code": "no_records_found",
        }
        assert view(0x2A52, "05 00 05 00")["number_of_records"] == 5
        request = view(0x2A52, "01 03 01 03 00")
        assert (request["operator"], request["filter_type"], request["minimum"]) == (
            "greater_than_or_equal_to",
            "sequence_number",
            3,
        )


class TestOthers:
    def test_current_time_battery_and_strings(self) -> None:
        assert view(0x2A2B, "EA 07 0B 1A 10 2E 23 04 00 01")["day_of_week"] == "thursday"
        assert view(0x2A19, "57")["battery_level"] == 87
        assert view(0x2A29, "4F 6D 72 6F 6E")["manufacturer_name"] == "Omron"

    def test_unknown_characteristic(self) -> None:
        with pytest.raises(UnknownCharacteristic, match="0x2A99"):
            view(0x2A99, "00")


@counted
@examples(1500, 7500)
@given(st.sampled_from(sorted(DECODERS)), st.binary(max_size=24))
def test_random_bytes_give_json_or_a_decode_error(uuid16: int, data: bytes) -> None:
    try:
        out = decode_to_dict(uuid16, data)
    except DecodeError:
        return
    text = json.dumps(out, allow_nan=False)  # never NaN or Infinity in the JSON
    assert json.loads(text)["characteristic"] == f"0x{uuid16:04X}"
