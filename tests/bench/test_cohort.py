"""The synthetic cohort: deterministic per seed, well-formed files, labels that match them."""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from analytics.synthetic import (
    BP,
    DAY,
    HOUR,
    BpEpisode,
    Drift,
    GlucoseEpisode,
    Habit,
    Window,
    draw_profile,
    resident_track,
)
from bench._cohort_labels import Label, resident_labels
from bench.cohort import CST, READINGS_HEADER, CohortConfig, generate

FILES = ("READINGS.csv", "RESIDENTS.csv", "LABELS.jsonl")
FLAGS = {"body_movement", "cuff_loose", "control_solution", "device_error"}
MEALS = {"", "fasting", "preprandial", "postprandial", "bedtime", "casual"}


def _write(tmp: Path, name: str, **config: object) -> Path:
    out = tmp / name
    generate(CohortConfig(**config), out)  # type: ignore[arg-type]
    return out


def _labels(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (directory / "LABELS.jsonl").read_bytes().splitlines()]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small cohort: 120 residents over 60 days."""
    return _write(tmp_path_factory.mktemp("cohort"), "c", residents=120, days=60, seed=11)


class TestDeterminism:
    def test_same_seed_same_files(self, tmp_path: Path) -> None:
        a = _write(tmp_path, "a", residents=6, days=20, seed=3)
        b = _write(tmp_path, "b", residents=6, days=20, seed=3)
        for name in FILES:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name

    def test_another_seed_other_readings(self, tmp_path: Path) -> None:
        a = _write(tmp_path, "a", residents=6, days=20, seed=3)
        b = _write(tmp_path, "b", residents=6, days=20, seed=4)
        assert (a / "READINGS.csv").read_bytes() != (b / "READINGS.csv").read_bytes()

    def test_a_resident_does_not_depend_on_the_cohort_size(self, tmp_path: Path) -> None:
        small = _write(tmp_path, "small", residents=3, days=20, seed=5)
        large = _write(tmp_path, "large", residents=9, days=20, seed=5)

        def rows_of(directory: Path, resident: str) -> list[str]:
            lines = (directory / "READINGS.csv").read_text().splitlines()
            return [line for line in lines if line.startswith(resident + ",")]

        assert rows_of(small, "R000002") == rows_of(large, "R000002") != []


class TestFiles:
    def test_readings_are_well_formed(self, cohort: Path) -> None:
        with (cohort / "READINGS.csv").open(newline="") as f:
            reader = csv.DictReader(f)
            assert ",".join(reader.fieldnames or ()) == READINGS_HEADER
            rows = list(reader)
        assert len(rows) > 120 * 30
        last: dict[str, datetime] = {}
        for row in rows:
            at = datetime.fromisoformat(row["measured_at"])
            assert at.utcoffset() == timedelta(hours=8)
            assert at >= last.get(row["resident_id"], at)  # each resident in time order
            last[row["resident_id"]] = at
            assert set(filter(None, row["flags"].split(";"))) <= FLAGS
            assert row["meal"] in MEALS
            assert row["irregular_pulse"] in {"0", "1"}
            if row["kind"] == "blood_pressure":
                assert row["systolic"]
                assert row["diastolic"]
                assert row["pulse"]
                assert not row["glucose_mmol_l"]
                assert not row["meal"]
            else:
                assert row["kind"] == "glucose"
                assert 1.1 <= float(row["glucose_mmol_l"]) <= 33.3
                assert not row["systolic"]
                assert not (row["diastolic"])
                assert not (row["pulse"])

    def test_residents_are_elderly_with_conditions(self, cohort: Path) -> None:
        with (cohort / "RESIDENTS.csv").open(newline="") as f:
            residents = list(csv.DictReader(f))
        assert len(residents) == 120
        conditions = Counter(r["conditions"] for r in residents)
        assert set(conditions) == {"hypertension", "diabetes", "hypertension;diabetes"}
        for r in residents:
            age = (date(2025, 10, 1) - date.fromisoformat(r["birth_date"])).days / 365.25
            assert 59.9 <= age <= 90.1

    def test_labels_name_readings_of_the_file_and_urgent_ones_cross_thresholds(
        self, cohort: Path
    ) -> None:
        with (cohort / "READINGS.csv").open(newline="") as f:
            readings = {(r["resident_id"], r["measured_at"]): r for r in csv.DictReader(f)}
        labels = _labels(cohort)
        for lab in labels:
            for at in lab["readings"]:
                assert (lab["resident_id"], at) in readings
            for urgent in lab["urgent_readings"]:
                row = readings[str(lab["resident_id"]), urgent["measured_at"]]
                assert not row["flags"]
                if urgent["category"] == "bp":
                    assert float(row["systolic"]) >= 180 or float(row["diastolic"]) >= 110
                else:
                    glucose = float(row["glucose_mmol_l"])
                    limit = {"hypo1": glucose < 3.9, "hypo2": glucose < 3.0}
                    assert limit.get(urgent["category"], glucose >= 16.7)

    def test_the_injected_event_types_are_there(self, cohort: Path) -> None:
        injected = {lab["type"] for lab in _labels(cohort) if lab["origin"] == "injected"}
        assert {"bp_drift", "silence", "device_error", "hyper_severe"} <= injected
        assert {"bp_urgent", "bp_crisis"} & injected
        assert {"hypo_level1", "hypo_level2"} & injected


class TestPlannedEvents:
    """One resident with planned events, checked in the readings and in the labels."""

    @pytest.fixture
    def resident(self) -> tuple[np.ndarray, np.ndarray, list[Label]]:
        config = CohortConfig(residents=1, days=80)
        base = draw_profile(np.random.default_rng([1, 0]), "R1", config.period)
        profile = dataclasses.replace(
            base,
            diabetes=True,
            bp_habit=Habit.TWICE_DAILY,
            glucose_habit=Habit.DAILY,
            bp_scale=1.0,
            skip_day=0.0,
            skip_weekends=False,
            movement_rate=0.0,
            cuff_rate=0.0,
            implausible_rate=0.0,
            glucose_error_rate=0.0,
            control_tests=(),
            bp_episodes=(BpEpisode(5 * DAY + 10 * HOUR, 215.0, None, False, False),),
            hypos=(GlucoseEpisode(10 * DAY + 15 * HOUR, 2.5, recheck=True),),
            hypers=(GlucoseEpisode(20 * DAY + 9 * HOUR, 20.0, days=1.5),),
            drift=Drift(30 * DAY, 2 * DAY, 55 * DAY, 25.0),
            silences=(Window(60 * DAY, 66 * DAY),),
        )
        track = resident_track(np.random.default_rng([1, 1]), profile, config.period)
        labels = resident_labels(profile, track, config.period)
        bp = track.kind == BP
        return track.t[bp], track.systolic[bp], list(labels)

    def _injected(self, labels: list[Label], kind: str) -> list[Label]:
        return [x for x in labels if x.type == kind and x.origin == "injected"]

    def test_crisis_hypo_and_hyperglycaemia_are_labelled_at_their_time(
        self, resident: tuple[np.ndarray, np.ndarray, list[Label]]
    ) -> None:
        _, _, labels = resident
        (crisis,) = self._injected(labels, "bp_crisis")
        assert crisis.onset == 5 * DAY + 10 * HOUR
        assert crisis.urgent[0] == (5 * DAY + 10 * HOUR, "bp")
        (hypo,) = self._injected(labels, "hypo_level2")
        assert hypo.onset == 10 * DAY + 15 * HOUR
        assert hypo.urgent[0] == (10 * DAY + 15 * HOUR, "hypo2")
        (hyper,) = self._injected(labels, "hyper_severe")
        assert hyper.onset == 20 * DAY + 9 * HOUR

    def test_drift_raises_systolic_and_is_labelled(
        self, resident: tuple[np.ndarray, np.ndarray, list[Label]]
    ) -> None:
        t, systolic, labels = resident
        before = systolic[(t > 8 * DAY) & (t < 28 * DAY)].mean()
        plateau = systolic[(t > 34 * DAY) & (t < 54 * DAY)].mean()
        assert 15 < plateau - before < 35
        (drift,) = self._injected(labels, "bp_drift")
        # Labelled from when the rise reaches 15 of its 25 mmHg: 0.6 of the 2-day ramp.
        assert (drift.onset, drift.end) == (30 * DAY + int(2 * DAY * 15 / 25), 55 * DAY)

    def test_a_silence_has_no_readings_and_is_labelled(
        self, resident: tuple[np.ndarray, np.ndarray, list[Label]]
    ) -> None:
        t, _, labels = resident
        assert not ((t >= 60 * DAY) & (t < 66 * DAY)).any()
        (silence,) = self._injected(labels, "silence")
        assert silence.subgroup == "beyond usual gap"


def test_label_times_carry_the_residents_offset(cohort: Path) -> None:
    onset = str(_labels(cohort)[0]["onset"])
    assert datetime.fromisoformat(onset).tzinfo is not None
    assert datetime.fromisoformat(onset).utcoffset() == CST.utcoffset(None)
