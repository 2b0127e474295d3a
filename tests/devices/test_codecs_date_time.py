"""Date Time, Current Time, Battery Level and Device Information codecs."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.codecs import (
    AdjustReason,
    CurrentTime,
    DateTime,
    DecodeError,
    InvalidValue,
    PnpId,
    ReservedValue,
    SystemId,
    TrailingBytes,
    TruncatedPacket,
    decode_battery_level,
    decode_current_time,
    decode_date_time,
    decode_pnp_id,
    decode_string,
    decode_system_id,
    encode_battery_level,
    encode_current_time,
    encode_date_time,
    encode_pnp_id,
    encode_string,
    encode_system_id,
)
from tests.fuzzing import counted, examples


@st.composite
def date_times(draw: st.DrawFn) -> DateTime:
    """A valid Date Time; about one in eight has an unknown (zero) year, month or day."""
    hours, minutes, seconds = (
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )
    if draw(st.integers(0, 7)) == 0:
        year = draw(st.sampled_from([0, 2024]))
        month = draw(st.sampled_from([0, 3])) if year else draw(st.integers(0, 12))
        day = 0 if year and month else draw(st.integers(0, 28))
        return DateTime(year, month, day, hours, minutes, seconds)
    date = draw(st.dates(dt.date(1582, 1, 1), dt.date(9999, 12, 31)))
    return DateTime(date.year, date.month, date.day, hours, minutes, seconds)


class TestDateTime:
    def test_known_date(self) -> None:
        value = decode_date_time(bytes.fromhex("E8 07 03 0F 08 1E 2D"))
        assert value.to_datetime() == dt.datetime(2024, 3, 15, 8, 30, 45)
        assert value.isoformat() == "2024-03-15T08:30:45"

    @pytest.mark.parametrize(
        "hex_bytes", ["00 00 03 0F 08 1E 2D", "E8 07 00 0F 08 1E 2D", "E8 07 03 00 08 1E 2D"]
    )
    def test_zero_year_month_or_day_is_unknown_never_a_date(self, hex_bytes: str) -> None:
        value = decode_date_time(bytes.fromhex(hex_bytes))
        assert not value.is_known
        assert value.to_datetime() is None
        assert value.isoformat() is None

    def test_midnight_is_a_real_time(self) -> None:
        value = decode_date_time(bytes.fromhex("E8 07 03 0F 00 00 00"))
        assert value.to_datetime() == dt.datetime(2024, 3, 15, 0, 0, 0)

    @pytest.mark.parametrize(
        ("hex_bytes", "words"),
        [
            ("E8 07 0D 0F 08 1E 2D", "month 13"),
            ("E8 07 02 1E 08 1E 2D", "2024-02-30 is not a date"),
            ("E8 07 03 0F 18 1E 2D", "hours 24"),
            ("E8 07 03 0F 08 3C 2D", "minutes 60"),
            ("E8 07 03 0F 08 1E 3C", "seconds 60"),
            ("E8 03 03 0F 08 1E 2D", "year 1000"),
        ],
    )
    def test_impossible_fields_are_invalid(self, hex_bytes: str, words: str) -> None:
        with pytest.raises(InvalidValue, match=words):
            decode_date_time(bytes.fromhex(hex_bytes))

    def test_length_is_checked(self) -> None:
        with pytest.raises(TruncatedPacket):
            decode_date_time(bytes.fromhex("E8 07 03 0F 08 1E"))
        with pytest.raises(TrailingBytes):
            decode_date_time(bytes.fromhex("E8 07 03 0F 08 1E 2D 00"))

    @given(date_times())
    def test_round_trip(self, value: DateTime) -> None:
        assert decode_date_time(encode_date_time(value)) == value


class TestCurrentTime:
    def test_reference_example(self) -> None:
        value = decode_current_time(bytes.fromhex("EA 07 0B 1A 10 2E 23 04 00 01"))
        assert value.date_time.to_datetime() == dt.datetime(2026, 11, 26, 16, 46, 35)
        assert value.day_of_week_name == "thursday"
        assert value.fractions256 == 0
        assert value.adjust_reason == AdjustReason(manual_time_update=True)

    def test_from_datetime_encodes_the_reference_example(self) -> None:
        value = CurrentTime.from_datetime(
            dt.datetime(2026, 11, 26, 16, 46, 35), AdjustReason(manual_time_update=True)
        )
        assert encode_current_time(value) == bytes.fromhex("EA 07 0B 1A 10 2E 23 04 00 01")

    def test_reserved_day_of_week(self) -> None:
        with pytest.raises(ReservedValue, match="day of week 8"):
            decode_current_time(bytes.fromhex("EA 07 0B 1A 10 2E 23 08 00 01"))

    @given(date_times(), st.integers(0, 7), st.integers(0, 255), st.integers(0, 255))
    def test_round_trip(self, when: DateTime, day: int, fractions: int, reason: int) -> None:
        value = CurrentTime(when, day, fractions, AdjustReason.from_int(reason))
        assert decode_current_time(encode_current_time(value)) == value


class TestDeviceInformation:
    def test_battery_level(self) -> None:
        assert decode_battery_level(b"\x57") == 87
        assert encode_battery_level(100) == b"\x64"

    def test_battery_above_100_is_invalid(self) -> None:
        with pytest.raises(InvalidValue, match="101"):
            decode_battery_level(b"\x65")

    def test_strings_are_utf8_without_nul_padding(self) -> None:
        assert decode_string("欧姆龙 HEM-7".encode() + b"\x00\x00") == "欧姆龙 HEM-7"
        assert decode_string(encode_string("Roche")) == "Roche"

    def test_invalid_utf8_is_a_decode_error(self) -> None:
        with pytest.raises(InvalidValue, match="invalid UTF-8 at byte 1"):
            decode_string(b"A\xff", 0x2A29)

    def test_system_id_and_pnp_id(self) -> None:
        system_id = SystemId(0x0102030405, 0x00A0C6)
        assert decode_system_id(encode_system_id(system_id)) == system_id
        pnp = decode_pnp_id(bytes.fromhex("01 0D 00 34 12 00 01"))
        assert pnp == PnpId(1, 0x000D, 0x1234, 0x0100)
        assert pnp.vendor_id_source_name == "bluetooth_sig"
        assert encode_pnp_id(pnp) == bytes.fromhex("01 0D 00 34 12 00 01")
        with pytest.raises(ReservedValue):
            decode_pnp_id(bytes.fromhex("03 0D 00 34 12 00 01"))

    @given(st.text(max_size=40).filter(lambda text: not text.endswith("\x00")))
    def test_string_round_trip(self, text: str) -> None:
        assert decode_string(encode_string(text)) == text


@counted
@examples(600, 3000)
@given(st.binary(max_size=16))
@pytest.mark.parametrize(
    "decode",
    [
        decode_date_time,
        decode_current_time,
        decode_battery_level,
        decode_string,
        decode_system_id,
        decode_pnp_id,
    ],
)
def test_random_bytes_raise_only_decode_errors(
    decode: Callable[[bytes], object], data: bytes
) -> None:
    with contextlib.suppress(DecodeError):
        decode(data)
