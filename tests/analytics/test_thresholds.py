"""Thresholds: the documented defaults, and per-resident overrides that change behaviour."""

from __future__ import annotations

import pytest

from analytics.thresholds import DEFAULT_THRESHOLDS
from tests.analytics.builders import at, bp, glucose, observe_all, summary


class TestDefaults:
    def test_the_guideline_numbers(self):
        th = DEFAULT_THRESHOLDS
        assert (th.bp_urgent_systolic, th.bp_urgent_diastolic) == (180, 110)
        assert (th.bp_crisis_systolic, th.bp_crisis_diastolic) == (200, 120)
        assert th.remeasure_minutes == 5
        assert (th.bp_low_systolic, th.pulse_low, th.pulse_high) == (90, 40, 120)
        assert (th.glucose_hypo_level1, th.glucose_hypo_level2) == (3.9, 3.0)
        assert (th.glucose_hyper_urgent, th.glucose_hyper_warning) == (16.7, 13.9)
        assert (th.target_systolic, th.target_diastolic) == (140, 90)
        assert (th.elderly_age, th.elderly_target_systolic) == (65, 150)
        assert th.fasting_glucose_target == 7.0
        assert th.cooldown_hours == 12
        assert (th.missed_min_days, th.missed_gap_factor, th.gateway_silent_hours) == (2, 3, 24)


class TestOverrides:
    def test_a_resident_referred_from_170(self):
        th = DEFAULT_THRESHOLDS.with_overrides({"bp_urgent_systolic": 170})
        assert th.bp_urgent_systolic == 170
        assert DEFAULT_THRESHOLDS.bp_urgent_systolic == 180  # the defaults are untouched
        reading = bp("2026-03-02 08:00", 172, 95)
        until = "2026-03-02 09:00"
        assert observe_all([reading], until=until) == []
        findings = observe_all([reading], thresholds=th, until=until)
        assert summary(findings) == [("bp.urgent", "urgent", "open")]
        assert findings[0].at == at("2026-03-02 08:05")

    def test_a_lower_hypo_line(self):
        th = DEFAULT_THRESHOLDS.with_overrides({"glucose_hypo_level1": 4.4})
        findings = observe_all([glucose("2026-03-02 07:00", 4.2)], thresholds=th)
        assert summary(findings) == [("glucose.hypo.level1", "warning", "open")]

    def test_several_at_once_and_ranges_as_lists(self):
        th = DEFAULT_THRESHOLDS.with_overrides(
            {"pulse_high": 110, "plausible_pulse": [30, 220], "time_zone": "Asia/Urumqi"}
        )
        assert (th.pulse_high, th.plausible_pulse, th.time_zone) == (110, (30, 220), "Asia/Urumqi")

    def test_whole_numbers_stay_whole(self):
        th = DEFAULT_THRESHOLDS.with_overrides({"control_period_days": 14.0, "elderly_age": 70})
        assert th.control_period_days == 14
        assert isinstance(th.control_period_days, int)

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("missed_gap_factor", 2.5),
            ("remeasure_minutes", 2.5),
            ("bp_urgent_systolic", 175.5),
            ("cooldown_hours", 0.5),
            ("drift_shift", 12.5),
        ],
    )
    def test_fractions_of_quantities_that_are_not_counts(self, key, value):
        th = DEFAULT_THRESHOLDS.with_overrides({key: value})
        assert getattr(th, key) == value

    def test_an_empty_override_changes_nothing(self):
        assert DEFAULT_THRESHOLDS.with_overrides({}) == DEFAULT_THRESHOLDS

    @pytest.mark.parametrize(
        ("overrides", "named"),
        [
            ({"bp_urgent_systole": 170}, "unknown threshold 'bp_urgent_systole'"),
            ({"BP_URGENT_SYSTOLIC": 170}, "unknown threshold"),
            ({"bp_urgent_systolic": "170"}, "takes a number"),
            ({"bp_urgent_systolic": None}, "takes a number"),
            ({"bp_urgent_systolic": True}, "takes a number"),
            ({"bp_urgent_systolic": -1}, "cannot be negative"),
            ({"control_period_days": 7.5}, "takes a whole number"),
            ({"plausible_systolic": [300, 60]}, "low must be below high"),
            ({"plausible_systolic": 300}, "takes [low, high]"),
            ({"plausible_systolic": [60, 200, 300]}, "takes [low, high]"),
            ({"plausible_systolic": ["60", 300]}, "takes a number"),
            ({"time_zone": 8}, "takes a text"),
        ],
    )
    def test_unknown_or_mistyped_keys_are_refused(self, overrides, named):
        with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
            DEFAULT_THRESHOLDS.with_overrides(overrides)


class TestClockSettings:
    @pytest.mark.parametrize("hour", [-1, 24])
    def test_the_daily_check_hour_must_be_an_hour(self, hour):
        with pytest.raises(ValueError, match="daily_check_hour"):
            DEFAULT_THRESHOLDS.with_overrides({"daily_check_hour": hour})

    def test_a_misspelt_time_zone_is_refused(self):
        with pytest.raises(ValueError, match="Asia/Shangai"):
            DEFAULT_THRESHOLDS.with_overrides({"time_zone": "Asia/Shangai"})

    def test_another_time_zone_is_taken(self):
        assert DEFAULT_THRESHOLDS.with_overrides({"time_zone": "Asia/Urumqi"}).time_zone == (
            "Asia/Urumqi"
        )
