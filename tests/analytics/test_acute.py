"""Guideline rules on each reading, at, just below and just above every line, and the
re-measure window after a first reading at or above the urgent-referral line."""

from __future__ import annotations

import pytest

from analytics.detector import Detector
from analytics.findings import Audience
from analytics.readings import Kind, Meal, Reading
from analytics.thresholds import DEFAULT_THRESHOLDS
from tests.analytics.builders import PROFILE, at, bp, glucose, observe_all, of_rule, summary

FAMILY_AND_DOCTOR = (Audience.FAMILY, Audience.DOCTOR)
DOCTOR = (Audience.DOCTOR,)
T = "2026-03-02 08:00"
LATER = "2026-03-02 09:00"  # well after any re-measure window of a reading at T


class TestUrgentLine:
    @pytest.mark.parametrize(
        ("systolic", "diastolic"),
        [(179, 109), (179, 80), (150, 109)],
    )
    def test_just_below_the_line_nothing_is_raised(self, systolic, diastolic):
        assert observe_all([bp(T, systolic, diastolic)], until=LATER) == []

    @pytest.mark.parametrize(
        ("systolic", "diastolic"),
        [(180, 100), (181, 100), (170, 110), (170, 111), (199, 119)],
    )
    def test_at_or_above_the_line_waits_for_a_re_measurement(self, systolic, diastolic):
        first = bp(T, systolic, diastolic)
        detector = Detector(PROFILE)
        assert detector.observe(first) == []  # nobody is called yet
        assert detector.advance(at("2026-03-02 08:04")) == []
        findings = detector.advance(at(LATER))
        assert summary(findings) == [("bp.urgent", "urgent", "open")]
        assert findings[0].at == at("2026-03-02 08:05")

    @pytest.mark.parametrize(
        ("systolic", "diastolic"),
        [(200, 100), (201, 100), (170, 120), (199, 121)],
    )
    def test_an_extreme_value_is_a_crisis_at_once(self, systolic, diastolic):
        findings = observe_all([bp(T, systolic, diastolic)])
        assert summary(findings) == [("bp.crisis", "critical", "open")]
        (crisis,) = findings
        assert crisis.audience == FAMILY_AND_DOCTOR
        assert crisis.at == at(T)
        assert crisis.evidence == {"systolic": systolic, "diastolic": diastolic}

    def test_a_crisis_is_not_raised_twice_and_clears_below_the_urgent_line(self):
        findings = observe_all(
            [
                bp("2026-03-02 08:00", 205, 118),
                bp("2026-03-02 08:02", 210, 121),
                bp("2026-03-02 08:20", 178, 100),
            ]
        )
        assert summary(findings) == [
            ("bp.crisis", "critical", "open"),
            ("bp.crisis", "info", "cleared"),
        ]
        cleared = findings[1]
        assert cleared.at == at("2026-03-02 08:20")
        assert cleared.audience == FAMILY_AND_DOCTOR

    def test_a_crisis_inside_a_window_closes_the_window(self):
        findings = observe_all(
            [bp("2026-03-02 08:00", 185, 100), bp("2026-03-02 08:02", 205, 100)], until=LATER
        )
        assert summary(findings) == [("bp.crisis", "critical", "open")]


