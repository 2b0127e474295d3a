"""Blood Pressure Measurement, Intermediate Cuff Pressure and BP Feature codecs."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.codecs import (
    BloodPressureFeature,
    BloodPressureMeasurement,
    DecodeError,
    MeasurementStatus,
    SFloat,
    TrailingBytes,
    TruncatedPacket,
    decode_blood_pressure_feature,
    decode_blood_pressure_measurement,
    decode_intermediate_cuff_pressure,
    encode_blood_pressure_feature,
    encode_blood_pressure_measurement,
)
from tests.devices.test_codecs_date_time import date_times
from tests.devices.test_codecs_sfloat import sfloats
from tests.fuzzing import counted, examples


def packet(text: str) -> bytes:
    return bytes.fromhex(text)


class TestReferenceExamples:
    def test_minimal_mmhg(self) -> None:
        m = decode_blood_pressure_measurement(packet("00 78 00 50 00 5D 00"))
        assert (m.unit, m.systolic.value, m.diastolic.value, m.mean_arterial_pressure.value) == (
            "mmHg",
            120,
            80,
            93,
        )
        assert (m.time_stamp, m.pulse_rate, m.user_id, m.status) == (None, None, None, None)

    def test_every_optional_field(self) -> None:
        m = decode_blood_pressure_measurement(
            packet("1E 80 00 52 00 61 00 E8 07 03 0F 08 1E 2D 48 00 01 04 00")
        )
        assert (m.systolic_mmhg, m.diastolic_mmhg, m.mean_arterial_pressure_mmhg) == (128, 82, 97)
        assert m.time_stamp is not None
        assert m.time_stamp.to_datetime() == dt.datetime(2024, 3, 15, 8, 30, 45)
        assert m.pulse_rate == SFloat(72)
        assert m.user_id == 1
        assert m.status == MeasurementStatus(irregular_pulse=True, pulse_range="within")

    def test_kpa_with_nan_mean_arterial_pressure(self) -> None:
        m = decode_blood_pressure_measurement(packet("05 A0 F0 6B F0 FF 07 40 00"))
        assert m.unit == "kPa"
        assert (m.systolic.value, m.diastolic.value) == (16.0, 10.7)
        assert m.mean_arterial_pressure == SFloat(None, "nan")
        assert m.mean_arterial_pressure_mmhg is None
        assert (m.systolic_mmhg, m.diastolic_mmhg) == (120.0, 80.3)
        assert m.pulse_rate == SFloat(64)

    def test_status_body_movement_and_pulse_above_range(self) -> None:
        m = decode_blood_pressure_measurement(packet("14 91 00 5F 00 70 00 6E 00 09 00"))
        assert (m.systolic.value, m.diastolic.value, m.mean_arterial_pressure.value) == (
            145,
            95,
            112,
        )
        assert m.pulse_rate == SFloat(110)
        assert m.status == MeasurementStatus(body_movement=True, pulse_range="above")

    def test_intermediate_cuff_pressure(self) -> None:
        m = decode_intermediate_cuff_pressure(packet("00 55 00 FF 07 FF 07"))
        assert m.systolic_mmhg == 85
        assert m.diastolic.special == m.mean_arterial_pressure.special == "nan"

    def test_boso_error_packet_all_nan_is_never_2047(self) -> None:
        # derdilla issue #80: a cuff error sends 0x07FF everywhere and status 0.
        m = decode_blood_pressure_measurement(
            packet("16 FF 07 FF 07 FF 07 E8 07 03 0F 08 1E 2D FF 07 00 00")
        )
        assert m.systolic_mmhg is None
        assert m.pulse_rate == SFloat(None, "nan")
        assert m.status == MeasurementStatus()

    @pytest.mark.parametrize(
        "text",
        [
            "00 78 00 50 00 5D 00",
            "1E 80 00 52 00 61 00 E8 07 03 0F 08 1E 2D 48 00 01 04 00",
            "05 A0 F0 6B F0 FF 07 40 00",
            "14 91 00 5F 00 70 00 6E 00 09 00",
        ],
    )
    def test_reencoding_gives_the_same_bytes(self, text: str) -> None:
        m = decode_blood_pressure_measurement(packet(text))
        assert encode_blood_pressure_measurement(m) == packet(text)


class TestBadPackets:
    def test_truncated_names_flags_and_sizes(self) -> None:
        with pytest.raises(TruncatedPacket, match=r"0x2A35: 5 bytes, flags 0x1E need 19"):
            decode_blood_pressure_measurement(packet("1E 80 00 52 00"))

    def test_empty(self) -> None:
        with pytest.raises(TruncatedPacket, match="0 bytes"):
            decode_blood_pressure_measurement(b"")

    def test_extra_bytes(self) -> None:
        with pytest.raises(TrailingBytes, match="8 bytes, flags 0x00 need 7"):
            decode_blood_pressure_measurement(packet("00 78 00 50 00 5D 00 00"))

    def test_pulse_range_reserved_is_named_not_guessed(self) -> None:
        m = decode_blood_pressure_measurement(packet("10 78 00 50 00 5D 00 18 00"))
        assert m.status is not None
        assert m.status.pulse_range == "reserved"


class TestFeature:
    def test_decode(self) -> None:
        feature = decode_blood_pressure_feature(packet("05 00"))
        assert feature == BloodPressureFeature(
            body_movement_detection=True, irregular_pulse_detection=True
        )

    def test_unnamed_bits_survive(self) -> None:
        assert encode_blood_pressure_feature(
            decode_blood_pressure_feature(packet("3F 81"))
        ) == packet("3F 81")

    @given(st.integers(0, 0xFFFF))
    def test_round_trip(self, bits: int) -> None:
        value = BloodPressureFeature.from_int(bits)
        assert decode_blood_pressure_feature(encode_blood_pressure_feature(value)) == value


@st.composite
def measurements(draw: st.DrawFn) -> BloodPressureMeasurement:
    """Any Blood Pressure Measurement a monitor can send."""
    return BloodPressureMeasurement(
        systolic=draw(sfloats()),
        diastolic=draw(sfloats()),
        mean_arterial_pressure=draw(sfloats()),
        unit=draw(st.sampled_from(["mmHg", "kPa"])),
        time_stamp=draw(st.none() | date_times()),
        pulse_rate=draw(st.none() | sfloats()),
        user_id=draw(st.none() | st.integers(0, 255)),
        status=draw(st.none() | st.integers(0, 0xFFFF).map(MeasurementStatus.from_int)),
    )


class TestProperties:
    @given(measurements())
    def test_round_trip(self, value: BloodPressureMeasurement) -> None:
        assert decode_blood_pressure_measurement(encode_blood_pressure_measurement(value)) == value

    @counted
    @examples(800, 4000)
    @given(st.binary(max_size=24))
    def test_random_bytes_raise_only_decode_errors(self, data: bytes) -> None:
        with contextlib.suppress(DecodeError):
            decode_blood_pressure_measurement(data)

    @counted
    @examples(800, 4000)
    @given(measurements(), st.data())
    def test_corrupted_packets_raise_only_decode_errors(
        self, value: BloodPressureMeasurement, data: st.DataObject
    ) -> None:
        raw = bytearray(encode_blood_pressure_measurement(value))
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(raw) + 2))
        try:
            decoded = decode_blood_pressure_measurement(
                bytes(raw[:cut]) + bytes(max(0, cut - len(raw)))
            )
        except DecodeError:
            return
        assert (
            decode_blood_pressure_measurement(encode_blood_pressure_measurement(decoded)) == decoded
        )
