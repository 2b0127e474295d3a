"""The detector of one resident: readings in, findings out, on a clock passed in; and the
offline replay, which must raise what the live service would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from analytics.detector import Detector
from analytics.findings import Audience, Severity
from analytics.readings import Kind, Profile, Reading
from analytics.replay import replay_resident
from analytics.thresholds import DEFAULT_THRESHOLDS
from tests.analytics.builders import (
    PROFILE,
    at,
    bp,
    glucose,
    noisy_systolic,
    observe_all,
    of_rule,
    summary,
)

DOCTOR = (Audience.DOCTOR,)
BOTH = (Audience.FAMILY, Audience.DOCTOR)


def five_days():
    return [bp(at("2026-03-01 08:00") + timedelta(days=d), 132, 82) for d in range(5)]


class TestClock:
    def test_daily_checks_run_at_9_local_time(self):
        detector = Detector(PROFILE)
        for reading in five_days():
            detector.observe(reading)
        assert detector.state.next_check == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
        assert detector.advance(at("2026-03-08 08:59")) == []
        (missed,) = detector.advance(at("2026-03-08 09:00"))
        assert missed.at == at("2026-03-08 09:00") == datetime(2026, 3, 8, 1, 0, tzinfo=UTC)

    def test_findings_carry_the_time_they_fell_due_not_the_time_of_advance(self):
        detector = Detector(PROFILE)
        for reading in five_days():
            detector.observe(reading)
        findings = detector.advance(at("2026-03-20 15:00"))
        assert [(f.severity.label, f.at) for f in findings] == [
            ("info", at("2026-03-08 09:00")),
            ("warning", at("2026-03-11 09:00")),
        ]

    def test_advancing_in_steps_or_at_once_is_the_same(self):
        readings = [*noisy_systolic(11, 20), bp("2026-01-21 08:00", 190, 100)]
        at_once = observe_all(readings, until="2026-02-10 10:00")
        detector = Detector(PROFILE)
        stepped = []
        for reading in readings:
            stepped += detector.observe(reading)
        now = readings[-1].measured_at
        while now < at("2026-02-10 10:00"):
            now += timedelta(minutes=37)
            stepped += detector.advance(min(now, at("2026-02-10 10:00")))
        assert stepped == at_once
        assert {f.rule for f in at_once} == {"bp.urgent", "adherence.missed"}

    def test_the_clock_never_goes_back(self):
        detector = Detector(PROFILE)
        detector.observe(bp("2026-03-02 08:00", 186, 104))
        assert detector.advance(at("2026-03-02 08:10")) != []
        assert detector.advance(at("2026-03-02 08:06")) == []
        assert detector.state.clock == at("2026-03-02 08:10")

    def test_the_check_hour_and_zone_are_thresholds(self):
        th = DEFAULT_THRESHOLDS.with_overrides({"daily_check_hour": 20, "time_zone": "UTC"})
        detector = Detector(PROFILE, th)
        detector.observe(bp("2026-03-02 08:00", 132, 82))  # 00:00 UTC
        assert detector.state.next_check == datetime(2026, 3, 2, 20, 0, tzinfo=UTC)

    def test_findings_are_json(self):
        findings = observe_all(
            [
                bp("2026-03-02 08:00", 205, 121),
                glucose("2026-03-02 09:00", 2.5),
                bp("2026-03-02 10:00", 320, 80),
            ]
        )
        lines = [json.dumps(f.to_json(), allow_nan=False) for f in findings]
        first = json.loads(lines[0])
        assert first == {
            "resident_id": "r-0001",
            "rule": "bp.crisis",
            "severity": "critical",
            "status": "open",
            "at": "2026-03-02T08:00:00+08:00",
            "reading_at": "2026-03-02T08:00:00+08:00",
            "audience": ["family", "doctor"],
            "message": "Blood pressure 205/121 mmHg: extremely high, act now.",
            "evidence": {"systolic": 205, "diastolic": 121},
        }


class TestLateReadings:
    """A reading received more than 12 hours after it was taken is for the doctor only."""

    def test_a_late_low_glucose_is_a_warning_for_the_doctor(self):
        taken = at("2026-03-01 22:00")
        late = glucose(taken, 2.6, received_at=taken + timedelta(hours=13))
        (finding,) = observe_all([late])
        assert (finding.rule, finding.severity, finding.audience) == (
            "glucose.hypo.level2",
            Severity.WARNING,
            DOCTOR,
        )
        assert finding.evidence["received_late"] is True

    def test_twelve_hours_is_not_yet_late(self):
        taken = at("2026-03-01 22:00")
        reading = glucose(taken, 2.6, received_at=taken + timedelta(hours=12))
        (finding,) = observe_all([reading])
        assert (finding.severity, finding.audience) == (Severity.CRITICAL, BOTH)

    def test_a_late_confirmed_pair_is_a_warning_for_the_doctor(self):
        received = at("2026-03-02 09:00")
        findings = observe_all(
            [
                bp("2026-03-01 20:00", 186, 104, received_at=received),
                bp("2026-03-01 20:02", 184, 100, received_at=received),
            ],
            until="2026-03-02 09:10",
        )
        assert summary(findings) == [("bp.urgent", "warning", "open")]
        assert findings[0].audience == DOCTOR

    def test_a_late_first_reading_never_re_measured_is_also_for_the_doctor_only(self):
        # Its re-measure window ended long before anyone could hear of it.
        received = at("2026-03-02 09:00")
        detector = Detector(PROFILE)
        detector.advance(received)  # the live service's clock is already at the receipt
        findings = detector.observe(bp("2026-03-01 20:00", 186, 104, received_at=received))
        findings += detector.advance(at("2026-03-02 09:10"))
        assert summary(findings) == [("bp.urgent", "warning", "open")]
        (finding,) = findings
        assert finding.audience == DOCTOR
        assert finding.at == at("2026-03-01 20:05")
        assert finding.evidence["received_late"] is True

    def test_in_the_replay_too(self):
        received = at("2026-03-02 09:00")
        findings = list(
            replay_resident(PROFILE, [bp("2026-03-01 20:00", 186, 104, received_at=received)])
        )
        assert summary(findings) == [("bp.urgent", "warning", "open")]
        assert findings[0].audience == DOCTOR


class TestFutureTimes:
    def test_a_reading_stamped_weeks_ahead_does_not_move_the_clock(self):
        # A device whose clock runs a month fast sends one reading on 03-06.
        daily = five_days() + [
            bp(at("2026-03-06 08:00") + timedelta(days=d), 132, 82) for d in range(5)
        ]
        wrong = bp("2026-04-05 08:00", 132, 82, received_at=at("2026-03-06 08:30"))
        detector = Detector(PROFILE)
        findings = []
        for reading in [*daily[:6], wrong, *daily[6:]]:
            findings += detector.observe(reading)
        findings += detector.advance(at("2026-03-10 10:00"))
        assert summary(findings) == [("quality.clock", "info", "open")]
        assert detector.state.clock == at("2026-03-10 10:00")
        assert detector.state.next_check == at("2026-03-11 09:00")


class TestReplay:
    def test_the_replay_equals_the_detector(self):
        readings = [*noisy_systolic(4, 40), glucose("2026-02-10 07:00", 3.2)]
        replayed = list(replay_resident(PROFILE, readings, until=at("2026-02-20 10:00")))
        assert replayed == observe_all(readings, until="2026-02-20 10:00")
        assert summary(of_rule(replayed, "adherence.missed")) == [
            ("adherence.missed", "info", "open"),
            ("adherence.missed", "warning", "raised"),
        ]

    def test_a_last_urgent_reading_is_not_dropped(self):
        readings = [bp("2026-03-02 08:00", 132, 82), bp("2026-03-02 20:00", 186, 104)]
        findings = list(replay_resident(PROFILE, readings))
        assert summary(findings) == [("bp.urgent", "urgent", "open")]
        assert findings[0].at == at("2026-03-02 20:05")

    def test_until_stops_the_clock(self):
        readings = [bp("2026-03-02 08:00", 132, 82), bp("2026-03-02 20:00", 186, 104)]
        assert list(replay_resident(PROFILE, readings, until=at("2026-03-02 19:00"))) == []
        assert list(replay_resident(PROFILE, readings, until=at("2026-03-02 20:04"))) == []

    def test_nothing_to_replay(self):
        assert list(replay_resident(PROFILE, [])) == []


class TestCalendarEdges:
    def test_a_reading_on_the_last_day_of_the_calendar_does_not_crash(self):
        last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=1)))
        reading = Reading("r1", last, Kind.GLUCOSE, glucose_mmol_l=2.5)
        findings = list(replay_resident(Profile("r1"), [reading]))
        assert [f.rule for f in findings] == ["quality.clock"]  # no reading has such a time

    def test_a_reading_from_long_ago_does_not_replay_every_day_since(self):
        ancient = Reading("r1", datetime(1990, 1, 2, tzinfo=UTC), Kind.GLUCOSE, glucose_mmol_l=6)
        today = Reading("r1", datetime(2026, 3, 2, tzinfo=UTC), Kind.GLUCOSE, glucose_mmol_l=6)
        detector = Detector(Profile("r1"))
        checks = []
        daily_check = detector._daily_check
        detector._daily_check = lambda at, seen: checks.append(at) or daily_check(at, seen)  # type: ignore[method-assign]
        assert detector.observe(ancient) + detector.observe(today) == []
        assert 59 <= len(checks) <= 61  # the last 60 days' checks, not 13,000
        assert checks[-1] == datetime(2026, 3, 1, 1, tzinfo=UTC)  # 09:00 in Fuling