class TestRemeasureWindow:
    def test_a_second_reading_at_or_above_the_line_confirms(self):
        findings = observe_all(
            [bp("2026-03-02 08:00", 186, 104), bp("2026-03-02 08:02", 180, 98)], until=LATER
        )
        assert summary(findings) == [("bp.urgent", "urgent", "open")]
        (urgent,) = findings
        assert urgent.at == at("2026-03-02 08:02")
        assert urgent.audience == FAMILY_AND_DOCTOR
        assert urgent.evidence == {
            "first_at": "2026-03-02T08:00:00+08:00",
            "first": [186, 104],
            "second": [180, 98],
            "second_at": "2026-03-02T08:02:00+08:00",
            "confirmed": True,
        }

    def test_a_diastolic_only_confirmation(self):
        findings = observe_all(
            [bp("2026-03-02 08:00", 175, 112), bp("2026-03-02 08:03", 172, 110)], until=LATER
        )
        assert summary(findings) == [("bp.urgent", "urgent", "open")]

    def test_a_lower_second_reading_downgrades_to_a_warning_for_the_doctor(self):
        findings = observe_all(
            [bp("2026-03-02 08:00", 186, 104), bp("2026-03-02 08:02", 179, 109)], until=LATER
        )
        assert summary(findings) == [("bp.urgent", "warning", "open")]
        (warning,) = findings
        assert warning.audience == DOCTOR
        assert warning.at == at("2026-03-02 08:02")
        assert warning.evidence["downgraded"] is True
        assert warning.evidence["second"] == [179, 109]

    def test_no_second_reading_raises_it_at_the_windows_end(self):
        findings = observe_all([bp("2026-03-02 08:00", 186, 104)], until=LATER)
        assert summary(findings) == [("bp.urgent", "urgent", "open")]
        (urgent,) = findings
        assert urgent.at == at("2026-03-02 08:05")
        assert urgent.reading_at == at("2026-03-02 08:00")
        assert urgent.audience == FAMILY_AND_DOCTOR
        assert urgent.evidence == {
            "first_at": "2026-03-02T08:00:00+08:00",
            "first": [186, 104],
            "confirmed": False,
        }

    def test_a_second_reading_just_inside_the_window_downgrades(self):
        findings = observe_all(
            [bp("2026-03-02 08:00:00", 186, 104), bp("2026-03-02 08:04:59", 150, 90)],
            until=LATER,
        )
        assert summary(findings) == [("bp.urgent", "warning", "open")]

    def test_a_second_reading_at_the_windows_last_moment_still_counts(self):
        findings = observe_all(
            [bp("2026-03-02 08:00:00", 186, 104), bp("2026-03-02 08:05:00", 150, 90)],
            until=LATER,
        )
        assert summary(findings) == [("bp.urgent", "warning", "open")]

    def test_a_reading_without_values_is_judged_by_no_rule(self):
        empty_bp = Reading("r1", at("2026-03-02 08:00"), Kind.BLOOD_PRESSURE)
        empty_glucose = Reading("r1", at("2026-03-02 08:10"), Kind.GLUCOSE)
        assert observe_all([empty_bp, empty_glucose], until=LATER) == []

    def test_a_reading_after_the_window_comes_too_late_to_downgrade(self):
        # The window ended at 08:05: raised then; the lower reading at 08:06 is an all-clear.
        findings = observe_all(
            [bp("2026-03-02 08:00", 186, 104), bp("2026-03-02 08:06", 150, 90)], until=LATER
        )
        assert summary(findings) == [
            ("bp.urgent", "urgent", "open"),
            ("bp.urgent", "info", "cleared"),
        ]
        assert [f.at for f in findings] == [at("2026-03-02 08:05"), at("2026-03-02 08:06")]

    def test_the_window_length_is_a_threshold(self):
        th = DEFAULT_THRESHOLDS.with_overrides({"remeasure_minutes": 10})
        findings = observe_all(
            [bp("2026-03-02 08:00", 186, 104), bp("2026-03-02 08:08", 150, 90)],
            thresholds=th,
            until=LATER,
        )
        assert summary(findings) == [("bp.urgent", "warning", "open")]

    def test_each_first_reading_opens_its_own_window(self):
        # Confirmed in the morning, confirmed again in the evening: one alert, not two.
        findings = observe_all(
            [
                bp("2026-03-02 08:00", 186, 104),
                bp("2026-03-02 08:02", 184, 100),
                bp("2026-03-02 19:00", 190, 104),
                bp("2026-03-02 19:02", 188, 100),
            ],
            until="2026-03-02 20:00",
        )
        assert summary(findings) == [("bp.urgent", "urgent", "open")]

    def test_a_downgraded_warning_rises_when_a_later_pair_confirms(self):
        findings = observe_all(
            [
                bp("2026-03-02 08:00", 186, 104),
                bp("2026-03-02 08:02", 160, 95),
                bp("2026-03-02 19:00", 190, 104),
                bp("2026-03-02 19:02", 188, 100),
            ],
            until="2026-03-02 20:00",
        )
        assert summary(findings) == [
            ("bp.urgent", "warning", "open"),
            ("bp.urgent", "urgent", "raised"),
        ]
        assert findings[1].audience == FAMILY_AND_DOCTOR
        assert findings[1].at == at("2026-03-02 19:02")

    def test_a_reading_below_the_line_outside_a_window_clears(self):
        findings = observe_all(
            [
                bp("2026-03-02 08:00", 186, 104),
                bp("2026-03-02 08:02", 184, 100),
                bp("2026-03-02 12:00", 179, 109),
            ]
        )
        assert summary(findings) == [
            ("bp.urgent", "urgent", "open"),
            ("bp.urgent", "info", "cleared"),
        ]
        assert findings[1].audience == FAMILY_AND_DOCTOR


