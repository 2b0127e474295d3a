"""The data-quality guard: which readings must not count, at and around every limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.detector import Detector
from analytics.findings import Severity, Status
from analytics.quality import Problem, check
from analytics.readings import Flag, Meal
from analytics.thresholds import DEFAULT_THRESHOLDS
from tests.analytics.builders import PROFILE, at, bp, glucose, observe_all, of_rule, summary

T = "2026-03-02 08:00"


def problem_of(reading):
    return check(reading, DEFAULT_THRESHOLDS).problem


class TestPlausibleBloodPressure:
    @pytest.mark.parametrize(
        ("systolic", "diastolic", "pulse"),
        [
            (60, 40, 72),  # lowest plausible systolic
            (300, 140, 72),  # highest plausible systolic
            (140, 30, 72),  # lowest plausible diastolic
            (250, 200, 72),  # highest plausible diastolic
            (130, 80, 25),  # slowest plausible pulse
            (130, 80, 250),  # fastest plausible pulse
            (130, 120, 72),  # the narrowest plausible gap
            (220, 60, 72),  # the widest plausible gap
            (130, 80, None),  # a cuff that gave no pulse
        ],
    )
    def test_values_at_the_limits_count(self, systolic, diastolic, pulse):
        verdict = check(bp(T, systolic, diastolic, pulse), DEFAULT_THRESHOLDS)
        assert verdict.counts
        assert verdict.problem is None

    @pytest.mark.parametrize(
        ("systolic", "diastolic", "pulse", "reason"),
        [
            (59, 40, 72, "systolic 59 outside 60-300"),
            (301, 150, 72, "systolic 301 outside 60-300"),
            (130, 121, 72, "systolic minus diastolic 9 outside 10-160"),
            (280, 40, 72, "systolic minus diastolic 240 outside 10-160"),
            (140, 29, 72, "diastolic 29 outside 30-200"),
            (250, 201, 72, "diastolic 201 outside 30-200"),
            (130, 80, 24, "pulse 24 outside 25-250"),
            (130, 80, 251, "pulse 251 outside 25-250"),
            (130, 130, 72, "diastolic 130 not below systolic 130"),
            (90, 120, 72, "diastolic 120 not below systolic 90"),
        ],
    )
    def test_values_beyond_the_limits_are_implausible(self, systolic, diastolic, pulse, reason):
        verdict = check(bp(T, systolic, diastolic, pulse), DEFAULT_THRESHOLDS)
        assert not verdict.counts
        assert verdict.problem is Problem.IMPLAUSIBLE
        assert verdict.reasons == (reason,)

    def test_every_implausible_value_is_named(self):
        verdict = check(bp(T, 320, 20, 300), DEFAULT_THRESHOLDS)
        assert verdict.reasons == (
            "systolic 320 outside 60-300",
            "diastolic 20 outside 30-200",
            "pulse 300 outside 25-250",
            "systolic minus diastolic 300 outside 10-160",
        )


class TestPlausibleGlucose:
    @pytest.mark.parametrize("mmol_l", [1.1, 1.2, 33.2, 33.3])
    def test_values_within_the_meters_range_count(self, mmol_l):
        assert problem_of(glucose(T, mmol_l)) is None

    @pytest.mark.parametrize("mmol_l", [1.0, 0.0, 33.4, 40.0])
    def test_values_outside_the_meters_range_are_implausible(self, mmol_l):
        assert problem_of(glucose(T, mmol_l)) is Problem.IMPLAUSIBLE

    @pytest.mark.parametrize(
        ("flag", "shown"), [(Flag.RESULT_TOO_HIGH, "HI"), (Flag.RESULT_TOO_LOW, "LO")]
    )
    def test_a_meters_hi_or_lo_is_implausible_whatever_the_number(self, flag, shown):
        verdict = check(glucose(T, 6.0, flags=[flag]), DEFAULT_THRESHOLDS)
        assert verdict.problem is Problem.IMPLAUSIBLE
        assert verdict.reasons == (f"meter showed {shown}",)


class TestDeviceAndClock:
    @pytest.mark.parametrize("flag", [Flag.BODY_MOVEMENT, Flag.CUFF_LOOSE, Flag.DEVICE_ERROR])
    def test_device_flags_on_blood_pressure(self, flag):
        verdict = check(bp(T, 130, 80, flags=[flag]), DEFAULT_THRESHOLDS)
        assert verdict.problem is Problem.DEVICE
        assert verdict.reasons == (str(flag),)

    def test_a_device_error_on_a_meter(self):
        assert problem_of(glucose(T, 6.0, flags=[Flag.DEVICE_ERROR])) is Problem.DEVICE

    def test_control_solution_is_its_own_problem_even_with_other_flags(self):
        reading = glucose(T, 40.0, flags=[Flag.CONTROL_SOLUTION, Flag.RESULT_TOO_HIGH])
        assert problem_of(reading) is Problem.CONTROL_SOLUTION

    def test_implausible_values_are_named_before_device_flags(self):
        assert problem_of(bp(T, 400, 80, flags=[Flag.CUFF_LOOSE])) is Problem.IMPLAUSIBLE

    def test_an_unset_device_clock(self):
        verdict = check(bp(T, 130, 80, flags=[Flag.CLOCK_UNSET]), DEFAULT_THRESHOLDS)
        assert verdict.problem is Problem.CLOCK
        assert verdict.reasons == ("the device's clock was not set",)

    @pytest.mark.parametrize(
        ("measured_after_receipt", "problem"),
        [
            (timedelta(minutes=-30), None),  # received half an hour after it was taken
            (timedelta(minutes=9, seconds=59), None),
            (timedelta(minutes=10), None),  # the tolerance itself
            (timedelta(minutes=10, seconds=1), Problem.CLOCK),
            (timedelta(days=30), Problem.CLOCK),
        ],
    )
    def test_a_time_later_than_its_receipt(self, measured_after_receipt, problem):
        received = at("2026-03-02 12:00")
        reading = bp(received + measured_after_receipt, 130, 80, received_at=received)
        assert problem_of(reading) is problem

    def test_without_a_receipt_time_no_time_is_in_the_future(self):
        assert problem_of(bp("2036-03-02 08:00", 130, 80)) is None


class TestGuardInTheDetector:
    """A marked reading is kept and counted, never a clinical alert, and never counts."""

    def test_an_implausible_pressure_is_a_record_for_nobody(self):
        findings = observe_all([bp(T, 320, 20, 72)])
        assert summary(findings) == [("quality.implausible", "info", "open")]
        (finding,) = findings
        assert finding.audience == ()
        assert finding.at == at(T)
        assert finding.reading_at == at(T)
        assert finding.evidence == {
            "reasons": [
                "systolic 320 outside 60-300",
                "diastolic 20 outside 30-200",
                "systolic minus diastolic 300 outside 10-160",
            ],
            "kind": "blood_pressure",
        }

    @pytest.mark.parametrize(
        ("reading", "rule"),
        [
            (bp(T, 210, 125, flags=[Flag.BODY_MOVEMENT]), "quality.device"),
            (bp(T, 85, 60, 130, flags=[Flag.CUFF_LOOSE]), "quality.device"),
            (glucose(T, 2.0, flags=[Flag.DEVICE_ERROR]), "quality.device"),
            (glucose(T, 1.0), "quality.implausible"),
            (glucose(T, 18.0, flags=[Flag.RESULT_TOO_HIGH]), "quality.implausible"),
            (glucose(T, 2.0, flags=[Flag.RESULT_TOO_LOW]), "quality.implausible"),
            (bp(T, 210, 125, flags=[Flag.CLOCK_UNSET]), "quality.clock"),
        ],
    )
    def test_an_alarming_value_with_a_problem_raises_no_clinical_alert(self, reading, rule):
        findings = observe_all([reading], until="2026-03-02 08:30")
        assert summary(findings) == [(rule, "info", "open")]
        assert findings[0].audience == ()

    def test_a_control_solution_check_is_counted_but_not_reported(self):
        detector = Detector(PROFILE)
        findings = detector.observe(glucose(T, 2.5, flags=[Flag.CONTROL_SOLUTION]))
        assert findings == []
        assert detector.state.quality == {"control_solution": 1}

    def test_problems_are_counted_by_kind(self):
        detector = Detector(PROFILE)
        for reading in [
            bp("2026-03-02 08:00", 320, 80),
            bp("2026-03-02 08:01", 130, 80, flags=[Flag.CUFF_LOOSE]),
            bp("2026-03-02 08:02", 130, 80, flags=[Flag.BODY_MOVEMENT]),
            glucose("2026-03-02 08:03", 5.0, flags=[Flag.CONTROL_SOLUTION]),
            bp("2026-03-02 08:04", 130, 80),
        ]:
            detector.observe(reading)
        assert detector.state.quality == {"implausible": 1, "device": 2, "control_solution": 1}

    def test_records_repeat_they_are_not_deduplicated(self):
        findings = observe_all([bp("2026-03-02 08:00", 350, 80), bp("2026-03-02 08:02", 350, 80)])
        assert summary(findings) == [("quality.implausible", "info", "open")] * 2

    def test_a_marked_reading_neither_opens_nor_settles_a_re_measure_window(self):
        # A loose cuff's 150/90 inside the window must not downgrade the first 186/112.
        findings = observe_all(
            [
                bp("2026-03-02 08:00", 186, 112),
                bp("2026-03-02 08:02", 150, 90, flags=[Flag.CUFF_LOOSE]),
            ],
            until="2026-03-02 08:10",
        )
        assert summary(findings) == [
            ("quality.device", "info", "open"),
            ("bp.urgent", "urgent", "open"),
        ]
        assert findings[1].at == at("2026-03-02 08:05")
        # ... and a moving arm's 190/115 opens no window of its own.
        findings = observe_all(
            [bp("2026-03-02 08:00", 190, 115, flags=[Flag.BODY_MOVEMENT])],
            until="2026-03-02 09:00",
        )
        assert summary(findings) == [("quality.device", "info", "open")]

    def test_marked_readings_do_not_count_toward_control_status(self):
        # A week of good readings, and each morning a second one with the arm moving at 190.
        readings = []
        for day in range(1, 16):
            readings.append(bp(f"2026-03-{day:02d} 08:00", 128, 78))
            readings.append(bp(f"2026-03-{day:02d} 08:03", 190, 100, flags=[Flag.BODY_MOVEMENT]))
        findings = observe_all(readings, until="2026-03-17 10:00")
        assert of_rule(findings, "bp.uncontrolled") == []
        assert {f.rule for f in findings} == {"quality.device"}

    def test_a_marked_glucose_is_not_a_hypo(self):
        findings = observe_all([glucose(T, 2.2, Meal.FASTING, flags=[Flag.DEVICE_ERROR])])
        assert of_rule(findings, "glucose.hypo.level2") == []
        assert findings[0].severity is Severity.INFO
        assert findings[0].status is Status.OPEN
