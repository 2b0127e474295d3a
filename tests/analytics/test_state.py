"""The resident's state as JSON: the live service stores it after every reading, so a series
replayed in one go must give exactly the findings of one replayed through JSON."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np

from analytics.detector import Detector
from analytics.findings import Audience, Finding
from analytics.readings import Flag, Meal, Reading
from analytics.state import ResidentState, Window
from tests.analytics.builders import PROFILE, YOUNGER, at, bp, glucose, noisy_systolic


def through_json(state: ResidentState) -> ResidentState:
    """The state as the live service would load it back."""
    return ResidentState.from_json(json.loads(json.dumps(state.to_json())))


def eventful_series() -> list[Reading]:
    """Eleven weeks of one resident with something of everything."""
    rng = np.random.default_rng(2026)
    start = at("2026-01-01 08:00")
    readings: list[Reading] = []
    for day in range(77):
        morning = start + timedelta(days=day)
        if 50 <= day < 56:
            continue  # a silence
        rise = 22 if day >= 60 else 0  # and a lasting rise
        systolic = round(132 + rise + float(rng.normal(0, 6)))
        readings.append(bp(morning, systolic, 84, 70, irregular=day in (3, 9, 15)))
        readings.append(glucose(morning - timedelta(minutes=30), 6.8 + day % 3 * 0.2, Meal.FASTING))
    events = [
        bp("2026-01-05 20:00", 186, 104),  # a confirmed pair
        bp("2026-01-05 20:02", 182, 100),
        bp("2026-01-05 21:00", 150, 90),  # ... then the all-clear
        bp("2026-01-12 20:00", 184, 96),  # downgraded
        bp("2026-01-12 20:03", 165, 92),
        bp("2026-01-19 20:00", 188, 102),  # never re-measured
        bp("2026-01-20 06:00", 205, 122),  # crisis
        bp("2026-01-20 06:30", 86, 58, 38),  # low, slow pulse
        bp("2026-01-20 07:30", 120, 76, 70),
        bp("2026-01-22 20:00", 250, 260),  # implausible
        bp("2026-01-23 20:00", 190, 100, flags=[Flag.CUFF_LOOSE]),
        bp("2026-01-24 20:00", 190, 100, flags=[Flag.CLOCK_UNSET]),
        glucose("2026-01-25 12:00", 3.5),
        glucose("2026-01-25 12:20", 2.8),
        glucose("2026-01-25 12:40", 5.6),
        glucose("2026-01-26 18:00", 14.5, Meal.POSTPRANDIAL),
        glucose("2026-01-27 18:00", 17.2, Meal.POSTPRANDIAL),
        glucose("2026-01-28 18:00", 15.0, Meal.POSTPRANDIAL),
        glucose("2026-01-29 18:00", 3.0, flags=[Flag.CONTROL_SOLUTION]),
        glucose("2026-01-30 18:00", 2.0, flags=[Flag.RESULT_TOO_LOW]),
    ]
    return sorted(readings + events, key=lambda r: r.measured_at)


def in_one_go(readings, profile=PROFILE) -> tuple[list[Finding], Detector]:
    detector = Detector(profile)
    findings = [f for r in readings for f in detector.observe(r)]
    return findings + detector.advance(at("2026-03-20 10:00")), detector


def through_json_every_time(readings, profile=PROFILE) -> tuple[list[Finding], ResidentState]:
    state = ResidentState()
    findings: list[Finding] = []
    for reading in readings:
        detector = Detector(profile, state=through_json(state))
        findings += detector.observe(reading)
        state = detector.state
    detector = Detector(profile, state=through_json(state))
    findings += detector.advance(at("2026-03-20 10:00"))
    return findings, detector.state


class TestRoundTrip:
    def test_an_empty_state(self):
        assert through_json(ResidentState()) == ResidentState()

    def test_a_state_with_everything_in_it(self):
        readings = eventful_series()
        _, detector = in_one_go(readings[:150])
        detector.state.window = Window(at("2026-02-20 08:00"), at("2026-02-20 08:05"), 186.0, 104.0)
        state = detector.state
        again = through_json(state)
        assert again == state
        assert again.to_json() == state.to_json()
        assert again.daily
        assert again.recent_times
        assert again.quality
        assert again.control

    def test_a_late_window_stays_late(self):
        state = ResidentState(
            window=Window(at("2026-03-01 20:00"), at("2026-03-01 20:05"), 186.0, 104.0, late=True)
        )
        assert through_json(state).window == state.window

    def test_a_window_stored_without_its_lateness_is_not_late(self):
        stored = {"window": ["2026-03-01T20:00:00+08:00", "2026-03-01T20:05:00+08:00", 186, 104]}
        window = ResidentState.from_json(stored).window
        assert window == Window(at("2026-03-01 20:00"), at("2026-03-01 20:05"), 186.0, 104.0)
        assert not window.late

    def test_the_json_is_plain_json(self):
        _, detector = in_one_go(eventful_series())
        text = json.dumps(detector.state.to_json(), allow_nan=False)
        assert json.loads(text) == detector.state.to_json()


class TestReplayThroughJson:
    def test_the_same_findings_with_the_state_stored_after_every_reading(self):
        readings = eventful_series()
        expected, detector = in_one_go(readings)
        got, state = through_json_every_time(readings)
        # The series is meant to exercise the rules: check that it does.
        rules = {f.rule for f in expected}
        assert {
            "bp.urgent",
            "bp.crisis",
            "bp.low",
            "pulse.abnormal",
            "pulse.irregular",
            "glucose.hypo.level1",
            "glucose.hypo.level2",
            "glucose.hyper.urgent",
            "glucose.hyper.repeated",
            "quality.implausible",
            "quality.device",
            "quality.clock",
            "adherence.missed",
            "bp.drift.up",
            "glucose.uncontrolled",
        } <= rules
        assert [f.to_json() for f in got] == [f.to_json() for f in expected]
        assert got == expected
        assert state.to_json() == detector.state.to_json()

    def test_a_window_stored_open_ends_the_same(self):
        readings = [bp("2026-03-02 08:00", 186, 104), bp("2026-03-02 08:03", 160, 90)]
        expected, _ = in_one_go(readings)
        got, _ = through_json_every_time(readings)
        assert got == expected
        assert [(f.rule, f.severity.label) for f in got if f.rule == "bp.urgent"] == [
            ("bp.urgent", "warning")
        ]

    def test_a_late_first_reading_through_json(self):
        received = at("2026-03-02 09:00")
        readings = [bp("2026-03-01 20:00", 186, 104, received_at=received)]
        expected, _ = in_one_go(readings)
        got, _ = through_json_every_time(readings)
        assert got == expected
        assert [(f.severity.label, f.audience) for f in got] == [("warning", (Audience.DOCTOR,))]

    def test_uncontrolled_blood_pressure_through_json(self):
        readings = noisy_systolic(5, 30, level=152, sd=3)
        expected, _ = in_one_go(readings, YOUNGER)
        got, _ = through_json_every_time(readings, YOUNGER)
        assert got == expected
        assert "bp.uncontrolled" in {f.rule for f in got}