class TestLowPressureAndPulse:
    @pytest.mark.parametrize(("systolic", "raised"), [(89, True), (89.5, True), (90, False)])
    def test_low_systolic(self, systolic, raised):
        findings = observe_all([bp(T, systolic, 60)])
        if raised:
            assert summary(findings) == [("bp.low", "warning", "open")]
            assert findings[0].audience == FAMILY_AND_DOCTOR
            assert findings[0].evidence == {"systolic": systolic}
        else:
            assert findings == []

    def test_low_systolic_clears_at_the_line(self):
        findings = observe_all([bp("2026-03-02 08:00", 86, 58), bp("2026-03-02 18:00", 90, 60)])
        assert summary(findings) == [("bp.low", "warning", "open"), ("bp.low", "info", "cleared")]

    @pytest.mark.parametrize(
        ("pulse", "raised"), [(39, True), (40, False), (120, False), (121, True)]
    )
    def test_pulse_outside_40_to_120(self, pulse, raised):
        findings = observe_all([bp(T, 130, 80, pulse)])
        if raised:
            assert summary(findings) == [("pulse.abnormal", "warning", "open")]
            assert findings[0].evidence == {"pulse": pulse}
            assert findings[0].audience == FAMILY_AND_DOCTOR
        else:
            assert findings == []

    def test_abnormal_pulse_clears_when_back_inside(self):
        findings = observe_all(
            [bp("2026-03-02 08:00", 130, 80, 130), bp("2026-03-02 18:00", 130, 80, 118)]
        )
        assert summary(findings) == [
            ("pulse.abnormal", "warning", "open"),
            ("pulse.abnormal", "info", "cleared"),
        ]

    def test_a_cuff_without_a_pulse_neither_raises_nor_clears_it(self):
        findings = observe_all(
            [bp("2026-03-02 08:00", 130, 80, 130), bp("2026-03-02 18:00", 130, 80, None)]
        )
        assert summary(findings) == [("pulse.abnormal", "warning", "open")]


class TestIrregularPulse:
    def test_three_flags_within_14_days_make_a_note_for_the_doctor(self):
        findings = observe_all(
            [
                bp("2026-03-01 08:00", 130, 80, irregular=True),
                bp("2026-03-07 08:00", 130, 80, irregular=True),
                bp("2026-03-14 07:59", 130, 80, irregular=True),
            ]
        )
        assert summary(findings) == [("pulse.irregular", "info", "open")]
        (note,) = findings
        assert note.audience == DOCTOR
        assert note.at == at("2026-03-14 07:59")
        assert note.evidence == {"count": 3, "days": 14}

    def test_two_flags_are_not_yet_a_pattern(self):
        findings = observe_all(
            [
                bp("2026-03-01 08:00", 130, 80, irregular=True),
                bp("2026-03-01 08:02", 130, 80, irregular=False),
                bp("2026-03-07 08:00", 130, 80, irregular=True),
            ]
        )
        assert findings == []

    def test_a_flag_older_than_14_days_is_forgotten(self):
        findings = observe_all(
            [
                bp("2026-03-01 08:00", 130, 80, irregular=True),
                bp("2026-03-07 08:00", 130, 80, irregular=True),
                bp("2026-03-15 08:00", 130, 80, irregular=True),  # 14 days after the first
            ]
        )
        assert of_rule(findings, "pulse.irregular") == []

    def test_the_note_clears_once_no_flag_is_left_in_the_14_days(self):
        findings = observe_all(
            [bp(f"2026-03-0{day} 08:00", 130, 80, irregular=True) for day in (1, 2, 3)],
            until="2026-03-18 10:00",
        )
        notes = of_rule(findings, "pulse.irregular")
        assert summary(notes) == [
            ("pulse.irregular", "info", "open"),
            ("pulse.irregular", "info", "cleared"),
        ]
        # The last flag (03-03 08:00) is 14 days old at the daily check of 03-17, 09:00.
        assert notes[1].at == at("2026-03-17 09:00")


