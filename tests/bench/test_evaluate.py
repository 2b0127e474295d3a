"""The detection benchmark's judge: detection shares, delays, urgent coverage, false rates."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bench._evaluate_rules import DAY, HOUR, FindingRecord, LabelEvent
from bench.evaluate import (
    AlertIndex,
    detection_by_type,
    evaluate,
    evaluate_files,
    false_findings,
    urgent_coverage,
)

T0 = 1_760_000_000.0  # some moment in October 2025
BOTH = frozenset({"family", "doctor"})
DOCTOR = frozenset({"doctor"})
FAMILY = frozenset({"family"})


def label(
    kind: str,
    onset: float = T0,
    end: float | None = None,
    *,
    resident: str = "R1",
    readings: tuple[float, ...] = (),
    urgent: tuple[tuple[float, str], ...] = (),
    origin: str = "injected",
    subgroup: str | None = None,
) -> LabelEvent:
    return LabelEvent(
        type=kind,
        resident_id=resident,
        onset=onset,
        end=onset if end is None else end,
        origin=origin,
        subgroup=subgroup,
        readings=frozenset(readings),
        urgent=urgent,
    )


def finding(
    rule: str,
    at: float,
    *,
    status: str = "open",
    severity: str = "urgent",
    reading_at: float | None = None,
    audience: frozenset[str] = BOTH,
    resident: str = "R1",
) -> FindingRecord:
    return FindingRecord(resident, rule, severity, status, at, reading_at, audience)


def detection(labels: list[LabelEvent], findings: list[FindingRecord]) -> dict[str, float | None]:
    found = detection_by_type(labels, AlertIndex(findings))
    return {f"{kind}/{split}": d.share for (kind, split), d in found.items()}


class TestDetection:
    def test_a_matching_finding_after_the_onset_detects_with_its_delay(self) -> None:
        found = detection_by_type(
            [label("bp_urgent")], AlertIndex([finding("bp.urgent", T0 + 300)])
        )
        d = found["bp_urgent", "all"]
        assert (d.events, d.detected) == (1, 1)
        assert d.median_delay_h == pytest.approx(300 / HOUR)

    def test_another_rule_or_another_resident_does_not_detect(self) -> None:
        shares = detection(
            [label("bp_urgent")],
            [finding("bp.low", T0 + 60), finding("bp.urgent", T0 + 60, resident="R2")],
        )
        assert shares["bp_urgent/all"] == 0.0

    def test_a_finding_after_the_tolerance_window_is_a_miss(self) -> None:
        shares = detection([label("hypo_level2")], [finding("glucose.hypo.level2", T0 + 2 * HOUR)])
        assert shares["hypo_level2/all"] == 0.0

    def test_a_finding_naming_one_of_the_readings_detects_even_late(self) -> None:
        late = finding("glucose.hypo.level2", T0 + 5 * HOUR, reading_at=T0)
        found = detection_by_type([label("hypo_level2", readings=(T0,))], AlertIndex([late]))
        assert found["hypo_level2", "all"].median_delay_h == pytest.approx(5.0)

    def test_an_alert_already_open_at_the_onset_detects_at_once(self) -> None:
        opened = finding("bp.urgent", T0 - DAY)
        found = detection_by_type([label("bp_urgent")], AlertIndex([opened]))
        assert found["bp_urgent", "all"].median_delay_h == 0.0

    def test_an_alert_cleared_before_the_onset_does_not(self) -> None:
        history = [
            finding("bp.urgent", T0 - DAY),
            finding("bp.urgent", T0 - DAY + HOUR, status="cleared", severity="info"),
        ]
        assert detection([label("bp_urgent")], history)["bp_urgent/all"] == 0.0

    def test_an_all_clear_is_not_a_detection(self) -> None:
        cleared = finding("bp.drift.up", T0 + DAY, status="cleared", severity="info")
        shares = detection([label("bp_drift", end=T0 + 20 * DAY)], [cleared])
        assert shares["bp_drift/all"] == 0.0

    def test_drifts_found_within_seven_days_and_by_subgroup(self) -> None:
        drifts = [
            label("bp_drift", T0, T0 + 20 * DAY, resident="A", subgroup="daily"),
            label("bp_drift", T0, T0 + 20 * DAY, resident="B", subgroup="daily"),
            label("bp_drift", T0, T0 + 20 * DAY, resident="C", subgroup="weekly"),
        ]
        findings = [
            finding("bp.drift.up", T0 + 3 * DAY, resident="A", severity="warning"),
            finding("bp.drift.up", T0 + 10 * DAY, resident="B", severity="warning"),
        ]
        found = detection_by_type(drifts, AlertIndex(findings))
        assert found["bp_drift", "all"].share == pytest.approx(2 / 3)
        assert found["bp_drift", "all"].within(7 * 24) == pytest.approx(1 / 3)
        assert found["bp_drift", "all"].median_delay_h == pytest.approx(6.5 * 24)
        assert found["bp_drift", "daily"].share == 1.0
        assert found["bp_drift", "weekly"].share == 0.0

    def test_a_quality_note_detects_only_the_reading_it_names(self) -> None:
        notes = [
            finding("quality.device", T0, reading_at=T0, severity="info", audience=frozenset()),
        ]
        artefacts = [
            label("device_error", T0, readings=(T0,), resident="R1"),
            label("device_error", T0 + 60, readings=(T0 + 60,), resident="R1"),
        ]
        found = detection_by_type(artefacts, AlertIndex(notes))
        assert found["device_error", "all"].share == 0.5

    def test_explain_only_labels_are_not_scored(self) -> None:
        assert detection([label("bp_borderline", end=T0 + 30 * DAY)], []) == {}

    def test_background_events_count_in_all_but_not_in_injected(self) -> None:
        events = [label("bp_urgent"), label("bp_urgent", T0 + DAY, origin="background")]
        findings = [
            finding("bp.urgent", T0 + 60),
            finding("bp.urgent", T0 + HOUR, status="cleared", severity="info"),
        ]
        found = detection_by_type(events, AlertIndex(findings))
        assert found["bp_urgent", "all"].events == 2
        assert found["bp_urgent", "injected"].share == 1.0
        assert found["bp_urgent", "all"].share == 0.5


class TestUrgentCoverage:
    def test_a_finding_naming_the_reading_covers_it(self) -> None:
        events = [label("bp_crisis", urgent=((T0, "bp"),))]
        index = AlertIndex([finding("bp.crisis", T0 + 7 * HOUR, reading_at=T0)])
        assert urgent_coverage(events, index).complete

    def test_an_open_alert_covers_later_readings_until_it_is_cleared(self) -> None:
        urgent = ((T0 + HOUR, "bp"), (T0 + 3 * HOUR, "bp"))
        index = AlertIndex(
            [
                finding("bp.urgent", T0, reading_at=T0),
                finding("bp.urgent", T0 + 2 * HOUR, status="cleared", severity="info"),
            ]
        )
        coverage = urgent_coverage([label("bp_urgent", urgent=urgent)], index)
        assert (coverage.total, coverage.covered) == (2, 1)
        assert coverage.missed == [("R1", T0 + 3 * HOUR, "bp")]

    def test_an_alert_opened_within_ten_minutes_after_covers(self) -> None:
        index = AlertIndex([finding("bp.urgent", T0 + 300)])
        assert urgent_coverage([label("bp_urgent", urgent=((T0, "bp"),))], index).complete

    def test_level_two_hypoglycaemia_needs_the_level_two_rule(self) -> None:
        events = [label("hypo_level2", urgent=((T0, "hypo2"), (T0 + 900, "hypo1")))]
        index = AlertIndex(
            [
                finding("glucose.hypo.level1", T0, reading_at=T0, severity="warning"),
                finding("glucose.hypo.level1", T0 + 900, reading_at=T0 + 900, severity="warning"),
            ]
        )
        coverage = urgent_coverage(events, index)
        assert (coverage.covered, coverage.missed) == (1, [("R1", T0, "hypo2")])

    def test_a_milder_alert_than_the_reading_asks_for_is_not_enough(self) -> None:
        urgent = ((T0, "bp"), (T0 + DAY, "bp"))
        index = AlertIndex(
            [
                finding("bp.urgent", T0, reading_at=T0, severity="warning"),
                finding("bp.urgent", T0 + HOUR, status="cleared", severity="info"),
                finding("bp.urgent", T0 + DAY + 300, severity="warning"),
                finding("bp.urgent", T0 + DAY + 360, status="raised", severity="urgent"),
            ]
        )
        coverage = urgent_coverage([label("bp_urgent", urgent=urgent)], index)
        assert (coverage.covered, coverage.too_mild) == (1, 1)
        assert coverage.missed == [("R1", T0, "bp")]

    def test_an_all_clear_naming_the_reading_does_not_cover(self) -> None:
        cleared = finding("glucose.hyper.urgent", T0, reading_at=T0, status="cleared")
        events = [label("hyper_severe", urgent=((T0, "hyper"),))]
        assert not urgent_coverage(events, AlertIndex([cleared])).complete


class TestFalseFindings:
    def test_rates_by_severity_audience_and_rule(self) -> None:
        labels = [label("bp_urgent", readings=(T0,))]
        findings = [
            finding("bp.urgent", T0, reading_at=T0),  # explained
            finding("bp.drift.up", T0, severity="warning", audience=DOCTOR),
            finding("adherence.missed", T0, severity="info", audience=FAMILY),
            finding("adherence.missed", T0 + DAY, status="cleared", severity="info"),
            finding("quality.device", T0, severity="info", audience=frozenset()),
        ]
        f = false_findings(labels, findings, resident_months=2.0)
        assert f.rate(f.doctor_false) == 0.5
        assert f.rate(f.family_non_urgent) == 0.5  # the urgent family alert does not count
        assert f.false["warning", "doctor"] == 1
        assert f.false["info", "none"] == 1
        assert f.alerts["urgent", "family"] == 1
        assert f.alerts["urgent", "doctor"] == 1
        assert f.false_by_severity == {"warning": 1, "info": 2}
        assert f.false_by_rule == {"bp.drift.up": 1, "adherence.missed": 1, "quality.device": 1}

    def test_family_non_urgent_counts_explained_alerts_too(self) -> None:
        labels = [label("silence", T0, T0 + 5 * DAY)]
        warning = finding("adherence.missed", T0 + 3 * DAY, severity="info", audience=FAMILY)
        f = false_findings(labels, [warning], resident_months=1.0)
        assert (f.family_non_urgent, sum(f.false.values())) == (1, 0)

    def test_control_status_is_explained_for_two_weeks_after_an_episode(self) -> None:
        labels = [label("hyper_severe", T0, T0 + DAY)]
        soon = finding("glucose.uncontrolled", T0 + 10 * DAY, severity="warning", audience=DOCTOR)
        late = finding("glucose.uncontrolled", T0 + 20 * DAY, severity="warning", audience=DOCTOR)
        f = false_findings(labels, [soon, late], resident_months=1.0)
        assert f.doctor_false == 1

    def test_an_urgent_alert_a_day_after_an_episode_is_unexplained(self) -> None:
        labels = [label("bp_urgent", readings=(T0,))]
        later = finding("bp.urgent", T0 + DAY, reading_at=T0 + DAY)
        assert false_findings(labels, [later], resident_months=1.0).false_by_rule == {
            "bp.urgent": 1
        }

    def test_alerts_on_artefacts_are_counted(self) -> None:
        labels = [label("device_error", readings=(T0,), subgroup="implausible")]
        crisis = finding("bp.crisis", T0, reading_at=T0, severity="critical")
        f = false_findings(labels, [crisis], resident_months=1.0)
        assert (f.on_artefacts, f.false["critical", "doctor"]) == (1, 1)


class TestTargets:
    def test_all_met(self) -> None:
        labels = [
            label("bp_crisis", readings=(T0,), urgent=((T0, "bp"),)),
            label("bp_drift", T0, T0 + 20 * DAY, resident="R2"),
        ]
        findings = [
            finding("bp.crisis", T0, reading_at=T0, severity="critical"),
            finding("bp.drift.up", T0 + 2 * DAY, resident="R2", severity="warning"),
        ]
        assert [met for _, _, met in evaluate(labels, findings, 10.0).targets()] == [True] * 4

    def test_misses(self) -> None:
        labels = [
            label("bp_crisis", readings=(T0,), urgent=((T0, "bp"),)),
            label("bp_drift", T0, T0 + 20 * DAY, resident="R2"),
        ]
        findings = [
            finding("bp.drift.up", T0 + 9 * DAY, resident="R2", severity="warning"),
            *(finding("bp.low", T0 + k * HOUR, severity="warning") for k in range(30)),
        ]
        targets = evaluate(labels, findings, 10.0).targets()
        assert [met for _, _, met in targets] == [False, False, False, False]
        assert targets[0][1] == "0 / 1"


def test_files_round_trip(tmp_path: Path) -> None:
    labels = tmp_path / "LABELS.jsonl"
    findings = tmp_path / "FINDINGS.jsonl"
    labels.write_bytes(
        orjson.dumps(
            {
                "type": "hypo_level1",
                "resident_id": "R7",
                "onset": "2025-10-02T07:10:00+08:00",
                "end": "2025-10-02T07:10:00+08:00",
                "origin": "injected",
                "subgroup": None,
                "readings": ["2025-10-02T07:10:00+08:00"],
                "urgent_readings": [{"measured_at": "2025-10-01T23:10:00Z", "category": "hypo1"}],
                "details": {},
            }
        )
        + b"\n\n"
    )
    findings.write_bytes(
        orjson.dumps(
            {
                "resident_id": "R7",
                "rule": "glucose.hypo.level1",
                "severity": "warning",
                "status": "open",
                "at": "2025-10-01T23:40:00+00:00",
                "reading_at": "2025-10-01T23:10:00+00:00",
                "audience": ["family", "doctor"],
                "message": "low",
                "evidence": {},
            }
        )
        + b"\n"
    )
    result = evaluate_files(labels, findings, residents=1, days=30.44)
    assert result.coverage.complete
    assert result.detection["hypo_level1", "all"].median_delay_h == pytest.approx(0.5)
    assert result.false.rate(result.false.family_non_urgent) == 1.0
    assert result.as_json()["urgent"] == {"total": 1, "covered": 1, "too_mild": 0}
