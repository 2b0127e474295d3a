"""The alert book: one open alert per rule, rising severity, the all-clear and the cooldown."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from analytics.alerts import AlertBook, Candidate, Clear
from analytics.findings import Audience, Severity, Status
from analytics.rules import RULES
from tests.analytics.builders import RESIDENT, at, glucose, observe_all, summary

COOLDOWN = timedelta(hours=12)
FAMILY = (Audience.FAMILY,)
DOCTOR = (Audience.DOCTOR,)
BOTH = (Audience.FAMILY, Audience.DOCTOR)


def low(when: str, severity: Severity = Severity.WARNING) -> Candidate:
    return Candidate("bp.low", severity, at(when), "low", at(when), {"systolic": 85})


def repeated(when: str) -> Candidate:
    return Candidate("glucose.hyper.repeated", Severity.WARNING, at(when), "high again")


def missed(when: str, severity: Severity) -> Candidate:
    return Candidate("adherence.missed", severity, at(when), "silent")


class TestDedupe:
    def test_a_second_equal_finding_is_suppressed(self):
        book = AlertBook()
        first = book.raise_(RESIDENT, low("2026-03-02 08:00"), COOLDOWN)
        assert first is not None
        assert (first.rule, first.status, first.severity) == (
            "bp.low",
            Status.OPEN,
            Severity.WARNING,
        )
        assert first.audience == BOTH
        assert first.evidence == {"systolic": 85}
        assert book.raise_(RESIDENT, low("2026-03-02 18:00"), COOLDOWN) is None
        assert book.is_open("bp.low")

    def test_a_lower_severity_adds_nothing_to_an_open_alert(self):
        book = AlertBook()
        book.raise_(RESIDENT, missed("2026-03-05 09:00", Severity.WARNING), COOLDOWN)
        assert book.raise_(RESIDENT, missed("2026-03-06 09:00", Severity.INFO), COOLDOWN) is None

    def test_rules_are_independent(self):
        book = AlertBook()
        assert book.raise_(RESIDENT, low("2026-03-02 08:00"), COOLDOWN) is not None
        pulse = Candidate("pulse.abnormal", Severity.WARNING, at("2026-03-02 08:00"), "pulse")
        assert book.raise_(RESIDENT, pulse, COOLDOWN) is not None

    def test_records_are_never_deduplicated_nor_kept_open(self):
        book = AlertBook()
        record = Candidate("quality.device", Severity.INFO, at("2026-03-02 08:00"), "cuff")
        first = book.raise_(RESIDENT, record, COOLDOWN)
        second = book.raise_(RESIDENT, record, COOLDOWN)
        assert first is not None
        assert second is not None
        assert first.audience == second.audience == ()
        assert not book.is_open("quality.device")
        assert book.clear(RESIDENT, "quality.device", at("2026-03-02 09:00"), "ok") is None


class TestSeverityRise:
    def test_a_more_serious_finding_raises_the_open_alert(self):
        book = AlertBook()
        opened = book.raise_(RESIDENT, missed("2026-03-05 09:00", Severity.INFO), COOLDOWN)
        raised = book.raise_(RESIDENT, missed("2026-03-08 09:00", Severity.WARNING), COOLDOWN)
        assert opened is not None
        assert raised is not None
        assert (opened.status, opened.audience) == (Status.OPEN, FAMILY)
        assert (raised.status, raised.severity, raised.audience) == (
            Status.RAISED,
            Severity.WARNING,
            DOCTOR,
        )
        assert raised.at == at("2026-03-08 09:00")
        # Raised once: the same severity again is not news.
        assert book.raise_(RESIDENT, missed("2026-03-09 09:00", Severity.WARNING), COOLDOWN) is None

    def test_a_rule_may_name_its_own_audience(self):
        book = AlertBook()
        late = Candidate(
            "bp.low", Severity.WARNING, at("2026-03-02 08:00"), "late", audience=DOCTOR
        )
        finding = book.raise_(RESIDENT, late, COOLDOWN)
        assert finding is not None
        assert finding.audience == DOCTOR


class TestAllClear:
    def test_clearing_an_open_alert_tells_those_who_heard_of_it(self):
        book = AlertBook()
        book.raise_(RESIDENT, low("2026-03-02 08:00"), COOLDOWN)
        cleared = book.clear(
            RESIDENT,
            "bp.low",
            at("2026-03-02 10:00"),
            "back",
            reading_at=at("2026-03-02 10:00"),
            evidence={"systolic": 118},
        )
        assert cleared is not None
        assert (cleared.rule, cleared.status, cleared.severity) == (
            "bp.low",
            Status.CLEARED,
            Severity.INFO,
        )
        assert cleared.audience == BOTH
        assert cleared.at == at("2026-03-02 10:00")
        assert cleared.evidence == {"systolic": 118}
        assert not book.is_open("bp.low")

    def test_the_all_clear_goes_to_everyone_who_heard_of_the_alert(self):
        book = AlertBook()
        book.raise_(RESIDENT, missed("2026-03-05 09:00", Severity.INFO), COOLDOWN)  # family
        book.raise_(RESIDENT, missed("2026-03-08 09:00", Severity.WARNING), COOLDOWN)  # doctor
        cleared = book.clear(RESIDENT, "adherence.missed", at("2026-03-08 19:00"), "back")
        assert cleared is not None
        assert set(cleared.audience) == {Audience.FAMILY, Audience.DOCTOR}

    def test_who_heard_of_an_alert_survives_the_json_round_trip(self):
        book = AlertBook()
        book.raise_(RESIDENT, missed("2026-03-05 09:00", Severity.INFO), COOLDOWN)
        again = AlertBook.from_json(json.loads(json.dumps(book.to_json())))
        cleared = again.clear(RESIDENT, "adherence.missed", at("2026-03-06 19:00"), "back")
        assert cleared is not None
        assert cleared.audience == (Audience.FAMILY,)

    def test_nothing_to_clear_is_no_finding(self):
        book = AlertBook()
        assert book.clear(RESIDENT, "bp.low", at("2026-03-02 10:00"), "fine") is None
        effect = Clear("bp.low", at("2026-03-02 10:00"), "fine")
        assert book.apply(RESIDENT, effect, COOLDOWN) is None
        assert book.cleared == {}


class TestCooldown:
    def test_a_slow_pattern_that_just_cleared_does_not_reopen_within_12_hours(self):
        book = AlertBook()
        book.raise_(RESIDENT, repeated("2026-03-02 08:00"), COOLDOWN)
        book.clear(RESIDENT, "glucose.hyper.repeated", at("2026-03-02 09:00"), "back")
        assert book.raise_(RESIDENT, repeated("2026-03-02 20:59"), COOLDOWN) is None
        reopened = book.raise_(RESIDENT, repeated("2026-03-02 21:00"), COOLDOWN)
        assert reopened is not None
        assert reopened.status is Status.OPEN

    def test_a_dangerous_reading_never_waits_for_a_cooldown(self):
        book = AlertBook()
        book.raise_(RESIDENT, low("2026-03-02 08:00"), COOLDOWN)
        book.clear(RESIDENT, "bp.low", at("2026-03-02 09:00"), "back")
        reopened = book.raise_(RESIDENT, low("2026-03-02 10:00"), COOLDOWN)
        assert reopened is not None
        assert reopened.status is Status.OPEN

    def test_a_more_serious_finding_reopens_within_the_cooldown(self):
        book = AlertBook()
        book.raise_(RESIDENT, missed("2026-03-05 09:00", Severity.INFO), COOLDOWN)
        book.clear(RESIDENT, "adherence.missed", at("2026-03-05 10:00"), "back")
        reopened = book.raise_(RESIDENT, missed("2026-03-05 12:00", Severity.WARNING), COOLDOWN)
        assert reopened is not None
        assert reopened.severity is Severity.WARNING

    @pytest.mark.parametrize(
        ("rule", "severity"),
        [("bp.urgent", Severity.URGENT), ("glucose.hypo.level2", Severity.CRITICAL)],
    )
    def test_urgent_and_critical_always_reopen(self, rule, severity):
        book = AlertBook()
        first = Candidate(rule, severity, at("2026-03-02 08:00"), "first")
        again = Candidate(rule, severity, at("2026-03-02 08:40"), "again")
        book.raise_(RESIDENT, first, COOLDOWN)
        book.clear(RESIDENT, rule, at("2026-03-02 08:30"), "back")
        reopened = book.raise_(RESIDENT, again, COOLDOWN)
        assert reopened is not None
        assert (reopened.status, reopened.at) == (Status.OPEN, at("2026-03-02 08:40"))

    def test_a_low_sugar_soon_after_the_last_one_cleared_is_news(self):
        findings = observe_all(
            [
                glucose("2026-03-02 07:00", 3.6),
                glucose("2026-03-02 20:28", 5.5),  # all clear
                glucose("2026-03-03 07:07", 3.7),  # ten hours later: still news
            ]
        )
        assert summary(findings) == [
            ("glucose.hypo.level1", "warning", "open"),
            ("glucose.hypo.level1", "info", "cleared"),
            ("glucose.hypo.level1", "warning", "open"),
        ]

    def test_a_severe_low_reopens_at_once_in_the_detector(self):
        findings = observe_all(
            [
                glucose("2026-03-02 07:00", 2.7),
                glucose("2026-03-02 07:20", 5.0),
                glucose("2026-03-02 07:40", 2.6),
            ]
        )
        assert summary(findings) == [
            ("glucose.hypo.level2", "critical", "open"),
            ("glucose.hypo.level2", "info", "cleared"),
            ("glucose.hypo.level2", "critical", "open"),
        ]


class TestBookAsJson:
    def test_the_book_survives_json(self):
        book = AlertBook()
        book.raise_(RESIDENT, missed("2026-03-05 09:00", Severity.WARNING), COOLDOWN)
        book.raise_(RESIDENT, repeated("2026-03-02 08:00"), COOLDOWN)
        book.clear(RESIDENT, "glucose.hyper.repeated", at("2026-03-02 09:00"), "back")
        again = AlertBook.from_json(json.loads(json.dumps(book.to_json())))
        assert again == book
        # ... and behaves the same: the cooldown and the open alert are remembered.
        assert again.raise_(RESIDENT, repeated("2026-03-02 10:00"), COOLDOWN) is None
        assert (
            again.raise_(RESIDENT, missed("2026-03-06 09:00", Severity.WARNING), COOLDOWN) is None
        )


class TestCatalogue:
    def test_every_clinical_rule_tells_someone_and_records_tell_nobody(self):
        for rule in RULES.values():
            assert rule.is_record == rule.id.startswith("quality."), rule.id

    @pytest.mark.parametrize(
        ("rule", "severity", "audience"),
        [
            ("bp.urgent", Severity.WARNING, DOCTOR),
            ("bp.urgent", Severity.URGENT, BOTH),
            ("adherence.missed", Severity.INFO, FAMILY),
            ("adherence.missed", Severity.WARNING, DOCTOR),
            ("adherence.missed", Severity.URGENT, DOCTOR),  # the nearest lower level
            ("gateway.offline", Severity.INFO, FAMILY),
            ("pulse.irregular", Severity.INFO, DOCTOR),
            ("bp.drift.up", Severity.WARNING, DOCTOR),
            ("glucose.hyper.repeated", Severity.WARNING, DOCTOR),
        ],
    )
    def test_who_hears_of_what(self, rule, severity, audience):
        assert RULES[rule].audience_at(severity) == audience
