"""`linli analyze`: replay CSV readings offline into FINDINGS.jsonl, whatever the rows hold."""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from analytics.readings import Profile
from analytics.replay import replay_resident
from analytics.rows import parse_reading
from service.cli.main import app
from service.replay.runs import ExternalSort
from tests.processes import linli

CST = timezone(timedelta(hours=8))
READING_HEADER = [
    "resident_id",
    "measured_at",
    "kind",
    "systolic",
    "diastolic",
    "pulse",
    "glucose_mmol_l",
    "meal",
    "irregular_pulse",
    "flags",
]
Row = Sequence[object]


def bp(resident: str, when: str, systolic: int, diastolic: int, pulse: int = 72) -> list[object]:
    return [resident, when, "blood_pressure", systolic, diastolic, pulse, "", "", 0, ""]


def glucose(resident: str, when: str, mmol_l: float, meal: str = "fasting") -> list[object]:
    return [resident, when, "glucose", "", "", "", mmol_l, meal, "", ""]


def write_csv(path: Path, rows: Sequence[Row], header: Sequence[str] = READING_HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(*args: str | Path) -> Any:
    """`linli analyze ...` in this process; the result has exit_code, stdout and stderr."""
    return CliRunner().invoke(app, ["analyze", *map(str, args)])


def refused(*args: str | Path) -> str:
    """The single stderr line of a refused `linli analyze` (exit 2, nothing on stdout)."""
    result = run(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


def findings(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cohort(residents: int = 12, days: int = 8, seed: int = 7) -> list[list[object]]:
    """Readings of a few residents over some days, a few of them high or low enough to alert."""
    rng = random.Random(seed)
    rows: list[list[object]] = []
    start = datetime(2024, 3, 1, tzinfo=CST)
    for number in range(residents):
        resident = f"R{number:03d}"
        for day in range(days):
            morning = start + timedelta(days=day, hours=7, minutes=rng.randrange(60))
            systolic = rng.choice([118, 132, 145, 165, 185, 212])
            rows.append(bp(resident, morning.isoformat(), systolic, rng.randrange(70, 105)))
            if rng.random() < 0.7:
                when = (morning - timedelta(minutes=30)).isoformat()
                rows.append(glucose(resident, when, rng.choice([2.8, 3.6, 5.5, 7.2, 14.0, 20.5])))
    return rows


class TestKnownFindings:
    def test_a_low_glucose_and_a_crisis_alert_and_a_normal_reading_does_not(
        self, tmp_path: Path
    ) -> None:
        readings = write_csv(
            tmp_path / "readings.csv",
            [
                bp("R3", "2024-03-01T08:00:00+08:00", 128, 82),
                glucose("R1", "2024-03-01T07:30:00+08:00", 2.8),
                bp("R2", "2024-03-01T09:00:00+08:00", 210, 100),
            ],
        )
        out = tmp_path / "findings.jsonl"
        result = run(readings, "--out", out, "--workers", "1")
        assert result.exit_code == 0, result.stderr
        lines = findings(out)
        assert [(f["resident_id"], f["rule"], f["severity"]) for f in lines] == [
            ("R1", "glucose.hypo.level2", "critical"),
            ("R2", "bp.crisis", "critical"),
        ]
        assert lines[0]["reading_at"] == "2024-03-01T07:30:00+08:00"
        assert result.stderr == ""
        assert "3 rows (0 bad); 3 residents; 2 findings (2 critical)" in result.stdout


class TestBadRows:
    def test_bad_rows_are_reported_by_line_counted_and_skipped(self, tmp_path: Path) -> None:
        readings = tmp_path / "readings.csv"
        write_csv(
            readings,
            [
                bp("R1", "2024-03-01T08:00:00+08:00", 128, 82),  # line 2
                [*bp("R1", "2024-03-01T09:00:00+08:00", 128, 82)[:3], "abc", 90, 70, "", ""],
                bp("R2", "2024-03-01T08:00:00", 210, 100),  # line 4: no offset
                [],  # a blank line: not a row
                glucose("R3", "2024-03-01T08:00:00+08:00", 2.8),  # line 6
                ["R4", "2024-03-01T08:00:00+08:00", "x"],  # line 7
                [*bp("R5", "2024-03-01T08:00:00+08:00", 210, 100), "extra"],  # line 8
                bp("R6", "2024-03-01T08:00:00+08:00", 211, 101),  # line 9
            ],
        )
        out = tmp_path / "findings.jsonl"
        result = run(readings, "--out", out, "--workers", "2")
        assert result.exit_code == 0, result.stderr
        assert result.stderr.splitlines() == [
            f"{readings}:3: systolic 'abc' is not a number",
            f"{readings}:4: measured_at '2024-03-01T08:00:00' has no UTC offset",
            f"{readings}:7: kind 'x' is not blood_pressure or glucose",
            f"{readings}:8: 11 fields where the header has 10",
        ]
        assert "7 rows (4 bad)" in result.stdout
        assert [(f["resident_id"], f["rule"]) for f in findings(out)] == [
            ("R3", "glucose.hypo.level2"),
            ("R6", "bp.crisis"),
        ]

    def test_only_the_first_twenty_are_shown_then_a_count(self, tmp_path: Path) -> None:
        rows = [bp(f"R{i}", "not a time", 120, 80) for i in range(25)]
        readings = write_csv(tmp_path / "readings.csv", rows)
        result = run(readings, "--out", tmp_path / "out.jsonl", "--workers", "2")
        assert result.exit_code == 0, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 21
        assert [line.split(":")[1] for line in lines[:20]] == [str(n) for n in range(2, 22)]
        assert lines[20] == f"{readings}: 5 more bad rows not shown"
        assert "25 rows (25 bad); 0 residents; 0 findings" in result.stdout

    def test_undecodable_bytes_and_oversized_fields_are_bad_rows(self, tmp_path: Path) -> None:
        readings = write_csv(
            tmp_path / "readings.csv", [bp("R1", "2024-03-01T08:00+08:00", 128, 82)]
        )
        with readings.open("ab") as file:
            file.write(b"R\xff,2024-03-01T08:00+08:00,blood_pressure,210,100,80,,,,\n")  # line 3
            file.write(b'R2,"' + b"x" * 200_000 + b"\n")  # line 4: a runaway quoted field
            file.write(b"R3,2024-03-01T08:00+08:00,blood_pressure,210,100,80,,,,\n")  # line 5
        out = tmp_path / "out.jsonl"
        result = run(readings, "--out", out, "--workers", "1")
        assert result.exit_code == 0, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == f"{readings}:3: resident_id 'R\\udcff' is not valid UTF-8"
        assert lines[1].startswith(f"{readings}:4: not CSV: field larger than field limit")
        assert "4 rows (2 bad)" in result.stdout
        assert [f["resident_id"] for f in findings(out)] == ["R3"]

    def test_residents_file_rows_are_checked_too(self, tmp_path: Path) -> None:
        readings = write_csv(tmp_path / "readings.csv", cohort(residents=3, days=2))
        residents = write_csv(
            tmp_path / "residents.csv",
            [
                ["R000", "1950-05-01", "hypertension;diabetes"],
                ["R001", "1950-13-01", ""],  # line 3
                ["R000", "1951-05-01", ""],  # line 4
                ["R099", "1940-01-01", "gout"],  # line 5
            ],
            header=["resident_id", "birth_date", "conditions"],
        )
        result = run(readings, "--residents", residents, "--out", tmp_path / "out.jsonl")
        assert result.exit_code == 0, result.stderr
        assert result.stderr.splitlines() == [
            f"{residents}:3: birth_date '1950-13-01' is not an ISO 8601 date",
            f"{residents}:4: resident_id 'R000' already on line 2",
            f"{residents}:5: unknown condition 'gout'",
        ]
        assert f"3 residents (2 not in {residents}, which has 3 bad rows)" in result.stdout


class TestBadFiles:
    @pytest.mark.parametrize(
        ("content", "words"),
        [
            (b"", "the file is empty (no header row)"),
            (b"R1,2024-03-01T08:00+08:00,glucose,,,,5.5,,,\n", "no header row: line 1 should name"),
            (b"resident_id,measured_at,kind,systolic\n", "missing column(s) diastolic, pulse"),
            (
                ",".join([*READING_HEADER, "kind"]).encode() + b"\n",
                "column(s) named twice in the header: kind",
            ),
        ],
    )
    def test_bad_readings_file(self, tmp_path: Path, content: bytes, words: str) -> None:
        readings = tmp_path / "readings.csv"
        readings.write_bytes(content)
        out = tmp_path / "out.jsonl"
        assert words in refused(readings, "--out", out)
        assert not out.exists()

    def test_missing_files_and_bad_options(self, tmp_path: Path) -> None:
        readings = write_csv(tmp_path / "readings.csv", cohort(residents=1, days=1))
        out = tmp_path / "out.jsonl"
        assert "no such file" in refused(tmp_path / "nope.csv", "--out", out)
        nope = tmp_path / "nope.csv"
        assert f"{nope}: no such file" in refused(readings, "--residents", nope, "--out", out)
        assert "is a directory" in refused(tmp_path, "--out", out)
        os.mkfifo(tmp_path / "pipe.csv")
        assert "not a regular file" in refused(tmp_path / "pipe.csv", "--out", out)
        assert "cannot write" in refused(readings, "--out", tmp_path / "no" / "out.jsonl")
        assert "has no UTC offset" in refused(readings, "--out", out, "--until", "2024-03-02")
        assert "is not an ISO 8601 time" in refused(readings, "--out", out, "--until", "soon")
        assert "Missing option '--out'" in refused(readings)
        assert not out.exists()

    def test_a_failed_run_leaves_the_old_output_and_no_temporary_file(self, tmp_path: Path) -> None:
        out = tmp_path / "out.jsonl"
        out.write_text("old\n")
        (tmp_path / "readings.csv").write_text("resident_id\n")
        refused(tmp_path / "readings.csv", "--out", out)
        assert out.read_text() == "old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "readings.csv"]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """A sorted cohort file and the findings replay_resident gives for it, as JSON."""
    rows = sorted(cohort(), key=lambda row: (str(row[0]), str(row[1])))
    path = write_csv(tmp_path_factory.mktemp("cohort") / "sorted.csv", rows)
    columns = READING_HEADER
    readings = [parse_reading(dict(zip(columns, map(str, row), strict=True))) for row in rows]
    lines = []
    for resident in sorted({r.resident_id for r in readings}):
        mine = [r for r in readings if r.resident_id == resident]
        found = sorted(replay_resident(Profile(resident), mine), key=lambda f: f.at)
        lines += [json.loads(json.dumps(f.to_json())) for f in found]
    assert len({line["rule"] for line in lines}) > 3
    return path, lines


class TestOrderAndParts:
    @pytest.mark.parametrize(
        ("workers", "chunk_rows", "shuffled"),
        [(1, 200_000, False), (1, 7, True), (2, 5, True), (3, 200_000, True)],
    )
    def test_same_findings_whatever_the_order_parts_and_chunks(
        self,
        tmp_path: Path,
        expected: tuple[Path, list[Any]],
        workers: int,
        chunk_rows: int,
        shuffled: bool,
    ) -> None:
        readings, lines = expected
        if shuffled:
            rows = readings.read_text().splitlines()
            body = rows[1:]
            random.Random(workers).shuffle(body)
            readings = tmp_path / "shuffled.csv"
            readings.write_text("\n".join([rows[0], *body]) + "\n")
        out = tmp_path / "out.jsonl"
        args = ["--workers", str(workers), "--chunk-rows", str(chunk_rows)]
        result = run(readings, "--out", out, *args, "--temp-dir", tmp_path)
        assert result.exit_code == 0, result.stderr
        assert findings(out) == lines
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            {"out.jsonl", readings.name} - {"sorted.csv"}
        )

    def test_until_stops_the_clock(self, tmp_path: Path, expected: tuple[Path, list[Any]]) -> None:
        readings, lines = expected
        out = tmp_path / "out.jsonl"
        until = "2024-03-03T00:00:00+08:00"
        result = run(readings, "--out", out, "--until", until)
        assert result.exit_code == 0, result.stderr
        times = [datetime.fromisoformat(f["at"]) for f in findings(out)]
        assert times
        assert max(times) <= datetime.fromisoformat(until)
        assert len(times) < len(lines)


class TestExternalSort:
    def test_many_runs_merged_in_several_passes(self, tmp_path: Path) -> None:
        rng = random.Random(3)
        records = [
            (f"R{rng.randrange(50)}", rng.randrange(10**12), rng.random()) for _ in range(500)
        ]
        sorter = ExternalSort(tmp_path, chunk_records=9, fan_in=3)
        for record in records:
            sorter.add(record)
        assert len(sorter.runs) == 55
        assert list(sorter.sorted()) == sorted(records)
        assert list(tmp_path.iterdir()) == []

    def test_in_memory_when_one_chunk_holds_everything(self, tmp_path: Path) -> None:
        sorter = ExternalSort(tmp_path, chunk_records=10)
        for record in [("b", 2), ("a", 1), ("b", 1)]:
            sorter.add(record)
        assert list(sorter.sorted()) == [("a", 1), ("b", 1), ("b", 2)]
        assert sorter.runs == []


def test_the_installed_command_writes_findings_and_a_summary(tmp_path: Path) -> None:
    readings = write_csv(tmp_path / "r.csv", [glucose("R1", "2024-03-01T07:30+08:00", 2.8)])
    result = linli("analyze", str(readings), "-o", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert "1 finding (1 critical) in out.jsonl" in result.stdout
    assert findings(tmp_path / "out.jsonl")[0]["rule"] == "glucose.hypo.level2"
