"""Control status: the mean of each 7-day period against the resident's target."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from analytics.control import bp_target, period_status
from analytics.findings import Audience
from analytics.readings import Condition, Meal, Profile
from analytics.thresholds import DEFAULT_THRESHOLDS
from tests.analytics.builders import (
    PROFILE,
    RESIDENT,
    YOUNGER,
    at,
    bp,
    glucose,
    observe_all,
    of_rule,
    summary,
)

# Readings from Monday 2026-03-02; the first daily check (03-02 09:00) starts the periods,
# so verdicts fall at 09:00 on 03-09 (for 03-02..03-08), 03-16 and 03-23.
FIRST = date(2026, 3, 2)


def days(first_day: int, count: int, systolic: float, diastolic: float):
    """One reading at 08:00 on each of `count` days from 2026-03-(first_day)."""
    start = at("2026-03-01 08:00") + timedelta(days=first_day - 1)
    return [bp(start + timedelta(days=i), systolic, diastolic) for i in range(count)]


def fasting(first_day: int, count: int, mmol_l: float, meal: Meal = Meal.FASTING):
    start = at("2026-03-01 07:00") + timedelta(days=first_day - 1)
    return [glucose(start + timedelta(days=i), mmol_l, meal) for i in range(count)]


class TestTarget:
    @pytest.mark.parametrize(
        ("birth", "target"),
        [
            (date(1961, 3, 10), (150, 90)),  # 65 today
            (date(1961, 3, 11), (140, 90)),  # 65 tomorrow
            (date(1940, 1, 1), (150, 90)),
            (None, (140, 90)),  # age unknown: the general target
        ],
    )
    def test_the_target_depends_on_age_on_the_day(self, birth, target):
        profile = Profile(RESIDENT, birth)
        assert bp_target(profile, date(2026, 3, 10), DEFAULT_THRESHOLDS) == target


class TestPeriodStatus:
    def sums(self, per_day):
        """Daily sums (systolic, diastolic, count, fasting, count) for the week before 03-09."""
        return {(FIRST + timedelta(days=i)).toordinal(): list(s) for i, s in enumerate(per_day)}

    def test_the_mean_of_the_period_is_compared_with_the_target(self):
        daily = self.sums([[150, 92, 1, 0, 0], [280, 168, 2, 0, 0], [130, 80, 1, 0, 0]])
        (verdict,) = period_status(YOUNGER, daily, date(2026, 3, 9), DEFAULT_THRESHOLDS)
        assert verdict.kind == "bp"
        assert verdict.level == (140.0, 85.0)
        assert verdict.target == (140, 90)
        assert verdict.readings == 4
        assert not verdict.controlled  # 140 is not below 140

    @pytest.mark.parametrize(
        ("systolic", "diastolic", "controlled"),
        [(139, 89, True), (139.9, 80, True), (140, 80, False), (130, 90, False), (141, 70, False)],
    )
    def test_below_140_over_90_under_65(self, systolic, diastolic, controlled):
        daily = self.sums([[systolic, diastolic, 1, 0, 0]] * 3)
        (verdict,) = period_status(YOUNGER, daily, date(2026, 3, 9), DEFAULT_THRESHOLDS)
        assert verdict.controlled is controlled

    @pytest.mark.parametrize(
        ("systolic", "diastolic", "controlled"),
        [(149, 89, True), (145, 85, True), (150, 80, False), (140, 90, False)],
    )
    def test_below_150_over_90_from_65(self, systolic, diastolic, controlled):
        daily = self.sums([[systolic, diastolic, 1, 0, 0]] * 3)
        (verdict,) = period_status(PROFILE, daily, date(2026, 3, 9), DEFAULT_THRESHOLDS)
        assert verdict.target == (150, 90)
        assert verdict.controlled is controlled

    @pytest.mark.parametrize(("mmol_l", "controlled"), [(6.9, True), (7.0, False), (7.1, False)])
    def test_fasting_glucose_below_7(self, mmol_l, controlled):
        daily = self.sums([[0, 0, 0, mmol_l, 1]] * 3)
        (verdict,) = period_status(PROFILE, daily, date(2026, 3, 9), DEFAULT_THRESHOLDS)
        assert verdict.kind == "glucose"
        assert verdict.controlled is controlled
        assert verdict.level == (mmol_l,)

    def test_fewer_than_three_readings_give_no_verdict(self):
        daily = self.sums([[300, 190, 2, 16.0, 2]])
        assert period_status(PROFILE, daily, date(2026, 3, 9), DEFAULT_THRESHOLDS) == []

    def test_only_the_seven_days_before_the_check_count(self):
        daily = self.sums([[200, 100, 1, 0, 0]] * 9)  # 03-02 .. 03-10
        daily[date(2026, 3, 1).toordinal()] = [500, 300, 1, 0, 0]  # before the period
        (verdict,) = period_status(YOUNGER, daily, date(2026, 3, 9), DEFAULT_THRESHOLDS)
        assert verdict.readings == 7

    def test_only_the_watched_conditions_get_a_verdict(self):
        daily = self.sums([[150, 95, 1, 8.0, 1]] * 3)
        hypertension = Profile(RESIDENT, date(1970, 1, 1), frozenset({Condition.HYPERTENSION}))
        diabetes = Profile(RESIDENT, date(1970, 1, 1), frozenset({Condition.DIABETES}))
        unknown = Profile(RESIDENT, date(1970, 1, 1))
        end = date(2026, 3, 9)
        assert [v.kind for v in period_status(hypertension, daily, end, DEFAULT_THRESHOLDS)] == [
            "bp"
        ]
        assert [v.kind for v in period_status(diabetes, daily, end, DEFAULT_THRESHOLDS)] == [
            "glucose"
        ]
        assert [v.kind for v in period_status(unknown, daily, end, DEFAULT_THRESHOLDS)] == [
            "bp",
            "glucose",
        ]


class TestUncontrolledInTheDetector:
    def test_two_periods_above_target_make_a_follow_up_for_the_doctor(self):
        findings = observe_all(days(2, 14, 145, 85), profile=YOUNGER, until="2026-03-16 10:00")
        assert summary(findings) == [("bp.uncontrolled", "warning", "open")]
        (finding,) = findings
        assert finding.audience == (Audience.DOCTOR,)
        assert finding.at == at("2026-03-16 09:00")
        assert finding.reading_at is None
        assert finding.evidence == {
            "level": [145.0, 85.0],
            "target": [140, 90],
            "readings": 7,
            "period_days": 7,
        }

    def test_one_period_above_target_is_not_yet_a_finding(self):
        readings = days(2, 7, 145, 85) + days(9, 7, 132, 80)
        assert observe_all(readings, profile=YOUNGER, until="2026-03-16 10:00") == []

    def test_the_same_readings_are_at_target_from_65(self):
        assert observe_all(days(2, 14, 145, 85), profile=PROFILE, until="2026-03-16 10:00") == []

    def test_a_controlled_period_clears_it(self):
        readings = days(2, 14, 145, 85) + days(16, 7, 132, 80)
        findings = observe_all(readings, profile=YOUNGER, until="2026-03-23 10:00")
        assert summary(findings) == [
            ("bp.uncontrolled", "warning", "open"),
            ("bp.uncontrolled", "info", "cleared"),
        ]
        cleared = findings[1]
        assert cleared.at == at("2026-03-23 09:00")
        assert cleared.audience == (Audience.DOCTOR,)
        assert cleared.evidence["level"] == [132.0, 80.0]

    def test_a_third_period_above_target_does_not_repeat_it(self):
        findings = observe_all(days(2, 21, 150, 95), profile=YOUNGER, until="2026-03-23 10:00")
        assert summary(findings) == [("bp.uncontrolled", "warning", "open")]

    def test_fasting_glucose_above_target_two_periods_running(self):
        readings = fasting(2, 14, 7.0) + fasting(2, 14, 11.0, Meal.POSTPRANDIAL)
        readings.sort(key=lambda r: r.measured_at)
        findings = observe_all(readings, until="2026-03-16 10:00")
        assert summary(findings) == [("glucose.uncontrolled", "warning", "open")]
        assert findings[0].evidence["level"] == [7.0]
        assert findings[0].evidence["target"] == [7.0]

    def test_meals_other_than_fasting_do_not_count(self):
        readings = fasting(2, 14, 6.2) + fasting(2, 14, 12.5, Meal.POSTPRANDIAL)
        readings.sort(key=lambda r: r.measured_at)
        assert observe_all(readings, until="2026-03-16 10:00") == []

    def test_a_resident_watched_for_hypertension_only_gets_no_glucose_verdict(self):
        profile = Profile(RESIDENT, date(1970, 1, 1), frozenset({Condition.HYPERTENSION}))
        assert observe_all(fasting(2, 14, 9.0), profile=profile, until="2026-03-16 10:00") == []

    def test_periods_with_too_few_readings_give_no_verdict(self):
        # Two readings a week, far above target: no verdict, so no finding.
        readings = [bp(f"2026-03-{day:02d} 08:00", 170, 100) for day in (2, 5, 9, 12)]
        assert of_rule(observe_all(readings, until="2026-03-16 10:00"), "bp.uncontrolled") == []
