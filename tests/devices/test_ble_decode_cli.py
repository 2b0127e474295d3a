"""`linli ble decode` run as a child process: one JSON object, or one line and exit 2."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.processes import linli


def linli_ble(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m service.cli ble ...` without any LINLI_ settings."""
    return linli("ble", *args)


def decoded(*args: str) -> dict[str, object]:
    result = linli_ble("decode", *args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


def refused(*args: str) -> str:
    """The single stderr line of a refused command (exit 2, nothing on stdout, no traceback)."""
    result = linli_ble(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_worked_blood_pressure_example() -> None:
    out = decoded("2A35", "1E 80 00 52 00 61 00 E8 07 03 0F 08 1E 2D 48 00 01 04 00")
    assert out["name"] == "blood_pressure_measurement"
    assert (out["systolic"], out["diastolic"], out["mean_arterial_pressure"]) == (128, 82, 97)
    assert out["unit"] == "mmHg"
    assert out["time_stamp"] == "2024-03-15T08:30:45"
    assert out["pulse_rate"] == 72
    assert out["user_id"] == 1
    assert out["measurement_status"]["irregular_pulse"] is True  # type: ignore[index]


def test_special_values_are_null_with_their_name() -> None:
    out = decoded("0x2a35", "05A0F06BF0FF074000")
    assert out["mean_arterial_pressure"] is None
    assert out["mean_arterial_pressure_special"] == "nan"
    assert out["systolic_mmhg"] == 120.0


def test_glucose_in_colon_hex_and_unquoted_bytes() -> None:
    out = decoded("0x2A18", "06:06:00:E8:07:03:0F:13:02:1E:38:C0:12")
    assert out["glucose_concentration_mmol_per_l"] == 5.6
    unquoted = ["06", "06", "00", "E8", "07", "03", "0F", "13", "02", "1E", "38", "C0", "12"]
    assert decoded("2A18", *unquoted) == out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("2A35", "1E 80 00 52 00"), "0x2A35: 5 bytes, flags 0x1E need 19"),
        (("2A35", "00 78 0G"), "bad hex"),
        (("2A35", "00 78 0"), "odd number of hex digits"),
        (("2A99", "00"), "unknown characteristic 0x2A99"),
        (("blood", "00"), "bad characteristic 'blood'"),
        (("2A19", "FF"), "battery level 255"),
        (("2A29", "41 FF"), "invalid UTF-8"),
        (("2A52", "09 01"), "op code 0x09 not supported"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], words: str) -> None:
    assert words in refused("decode", *args)


def test_missing_packet_is_a_usage_error_in_one_line() -> None:
    assert "Missing argument" in refused("decode", "2A35")
