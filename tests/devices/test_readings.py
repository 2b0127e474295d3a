"""Decoded packets become upload items the service accepts (the gateway-service contract)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
from pydantic import ValidationError

from devices.clock import ClockCheck
from devices.codecs import (
    BloodPressureFeature,
    decode_blood_pressure_measurement,
    decode_glucose_context,
    decode_glucose_measurement,
)
from devices.readings import Timing, blood_pressure_item, glucose_item
from service.ingest.schemas import reading_adapter

FULING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
TIMING = Timing(FULING, NOW, None)


def accepted_by_service(item: dict) -> None:
    reading_adapter.validate_json(orjson.dumps(item))


class TestBloodPressure:
    def test_full_measurement(self):
        packet = bytes.fromhex("1E 80 00 52 00 61 00 E8 07 03 0F 08 1E 2D 48 00 01 04 00")
        captured = blood_pressure_item(
            decode_blood_pressure_measurement(packet), serial="BP-1", timing=TIMING
        )
        assert captured is not None
        item = captured.item
        accepted_by_service(item)
        assert (item["systolic"], item["diastolic"], item["mean_arterial"]) == (128, 82, 97)
        assert (item["pulse"], item["user_index"], item["unit"]) == (72, 1, "mmHg")
        assert item["measured_at"] == "2024-03-15T00:30:45+00:00"  # 08:30:45 in Fuling
        assert item["status"]["irregular_pulse"] is True
        assert item["time_source"] == "device"

    def test_kpa_stays_kpa_and_nan_map_is_null(self):
        packet = bytes.fromhex("05 A0 F0 6B F0 FF 07 40 00")
        captured = blood_pressure_item(
            decode_blood_pressure_measurement(packet), serial="BP-1", timing=TIMING
        )
        assert captured is not None
        item = captured.item
        accepted_by_service(item)
        assert (item["unit"], item["systolic"], item["diastolic"]) == ("kPa", 16.0, 10.7)
        assert item["mean_arterial"] is None
        assert item["measured_at"] == NOW.isoformat()  # no time stamp: when received
        assert item["time_source"] == "received"

    def test_all_nan_is_not_a_reading(self):
        # A cuff error some monitors report as NaN everywhere and status 0 (never 2047 mmHg).
        packet = bytes.fromhex("14 FF 07 FF 07 FF 07 FF 07 00 00")  # pulse and status follow
        captured = blood_pressure_item(
            decode_blood_pressure_measurement(packet), serial="BP-1", timing=TIMING
        )
        assert captured is None

    def test_status_bits_the_device_cannot_detect_are_left_out(self):
        packet = bytes.fromhex("14 91 00 5F 00 70 00 6E 00 09 00")
        feature = BloodPressureFeature(body_movement_detection=True)
        captured = blood_pressure_item(
            decode_blood_pressure_measurement(packet), serial="BP-1", timing=TIMING, feature=feature
        )
        assert captured is not None
        item = captured.item
        assert item["status"] == {"body_movement": True}


class TestGlucose:
    def test_measurement_with_context(self):
        measurement = decode_glucose_measurement(
            bytes.fromhex("1B 05 00 E8 07 03 0F 07 2D 00 3C 00 69 B0 11 00 00")
        )
        context = decode_glucose_context(bytes.fromhex("47 05 00 01 2D D0 01 51 41 F0"))
        captured = glucose_item(measurement, context, serial="GL-1", timing=TIMING)
        assert captured is not None
        item = captured.item
        accepted_by_service(item)
        assert item["concentration"] == pytest.approx(105e-5)
        assert (item["unit"], item["sequence_number"], item["meal"]) == ("kg/L", 5, "preprandial")
        assert item["measured_at"] == "2024-03-15T00:45:00+00:00"  # 07:45 + 60 min, Fuling
        assert (item["sample_type"], item["sample_location"]) == ("capillary_whole_blood", "finger")

    def test_hi_reading_is_kept_at_the_limit_with_its_flag(self):
        measurement = decode_glucose_measurement(
            bytes.fromhex("0A 07 00 E8 07 03 0F 0C 00 00 FE 07 11 20 00")
        )
        captured = glucose_item(measurement, None, serial="GL-1", timing=TIMING)
        assert captured is not None
        item = captured.item
        accepted_by_service(item)
        assert item["sensor_status"] == ["result_too_high"]
        assert item["concentration"] == pytest.approx(600e-5)

    def test_a_drifted_meter_clock_is_corrected(self):
        measurement = decode_glucose_measurement(
            bytes.fromhex("06 06 00 E8 07 03 0F 13 02 1E 38 C0 12")
        )
        fast = ClockCheck(datetime(2026, 11, 26, 17, 0, 0), NOW, FULING)  # an hour fast
        captured = glucose_item(measurement, None, serial="GL-1", timing=Timing(FULING, NOW, fast))
        assert captured is not None
        item = captured.item
        accepted_by_service(item)
        assert item["measured_at"] == "2024-03-15T10:02:30+00:00"  # 19:02:30 - 1 h, Fuling
        assert item["time_source"] == "corrected"

    def test_a_record_keeps_its_identity_whatever_correction_its_time_gets(self):
        packet = bytes.fromhex("06 06 00 E8 07 03 0F 13 02 1E 38 C0 12")
        fast = ClockCheck(datetime(2026, 11, 26, 17, 0, 0), NOW, FULING)
        faster = ClockCheck(datetime(2026, 11, 26, 17, 0, 1), NOW, FULING)
        measurement = decode_glucose_measurement(packet)
        first = glucose_item(measurement, None, serial="GL-1", timing=Timing(FULING, NOW, fast))
        again = glucose_item(measurement, None, serial="GL-1", timing=Timing(FULING, NOW, faster))
        assert first is not None
        assert again is not None
        assert first.item["measured_at"] != again.item["measured_at"]
        assert first.identity == again.identity == "255|6|2024-03-15T19:02:30"


def test_an_item_the_service_would_refuse_is_caught_here():
    measurement = decode_glucose_measurement(
        bytes.fromhex("06 06 00 E8 07 03 0F 13 02 1E 38 C0 12")
    )
    captured = glucose_item(measurement, None, serial="GL-1", timing=TIMING)
    assert captured is not None
    with pytest.raises(ValidationError):
        accepted_by_service({**captured.item, "unit": "mmol/dL"})
