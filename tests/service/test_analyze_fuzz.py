"""`linli analyze` under arbitrary files: findings and bad rows named by line, or one line
saying what is wrong with the file, never a traceback.

Files are arbitrary bytes, good files with bytes changed, and CSV with arbitrary fields; both
the readings file and the residents file are fuzzed, through the command itself (typer's
runner, in this process). A few broken files also go through the installed command.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import SHARED_FIXTURES, counted, examples
from tests.processes import linli
from tests.service.test_analyze_cli import READING_HEADER, bp, glucose, run

PROFILE_HEADER = ["resident_id", "birth_date", "conditions"]
GOOD_READINGS = [
    bp("R1", "2024-03-01T08:00:00+08:00", 128, 82),
    glucose("R1", "2024-03-01T07:30:00+08:00", 2.8),
    bp("R2", "2024-03-01T09:00:00+08:00", 210, 100),
]
GOOD_PROFILES = [["R1", "1944-03-02", "hypertension;diabetes"], ["R2", "", ""]]
# Values that are nearly right, or right for another column.
NEAR = [
    "",
    " ",
    "R1",
    "2024-03-01T08:00:00+08:00",
    "2024-03-01T08:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "blood_pressure",
    "glucose",
    "nan",
    "inf",
    "-0",
    "1e400",
    "fasting",
    "hypertension;",
    "1944-02-30",
    "0",
    "1",
    '"',
    "\x00",
    "\ufeff",
    "\r",
]


def to_csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def changed(good: bytes) -> st.SearchStrategy[bytes]:
    """`good` with a few bytes replaced, inserted or cut away."""

    def apply(edits: list[tuple[int, bytes, int]]) -> bytes:
        data = bytearray(good)
        for at, new, cut in edits:
            at %= len(data) + 1
            data[at : at + cut] = new
        return bytes(data)

    edit = st.tuples(st.integers(0, 1 << 16), st.binary(max_size=3), st.integers(0, 3))
    return st.lists(edit, min_size=1, max_size=4).map(apply)


def csv_files(header: list[str], good: list[list[object]]) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, a good file changed, and CSV whose fields are anything."""
    field = st.sampled_from(NEAR) | st.text(max_size=12)
    rows = st.lists(st.lists(field, max_size=len(header) + 1), max_size=6)
    any_header = st.sampled_from([header, header[::-1], header[:2], [*header, header[0]]])
    return st.one_of(
        st.binary(max_size=200),
        changed(to_csv(header, good)),
        st.builds(lambda head, body: to_csv(head, [*good[:1], *body]), any_header, rows),
        # The same row many times: past the twenty bad rows shown one by one.
        st.builds(lambda row, n: to_csv(header, [row] * n), st.lists(field), st.integers(15, 30)),
    )


def check_answer(readings: Path, residents: Path, code: int, stdout: str, stderr: str) -> None:
    """Exit 0 with bad rows as FILE:LINE: reason lines and a summary, or exit 2 with one line."""
    assert "Traceback" not in stderr
    if code != 0:
        (line,) = refused_line(code, stdout, stderr)
        assert line.startswith((f"linli: {readings}: ", f"linli: {residents}: "))
        return
    (summary,) = stdout.splitlines()
    assert "finding" in summary
    for message in stderr.splitlines():
        path = readings if message.startswith(f"{readings}:") else residents
        rest = message.removeprefix(f"{path}:")
        assert rest != message, message
        numbered = re.match(r"(\d+): .", rest)
        if numbered is None:
            assert re.fullmatch(r" \d+ more bad rows? not shown", rest), message
            continue
        # The csv module ends lines at \n, \r\n and a lone \r, as splitlines() does.
        assert 2 <= int(numbered[1]) <= len(path.read_bytes().splitlines()) + 1, message


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    return tmp_path / "readings.csv", tmp_path / "residents.csv", tmp_path / "out.jsonl"


@counted
@examples(120, 1500, suppress_health_check=SHARED_FIXTURES)
@given(
    readings_data=csv_files(READING_HEADER, GOOD_READINGS),
    residents_data=st.none() | csv_files(PROFILE_HEADER, GOOD_PROFILES),
)
def test_any_files_give_findings_or_one_line(
    files: tuple[Path, Path, Path], readings_data: bytes, residents_data: bytes | None
) -> None:
    readings, residents, out = files
    out.unlink(missing_ok=True)  # the example before wrote it
    readings.write_bytes(readings_data)
    residents.write_bytes(
        to_csv(PROFILE_HEADER, GOOD_PROFILES) if residents_data is None else residents_data
    )
    result = run(readings, "--residents", residents, "--out", out, "--workers", "1")
    check_answer(readings, residents, result.exit_code, result.stdout, result.stderr)
    assert out.exists() == (result.exit_code == 0)


BROKEN = {
    "binary.csv": bytes(range(256)) * 4,
    "nul-header.csv": b"resident_id,measured\x00_at,kind\n",
    "utf16.csv": ",".join(READING_HEADER).encode("utf-16"),
    "bom-only.csv": b"\xef\xbb\xbf",
    "runaway-quote.csv": b'"resident_id,' + b"x" * 200_000 + b"\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_give_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    readings = tmp_path / name
    readings.write_bytes(BROKEN[name])
    result = run(readings, "--out", tmp_path / "out.jsonl")
    (line,) = refused_line(result.exit_code, result.stdout, result.stderr)
    assert line.startswith(f"linli: {readings}: ")
    assert not (tmp_path / "out.jsonl").exists()


def test_a_broken_file_through_the_installed_command(tmp_path: Path) -> None:
    readings = tmp_path / "binary.csv"
    readings.write_bytes(BROKEN["binary.csv"])
    result = linli("analyze", str(readings), "-o", "out.jsonl", cwd=tmp_path)
    (line,) = refused_line(result.returncode, result.stdout, result.stderr)
    assert line == f"linli: {readings}: no header row: line 1 should name the columns " + (
        "resident_id, measured_at, kind, systolic, diastolic, pulse, glucose_mmol_l, meal"
    )
    assert not (tmp_path / "out.jsonl").exists()


def refused_line(code: int, stdout: str, stderr: str) -> list[str]:
    """The stderr lines of a refused command, after checking it was refused: exit 2, no output."""
    assert code == 2, stderr
    assert stdout == ""
    return stderr.splitlines()
