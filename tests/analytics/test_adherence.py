"""Missed measurements: the resident's own rhythm, silences much longer than it, and a
gateway that is offline (then nobody is told the resident stopped)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from analytics import adherence
from analytics.detector import Detector
from analytics.findings import Audience, Finding
from analytics.readings import Flag
from analytics.thresholds import DEFAULT_THRESHOLDS
from tests.analytics.builders import PROFILE, at, bp, observe_all, of_rule, summary

DAY = 86400.0
FAMILY = (Audience.FAMILY,)
DOCTOR = (Audience.DOCTOR,)


def stamps(*texts: str) -> list[float]:
    return [at(text).timestamp() for text in texts]


def daily(first: str, count: int, hours: float = 24) -> list:
    start = at(first)
    return [bp(start + timedelta(hours=hours * i), 132, 82) for i in range(count)]


class TestRhythm:
    def test_the_usual_gap_is_the_median_between_sessions(self):
        times = stamps(
            "2026-03-01 08:00", "2026-03-02 08:00", "2026-03-04 08:00", "2026-03-05 08:00"
        )
        habit = adherence.rhythm(times, DEFAULT_THRESHOLDS)
        assert habit == adherence.Rhythm(
            usual_gap_days=1.0, family_after_days=3.0, doctor_after_days=6.0
        )

    def test_re_measurements_minutes_apart_are_one_session(self):
        times = stamps(
            "2026-03-01 08:00",
            "2026-03-01 08:02",
            "2026-03-03 08:00",
            "2026-03-03 08:03",
            "2026-03-05 08:00",
            "2026-03-07 08:00",
        )
        habit = adherence.rhythm(times, DEFAULT_THRESHOLDS)
        assert habit is not None
        assert (habit.usual_gap_days, habit.family_after_days) == (2.0, 6.0)

    def test_frequent_measurers_still_get_two_days(self):
        times = [at("2026-03-01 08:00").timestamp() + i * 12 * 3600 for i in range(8)]
        habit = adherence.rhythm(times, DEFAULT_THRESHOLDS)
        assert habit is not None
        assert (habit.usual_gap_days, habit.family_after_days, habit.doctor_after_days) == (
            0.5,
            2.0,
            4.0,
        )

    def test_fewer_than_three_gaps_teach_no_rhythm(self):
        times = stamps("2026-03-01 08:00", "2026-03-02 08:00", "2026-03-03 08:00")
        assert adherence.rhythm(times, DEFAULT_THRESHOLDS) is None
        assert adherence.rhythm([], DEFAULT_THRESHOLDS) is None


class TestSilence:
    habit = adherence.Rhythm(usual_gap_days=1.0, family_after_days=3.0, doctor_after_days=6.0)
    last = at("2026-03-05 08:00").timestamp()

    @pytest.mark.parametrize(
        ("quiet_days", "level"),
        [
            (2.9, adherence.Silence.NONE),
            (3.0, adherence.Silence.NONE),
            (3.01, adherence.Silence.FAMILY),
            (6.0, adherence.Silence.FAMILY),
            (6.01, adherence.Silence.DOCTOR),
            (30, adherence.Silence.DOCTOR),
        ],
    )
    def test_levels_of_silence(self, quiet_days, level):
        assert adherence.silence(self.last, self.last + quiet_days * DAY, self.habit) is level

    @pytest.mark.parametrize(
        ("hours", "silent"), [(23.9, False), (24, False), (24.1, True), (72, True)]
    )
    def test_a_gateway_is_offline_after_24_hours(self, hours, silent):
        seen = at("2026-03-05 08:00").timestamp()
        assert adherence.gateway_silent(seen, seen + hours * 3600, DEFAULT_THRESHOLDS) is silent

    def test_an_unknown_gateway_is_not_offline(self):
        assert not adherence.gateway_silent(
            None, at("2026-03-05 08:00").timestamp(), DEFAULT_THRESHOLDS
        )


def run_live(readings, until: str, gateway_seen) -> list[Finding]:
    """Observe `readings`, then advance at 09:30 each day up to `until`, as the live service
    does, passing what it knows of the gateway then: `gateway_seen(now)`."""
    detector = Detector(PROFILE)
    findings: list[Finding] = []
    for reading in readings:
        findings += detector.observe(reading, gateway_seen(reading.measured_at))
    now: datetime = readings[-1].measured_at
    end = at(until)
    while now < end:
        now = min(now + timedelta(hours=1), end)
        findings += detector.advance(now, gateway_seen(now))
    return findings


class TestMissedMeasurements:
    def test_a_silence_past_three_usual_gaps_is_news_for_the_family(self):
        findings = observe_all(daily("2026-03-01 08:00", 5), until="2026-03-08 10:00")
        assert summary(findings) == [("adherence.missed", "info", "open")]
        (missed,) = findings
        assert missed.audience == FAMILY
        assert missed.at == at("2026-03-08 09:00")  # 3 days and 1 hour after 03-05 08:00
        assert missed.evidence == {
            "last_reading_at": "2026-03-05T08:00:00+08:00",
            "silent_days": 3.0,
            "usual_gap_days": 1.0,
            "family_after_days": 3.0,
            "doctor_after_days": 6.0,
        }

    def test_exactly_three_days_is_not_yet_a_silence(self):
        findings = observe_all(daily("2026-03-01 09:00", 5), until="2026-03-08 10:00")
        assert findings == []  # last reading 03-05 09:00: 3.0 days at the check of 03-08
        findings = observe_all(daily("2026-03-01 09:00", 5), until="2026-03-09 10:00")
        assert [f.at for f in findings] == [at("2026-03-09 09:00")]

    def test_twice_as_long_is_raised_to_a_warning_for_the_doctor(self):
        findings = observe_all(daily("2026-03-01 08:00", 5), until="2026-03-13 10:00")
        assert summary(findings) == [
            ("adherence.missed", "info", "open"),
            ("adherence.missed", "warning", "raised"),
        ]
        raised = findings[1]
        assert raised.audience == DOCTOR
        assert raised.at == at("2026-03-11 09:00")
        assert raised.evidence["silent_days"] == 6.0

    def test_a_resident_measuring_every_other_day_is_missed_after_six(self):
        readings = daily("2026-03-01 08:00", 4, hours=48)  # last on 03-07
        assert observe_all(readings, until="2026-03-13 08:59") == []
        findings = observe_all(readings, until="2026-03-13 09:00")
        assert summary(findings) == [("adherence.missed", "info", "open")]

    def test_a_new_reading_clears_it(self):
        readings = [*daily("2026-03-01 08:00", 5), bp("2026-03-12 19:30", 128, 80)]
        findings = observe_all(readings)
        assert summary(findings) == [
            ("adherence.missed", "info", "open"),
            ("adherence.missed", "warning", "raised"),
            ("adherence.missed", "info", "cleared"),
        ]
        cleared = findings[2]
        assert cleared.at == at("2026-03-12 19:30")
        assert set(cleared.audience) == {Audience.FAMILY, Audience.DOCTOR}  # all who were told

    def test_readings_that_do_not_count_still_show_the_resident_measuring(self):
        loose = [
            bp(at("2026-03-06 08:00") + timedelta(days=d), 128, 80, flags=[Flag.CUFF_LOOSE])
            for d in range(8)
        ]
        findings = observe_all([*daily("2026-03-01 08:00", 5), *loose], until="2026-03-14 10:00")
        assert of_rule(findings, "adherence.missed") == []
        assert {f.rule for f in findings} == {"quality.device"}

    def test_without_a_rhythm_there_is_no_silence_to_notice(self):
        assert observe_all(daily("2026-03-01 08:00", 3), until="2026-03-20 10:00") == []

    def test_a_regular_resident_is_never_missed(self):
        assert observe_all(daily("2026-03-01 08:00", 30), until="2026-03-31 07:00") == []


class TestGateway:
    readings = daily("2026-03-01 08:00", 5)  # then the resident's home falls silent

    def test_with_the_gateway_online_a_silence_is_the_residents(self):
        findings = run_live(
            self.readings, "2026-03-12 10:00", lambda now: now - timedelta(minutes=5)
        )
        assert summary(findings) == [
            ("adherence.missed", "info", "open"),
            ("adherence.missed", "warning", "raised"),
        ]
        assert of_rule(findings, "gateway.offline") == []

    def test_with_the_gateway_offline_the_family_checks_the_gateway_not_the_resident(self):
        last_seen = at("2026-03-05 08:05")
        findings = run_live(self.readings, "2026-03-14 10:00", lambda now: min(now, last_seen))
        assert summary(findings) == [("gateway.offline", "info", "open")]
        (offline,) = findings
        assert offline.audience == FAMILY
        assert offline.at == at("2026-03-06 09:00")  # 24 h 55 min after it was last heard
        assert offline.evidence == {"gateway_seen": "2026-03-05T08:05:00+08:00"}

    def test_a_gateway_back_online_clears_and_delivers_what_it_kept(self):
        back = at("2026-03-09 20:00")
        detector = Detector(PROFILE)
        findings: list[Finding] = []
        for reading in self.readings:
            findings += detector.observe(reading, reading.measured_at)
        for day in (6, 7, 8, 9):
            findings += detector.advance(at(f"2026-03-0{day} 09:30"), at("2026-03-05 08:05"))
        # The resident went on measuring; the readings arrive when the gateway is back.
        for reading in daily("2026-03-06 08:00", 4):
            findings += detector.observe(reading, back)
        findings += detector.advance(at("2026-03-10 09:30"), back)
        assert summary(findings) == [
            ("gateway.offline", "info", "open"),
            ("gateway.offline", "info", "cleared"),
        ]
        assert findings[1].at == at("2026-03-10 09:00")
        assert findings[1].audience == FAMILY