class TestLowGlucose:
    @pytest.mark.parametrize(
        ("mmol_l", "expected"),
        [
            (3.9, []),
            (3.8, [("glucose.hypo.level1", "warning", "open")]),
            (3.0, [("glucose.hypo.level1", "warning", "open")]),
            (2.9, [("glucose.hypo.level2", "critical", "open")]),
            (1.1, [("glucose.hypo.level2", "critical", "open")]),
        ],
    )
    def test_levels_of_low_blood_sugar(self, mmol_l, expected):
        findings = observe_all([glucose(T, mmol_l, Meal.FASTING)])
        assert summary(findings) == expected
        for finding in findings:
            assert finding.audience == FAMILY_AND_DOCTOR
            assert finding.evidence == {"glucose_mmol_l": mmol_l, "meal": "fasting"}

    def test_level_two_after_level_one_and_both_clear_at_3_9(self):
        findings = observe_all(
            [
                glucose("2026-03-02 07:00", 3.5),
                glucose("2026-03-02 07:15", 2.8),
                glucose("2026-03-02 07:30", 3.4),  # better, still low: nothing new
                glucose("2026-03-02 07:45", 3.9),
            ]
        )
        assert summary(findings) == [
            ("glucose.hypo.level1", "warning", "open"),
            ("glucose.hypo.level2", "critical", "open"),
            ("glucose.hypo.level2", "info", "cleared"),
            ("glucose.hypo.level1", "info", "cleared"),
        ]
        assert [f.at for f in findings[2:]] == [at("2026-03-02 07:30"), at("2026-03-02 07:45")]


class TestHighGlucose:
    @pytest.mark.parametrize(("mmol_l", "raised"), [(16.6, False), (16.7, True), (16.8, True)])
    def test_urgent_referral_line(self, mmol_l, raised):
        findings = observe_all([glucose(T, mmol_l, Meal.POSTPRANDIAL)])
        if raised:
            assert summary(findings) == [("glucose.hyper.urgent", "urgent", "open")]
            assert findings[0].audience == FAMILY_AND_DOCTOR
            assert findings[0].evidence == {"glucose_mmol_l": mmol_l, "meal": "postprandial"}
        else:
            assert findings == []

    def test_urgent_high_clears_below_the_line(self):
        findings = observe_all(
            [glucose("2026-03-02 12:00", 18.0), glucose("2026-03-02 15:00", 16.6)]
        )
        assert summary(findings) == [
            ("glucose.hyper.urgent", "urgent", "open"),
            ("glucose.hyper.urgent", "info", "cleared"),
        ]

    def test_three_times_at_or_above_13_9_within_7_days(self):
        findings = observe_all(
            [
                glucose("2026-03-01 12:00", 13.9),
                glucose("2026-03-03 12:00", 12.0),
                glucose("2026-03-05 12:00", 14.5),
                glucose("2026-03-08 11:59", 13.9),
            ]
        )
        assert summary(findings) == [("glucose.hyper.repeated", "warning", "open")]
        (repeated,) = findings
        assert repeated.audience == DOCTOR
        assert repeated.at == at("2026-03-08 11:59")
        assert repeated.evidence == {"count": 3, "latest_mmol_l": 13.9}

    def test_just_below_13_9_does_not_count(self):
        findings = observe_all([glucose(f"2026-03-0{day} 12:00", 13.8) for day in (1, 2, 3, 4)])
        assert findings == []

    def test_the_third_high_a_week_after_the_first_does_not_make_three(self):
        findings = observe_all(
            [
                glucose("2026-03-01 12:00", 14.0),
                glucose("2026-03-05 12:00", 14.0),
                glucose("2026-03-08 12:00", 14.0),  # exactly 7 days after the first
            ]
        )
        assert findings == []

    def test_urgent_highs_also_count_as_repeated_highs(self):
        findings = observe_all([glucose(f"2026-03-0{day} 12:00", 17.0) for day in (1, 2, 3)])
        assert summary(findings) == [
            ("glucose.hyper.urgent", "urgent", "open"),
            ("glucose.hyper.repeated", "warning", "open"),
        ]

    def test_repeated_highs_clear_once_a_week_passes_without_one(self):
        findings = observe_all(
            [glucose(f"2026-03-0{day} 12:00", 14.2) for day in (1, 2, 3)]
            + [glucose("2026-03-06 12:00", 8.0)],
            until="2026-03-11 10:00",
        )
        assert summary(of_rule(findings, "glucose.hyper.repeated")) == [
            ("glucose.hyper.repeated", "warning", "open"),
            ("glucose.hyper.repeated", "info", "cleared"),
        ]
        assert of_rule(findings, "glucose.hyper.repeated")[1].at == at("2026-03-11 09:00")
