"""Glucose Measurement, Glucose Measurement Context and Glucose Feature codecs."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.codecs import (
    DecodeError,
    EncodeError,
    GlucoseContext,
    GlucoseFeature,
    GlucoseMeasurement,
    SensorStatus,
    SFloat,
    TruncatedPacket,
    decode_glucose_context,
    decode_glucose_feature,
    decode_glucose_measurement,
    encode_glucose_context,
    encode_glucose_feature,
    encode_glucose_measurement,
)
from devices.codecs.glucose import SAMPLE_LOCATIONS, SAMPLE_TYPES
from devices.codecs.glucose_context import CARBOHYDRATE_IDS, HEALTH, MEALS, MEDICATION_IDS, TESTERS
from tests.devices.test_codecs_date_time import date_times
from tests.devices.test_codecs_sfloat import sfloats
from tests.fuzzing import counted, examples

EXAMPLE_A = "1B 05 00 E8 07 03 0F 07 2D 00 3C 00 69 B0 11 00 00"
CONTEXT_A = "47 05 00 01 2D D0 01 51 41 F0"
CONTEXT_FULL = "7F 05 00 01 2D D0 01 51 08 07 32 01 04 B0 41 F0"
EXAMPLE_B = "06 06 00 E8 07 03 0F 13 02 1E 38 C0 12"
EXAMPLE_C = "0A 07 00 E8 07 03 0F 0C 00 00 FE 07 11 20 00"
SERVICE_SENSOR_STATUS_NAMES = (
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
)


def packet(text: str) -> bytes:
    return bytes.fromhex(text)


class TestReferenceExamples:
    def test_a_measurement_with_offset_and_context(self) -> None:
        m = decode_glucose_measurement(packet(EXAMPLE_A))
        assert m.sequence_number == 5
        assert m.base_time.to_datetime() == dt.datetime(2024, 3, 15, 7, 45)
        assert m.time_offset == 60
        assert m.user_facing_time == dt.datetime(2024, 3, 15, 8, 45)
        assert m.unit == "kg/L"
        assert m.concentration_mg_per_dl == 105.0
        assert m.concentration_mmol_per_l == 5.83
        assert (m.sample_type, m.sample_location) == ("capillary_whole_blood", "finger")
        assert m.sensor_status == SensorStatus()
        assert m.context_follows
        assert not m.is_control_solution

    def test_a_context(self) -> None:
        c = decode_glucose_context(packet(CONTEXT_A))
        assert c.sequence_number == 5
        assert (c.carbohydrate_id, c.carbohydrate) == ("breakfast", SFloat(0.045))
        assert c.meal == "preprandial"
        assert (c.tester, c.health) == ("self", "no_issues")
        assert c.hba1c == SFloat(6.5)
        assert c.exercise_duration is None
        assert c.medication is None

    def test_a_full_context(self) -> None:
        c = decode_glucose_context(packet(CONTEXT_FULL))
        assert (c.exercise_duration, c.exercise_intensity) == (1800, 50)
        assert not c.exercise_overrun
        assert (c.medication_id, c.medication, c.medication_unit) == (
            "rapid_acting_insulin",
            SFloat(4e-5),
            "L",
        )
        assert c.hba1c == SFloat(6.5)

    def test_b_mol_per_l(self) -> None:
        m = decode_glucose_measurement(packet(EXAMPLE_B))
        assert m.sequence_number == 6
        assert m.user_facing_time == dt.datetime(2024, 3, 15, 19, 2, 30)
        assert m.unit == "mol/L"
        assert m.concentration_mmol_per_l == 5.6
        assert m.concentration_mg_per_dl == 100.9
        assert (m.sample_type, m.sample_location) == ("capillary_plasma", "finger")
        assert m.time_offset is None
        assert m.sensor_status is None

    def test_c_hi_reading_is_infinity_not_a_number(self) -> None:
        m = decode_glucose_measurement(packet(EXAMPLE_C))
        assert m.concentration == SFloat(None, "positive_infinity")
        assert m.concentration_mg_per_dl is None
        assert m.sensor_status is not None
        assert m.sensor_status.set_names() == ("result_too_high",)

    @pytest.mark.parametrize("text", [EXAMPLE_A, EXAMPLE_B, EXAMPLE_C])
    def test_measurements_reencode_to_the_same_bytes(self, text: str) -> None:
        assert encode_glucose_measurement(decode_glucose_measurement(packet(text))) == packet(text)

    @pytest.mark.parametrize("text", [CONTEXT_A, CONTEXT_FULL, "06 03 00 01 51"])
    def test_contexts_reencode_to_the_same_bytes(self, text: str) -> None:
        assert encode_glucose_context(decode_glucose_context(packet(text))) == packet(text)


class TestMeasurementDetails:
    def test_time_offset_is_signed(self) -> None:
        m = decode_glucose_measurement(packet("01 01 00 E8 07 03 0F 07 2D 00 C4 FF"))
        assert m.time_offset == -60
        assert m.user_facing_time == dt.datetime(2024, 3, 15, 6, 45)

    def test_unknown_base_time_gives_no_user_facing_time(self) -> None:
        m = decode_glucose_measurement(packet("01 01 00 00 00 00 00 07 2D 00 3C 00"))
        assert not m.base_time.is_known
        assert m.user_facing_time is None

    def test_control_solution_is_flagged(self) -> None:
        m = decode_glucose_measurement(packet("02 08 00 E8 07 03 0F 07 2D 00 69 B0 4A"))
        assert (m.sample_type, m.sample_location) == ("control_solution", "control_solution")
        assert m.is_control_solution

    def test_reserved_type_and_location_are_named_reserved(self) -> None:
        m = decode_glucose_measurement(packet("02 08 00 E8 07 03 0F 07 2D 00 69 B0 0B"))
        assert (m.sample_type, m.sample_location) == ("reserved", "reserved")

    def test_sensor_status_names_match_the_upload_api(self) -> None:
        assert SensorStatus.bit_names() == SERVICE_SENSOR_STATUS_NAMES
        assert SensorStatus.from_int(0x0801).set_names() == ("device_battery_low", "time_fault")

    def test_truncated_message(self) -> None:
        with pytest.raises(TruncatedPacket, match=r"0x2A18: 12 bytes, flags 0x1B need 17"):
            decode_glucose_measurement(packet(EXAMPLE_A)[:12])

    def test_concentration_needs_type_and_location(self) -> None:
        with pytest.raises(EncodeError):
            encode_glucose_measurement(
                GlucoseMeasurement(
                    1,
                    decode_glucose_measurement(packet(EXAMPLE_B)).base_time,
                    concentration=SFloat(1),
                )
            )


class TestFeature:
    def test_decode(self) -> None:
        feature = decode_glucose_feature(packet("03 04"))
        assert feature.low_battery_detection
        assert feature.sensor_malfunction_detection
        assert feature.multiple_bond
        assert not feature.time_fault

    @given(st.integers(0, 0xFFFF))
    def test_round_trip(self, bits: int) -> None:
        value = GlucoseFeature.from_int(bits)
        assert encode_glucose_feature(value) == bits.to_bytes(2, "little")
        assert decode_glucose_feature(encode_glucose_feature(value)) == value


@st.composite
def measurements(draw: st.DrawFn) -> GlucoseMeasurement:
    """Any Glucose Measurement a meter can send."""
    has_concentration = draw(st.booleans())
    return GlucoseMeasurement(
        sequence_number=draw(st.integers(0, 0xFFFF)),
        base_time=draw(date_times()),
        time_offset=draw(st.none() | st.integers(-0x8000, 0x7FFF)),
        concentration=draw(sfloats()) if has_concentration else None,
        unit=draw(st.sampled_from(["kg/L", "mol/L"])),
        sample_type=draw(st.sampled_from(list(SAMPLE_TYPES.values())))
        if has_concentration
        else None,
        sample_location=(
            draw(st.sampled_from(list(SAMPLE_LOCATIONS.values()))) if has_concentration else None
        ),
        sensor_status=draw(st.none() | st.integers(0, 0xFFFF).map(SensorStatus.from_int)),
        context_follows=draw(st.booleans()),
    )


@st.composite
def contexts(draw: st.DrawFn) -> GlucoseContext:
    """Any Glucose Measurement Context a meter can send."""
    carbohydrate = draw(st.booleans())
    tester = draw(st.booleans())
    exercise = draw(st.booleans())
    medication = draw(st.booleans())
    return GlucoseContext(
        sequence_number=draw(st.integers(0, 0xFFFF)),
        extended_flags=draw(st.none() | st.integers(0, 255)),
        carbohydrate_id=draw(st.sampled_from(list(CARBOHYDRATE_IDS.values())))
        if carbohydrate
        else None,
        carbohydrate=draw(sfloats()) if carbohydrate else None,
        meal=draw(st.none() | st.sampled_from(list(MEALS.values()))),
        tester=draw(st.sampled_from(list(TESTERS.values()))) if tester else None,
        health=draw(st.sampled_from(list(HEALTH.values()))) if tester else None,
        exercise_duration=draw(st.integers(0, 0xFFFF)) if exercise else None,
        exercise_intensity=draw(st.integers(0, 255)) if exercise else None,
        medication_id=draw(st.sampled_from(list(MEDICATION_IDS.values()))) if medication else None,
        medication=draw(sfloats()) if medication else None,
        medication_unit=draw(st.sampled_from(["kg", "L"])),
        hba1c=draw(st.none() | sfloats()),
    )


class TestProperties:
    @given(measurements())
    def test_measurement_round_trip(self, value: GlucoseMeasurement) -> None:
        assert decode_glucose_measurement(encode_glucose_measurement(value)) == value

    @given(contexts())
    def test_context_round_trip(self, value: GlucoseContext) -> None:
        assert decode_glucose_context(encode_glucose_context(value)) == value

    @counted
    @examples(800, 4000)
    @given(st.binary(max_size=24))
    def test_random_bytes_raise_only_decode_errors(self, data: bytes) -> None:
        for decode in (decode_glucose_measurement, decode_glucose_context, decode_glucose_feature):
            with contextlib.suppress(DecodeError):
                decode(data)

    @counted
    @examples(800, 4000)
    @given(measurements(), contexts(), st.data())
    def test_corrupted_packets_raise_only_decode_errors(
        self, measurement: GlucoseMeasurement, context: GlucoseContext, data: st.DataObject
    ) -> None:
        for raw_bytes, decode, encode in (
            (
                encode_glucose_measurement(measurement),
                decode_glucose_measurement,
                encode_glucose_measurement,
            ),
            (encode_glucose_context(context), decode_glucose_context, encode_glucose_context),
        ):
            raw = bytearray(raw_bytes)
            for _ in range(data.draw(st.integers(1, 4))):
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
            try:
                decoded = decode(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
            except DecodeError:
                continue
            try:
                again = encode(decoded)  # type: ignore[operator]
            except EncodeError:
                # Only a code the specification reserves cannot be sent again.
                assert "'reserved'" in repr(decoded)
            else:
                assert decode(again) == decoded
