"""Judge detection findings against a labelled cohort: pure functions and a small CLI.

    .venv/bin/python -m bench.evaluate LABELS.jsonl FINDINGS.jsonl --residents N --days D

Per event type: the share of labelled events detected (a finding of a matching rule for the
resident, `at` from the onset to the end plus a tolerance, or an alert of such a rule
already open at the onset) and the median delay. Every guideline-urgent reading must be
covered: a finding of a matching rule names it (`reading_at`), or an alert of such a rule is
open at its time (alerts are deduplicated: one open alert covers later readings until it is
cleared), at the severity its category asks (URGENT_SEVERITY). False findings are open or
raised findings that no labelled event of the resident explains, per resident-month, by
severity and audience. All-clears (status "cleared") are never alerts. The CLI prints the
evaluation as JSON; `bench.detection` prints it as tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench._evaluate_rules import (
    EVENT_RULES,
    HOUR,
    URGENT_RULES,
    EventRule,
    FindingRecord,
    LabelEvent,
    read_jsonl,
)

DAYS_PER_MONTH = 30.44
COVER_SLACK = 600.0  # an alert opened up to 10 minutes after an urgent reading covers it
SEVERITIES = ("critical", "urgent", "warning", "info")
RANK = {"info": 1, "warning": 2, "urgent": 3, "critical": 4}
# The least serious alert that handles an urgent reading of each category: level 1
# hypoglycaemia is an alert value to treat at home (ADA), the others call for help.
URGENT_SEVERITY = {"bp": "urgent", "hypo1": "warning", "hypo2": "critical", "hyper": "urgent"}
Span = tuple[float, float, list[FindingRecord]]  # open from, until (cleared), its findings
NON_URGENT = frozenset({"info", "warning"})
TARGET_DRIFT_SHARE = 0.9
TARGET_DRIFT_DAYS = 7.0
TARGET_DOCTOR_FALSE = 0.5
TARGET_FAMILY_NON_URGENT = 1.0


class AlertIndex:
    """Findings by resident and rule, with the spans each rule's alert was open."""

    def __init__(self, findings: Iterable[FindingRecord]) -> None:
        self.by_key: dict[tuple[str, str], list[FindingRecord]] = defaultdict(list)
        for f in findings:
            self.by_key[f.resident_id, f.rule].append(f)
        self.spans: dict[tuple[str, str], list[Span]] = {}
        for key, found in self.by_key.items():
            found.sort(key=lambda f: f.at)
            spans: list[Span] = []
            current: list[FindingRecord] = []
            for f in found:
                if f.alert:
                    current.append(f)
                elif current:
                    spans.append((current[0].at, f.at, current))
                    current = []
            if current:
                spans.append((current[0].at, float("inf"), current))
            self.spans[key] = spans

    def open_severity(self, resident: str, rules: Iterable[str], t: float, slack: float = 0) -> int:
        """Rank of the most serious alert of `rules` open at `t` (or opening within `slack`
        after it); 0 when none is."""
        return max(
            (
                max(RANK[f.severity] for f in found if f.at <= t + slack)
                for rule in rules
                for start, end, found in self.spans.get((resident, rule), ())
                if start <= t + slack and t < end
            ),
            default=0,
        )

    def first_detection(self, event: LabelEvent, rule: EventRule) -> float | None:
        """Seconds from the event's onset to its first detection, or None if missed."""
        if not rule.per_reading and self.open_severity(event.resident_id, rule.detect, event.onset):
            return 0.0
        times = [
            f.at
            for name in rule.detect
            for f in self.by_key.get((event.resident_id, name), ())
            if f.alert
            and (
                (f.reading_at is not None and f.reading_at in event.readings)
                or (not rule.per_reading and event.onset <= f.at <= event.end + rule.window)
            )
        ]
        return max(0.0, min(times) - event.onset) if times else None

    def covers(self, resident: str, at: float, category: str) -> int:
        """Rank of the most serious alert covering an urgent reading: one naming it, or one
        open at its time; 0 when none does."""
        rules = URGENT_RULES[category]
        named = (
            RANK[f.severity]
            for r in rules
            for f in self.by_key.get((resident, r), ())
            if f.alert and f.reading_at == at
        )
        return max(max(named, default=0), self.open_severity(resident, rules, at, COVER_SLACK))


@dataclass
class Detection:
    """Events of one type (or subgroup) and how detection did on them."""

    events: int = 0
    detected: int = 0
    delays_h: list[float] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        """Share of the events detected."""
        return self.detected / self.events if self.events else None

    @property
    def median_delay_h(self) -> float | None:
        """Median hours from onset to detection, over the detected events."""
        return statistics.median(self.delays_h) if self.delays_h else None

    def add(self, delay_s: float | None) -> None:
        """Count one event, detected after `delay_s` seconds or missed (None)."""
        self.events += 1
        if delay_s is not None:
            self.detected += 1
            self.delays_h.append(delay_s / HOUR)

    def within(self, hours: float) -> float | None:
        """Share of the events detected within `hours` of their onset."""
        if not self.events:
            return None
        return sum(d <= hours for d in self.delays_h) / self.events


def detection_by_type(
    labels: Iterable[LabelEvent], index: AlertIndex
) -> dict[tuple[str, str], Detection]:
    """Detection per (event type, split): split "all", "injected", or "subgroup: ..."."""
    found: dict[tuple[str, str], Detection] = defaultdict(Detection)
    for event in labels:
        rule = EVENT_RULES.get(event.type)
        if rule is None or not rule.scored:
            continue
        delay = index.first_detection(event, rule)
        found[event.type, "all"].add(delay)
        if event.origin == "injected":
            found[event.type, "injected"].add(delay)
        if event.subgroup:
            found[event.type, event.subgroup].add(delay)
    return dict(found)


@dataclass
class Coverage:
    """Guideline-urgent readings and how many were covered by an alert serious enough."""

    total: int = 0
    covered: int = 0
    too_mild: int = 0  # covered only by an alert less serious than the category asks
    missed: list[tuple[str, float, str]] = field(default_factory=list)  # resident, at, category

    @property
    def complete(self) -> bool:
        """Whether every urgent reading was covered at its severity."""
        return self.covered == self.total


def urgent_coverage(labels: Iterable[LabelEvent], index: AlertIndex) -> Coverage:
    """Check that every labelled guideline-urgent reading is covered by an alert at least as
    serious as its category asks (URGENT_SEVERITY)."""
    coverage = Coverage()
    for event in labels:
        for at, category in event.urgent:
            coverage.total += 1
            rank = index.covers(event.resident_id, at, category)
            if rank >= RANK[URGENT_SEVERITY[category]]:
                coverage.covered += 1
            else:
                coverage.too_mild += rank > 0
                coverage.missed.append((event.resident_id, at, category))
    return coverage


def explained(finding: FindingRecord, events: Iterable[LabelEvent]) -> bool:
    """Whether a labelled event of the finding's resident accounts for it."""
    for event in events:
        rule = EVENT_RULES.get(event.type)
        grace = None if rule is None else rule.explains.get(finding.rule)
        if grace is None:
            continue
        if finding.reading_at is not None and finding.reading_at in event.readings:
            return True
        if event.onset - HOUR <= finding.at <= event.end + grace:
            return True
    return False


def audiences(finding: FindingRecord) -> tuple[str, ...]:
    """Who hears of a finding: "family" and/or "doctor", or "none"."""
    return tuple(sorted(finding.audience)) or ("none",)


@dataclass
class FalseFindings:
    """Alerts (open or raised findings), all and unexplained, by (severity, audience).

    A finding for family and doctor counts once under each audience.
    """

    resident_months: float
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    false: Counter[tuple[str, str]] = field(default_factory=Counter)
    false_by_severity: Counter[str] = field(default_factory=Counter)
    false_by_rule: Counter[str] = field(default_factory=Counter)
    on_artefacts: int = 0  # alerts with an audience naming a flagged or implausible reading

    def rate(self, count: int) -> float:
        """`count` per resident-month."""
        return count / self.resident_months if self.resident_months else 0.0

    @property
    def doctor_false(self) -> int:
        """Alerts for the doctor that no labelled event explains (non-actionable)."""
        return sum(n for (_, audience), n in self.false.items() if audience == "doctor")

    @property
    def family_non_urgent(self) -> int:
        """Info and warning alerts for the family, explained or not."""
        return sum(
            n
            for (sev, audience), n in self.alerts.items()
            if audience == "family" and sev in NON_URGENT
        )


def false_findings(
    labels: Sequence[LabelEvent], findings: Iterable[FindingRecord], resident_months: float
) -> FalseFindings:
    """Count alerts by severity and audience, and those no label explains."""
    by_resident: dict[str, list[LabelEvent]] = defaultdict(list)
    artefacts: set[tuple[str, float]] = set()
    for event in labels:
        by_resident[event.resident_id].append(event)
        if event.type == "device_error":
            artefacts.update((event.resident_id, t) for t in event.readings)
    out = FalseFindings(resident_months)
    for f in findings:
        if not f.alert:
            continue
        is_false = not explained(f, by_resident.get(f.resident_id, ()))
        if f.audience and (f.resident_id, f.reading_at) in artefacts:
            out.on_artefacts += 1
        for audience in audiences(f):
            out.alerts[f.severity, audience] += 1
            out.false[f.severity, audience] += is_false
        if is_false:
            out.false_by_severity[f.severity] += 1
            out.false_by_rule[f.rule] += 1
    return out


@dataclass
class Evaluation:
    """Everything measured, and the targets."""

    detection: dict[tuple[str, str], Detection]
    coverage: Coverage
    false: FalseFindings

    def targets(self) -> list[tuple[str, str, bool]]:
        """(target, measured value, met) for each of the issue's targets."""
        drift = self.detection.get(("bp_drift", "injected"), Detection())
        within = drift.within(TARGET_DRIFT_DAYS * 24)
        doctor = self.false.rate(self.false.doctor_false)
        family = self.false.rate(self.false.family_non_urgent)
        c = self.coverage
        return [
            (
                "every guideline-urgent reading detected",
                f"{c.covered:,} / {c.total:,}" + (f" ({c.too_mild:,} too mild)" * bool(c.too_mild)),
                c.complete,
            ),
            (
                f">= {TARGET_DRIFT_SHARE:.0%} of drifts found within {TARGET_DRIFT_DAYS:g} days",
                "no drifts" if within is None else f"{within:.1%} of {drift.events}",
                within is not None and within >= TARGET_DRIFT_SHARE,
            ),
            (
                f"<= {TARGET_DOCTOR_FALSE} non-actionable doctor findings / resident-month",
                f"{doctor:.3f}",
                doctor <= TARGET_DOCTOR_FALSE,
            ),
            (
                f"<= {TARGET_FAMILY_NON_URGENT:g} non-urgent family finding / resident-month",
                f"{family:.3f}",
                family <= TARGET_FAMILY_NON_URGENT,
            ),
        ]

    def as_json(self) -> dict[str, Any]:
        """The evaluation as plain JSON-able data."""
        return {
            "detection": [
                {"type": t, "split": s, "events": d.events, "detected": d.detected}
                | {"share": d.share, "median_delay_h": d.median_delay_h}
                for (t, s), d in sorted(self.detection.items())
            ],
            "urgent": {
                "total": self.coverage.total,
                "covered": self.coverage.covered,
                "too_mild": self.coverage.too_mild,
            },
            "urgent_missed": [
                {
                    "resident_id": r,
                    "measured_at": datetime.fromtimestamp(t, UTC).isoformat(),
                    "category": c,
                }
                for r, t, c in self.coverage.missed[:50]
            ],
            "alerts_per_resident_month": {
                f"{sev}/{aud}": self.false.rate(n)
                for (sev, aud), n in sorted(self.false.alerts.items())
            },
            "false_per_resident_month": {
                f"{sev}/{aud}": self.false.rate(n)
                for (sev, aud), n in sorted(self.false.false.items())
            },
            "false_by_rule": dict(self.false.false_by_rule),
            "alerts_on_artefacts": self.false.on_artefacts,
            "resident_months": self.false.resident_months,
            "targets": [{"target": t, "value": v, "met": m} for t, v, m in self.targets()],
        }


def evaluate(
    labels: Sequence[LabelEvent], findings: Sequence[FindingRecord], resident_months: float
) -> Evaluation:
    """Detection per event type, urgent-reading coverage and false findings."""
    index = AlertIndex(findings)
    return Evaluation(
        detection=detection_by_type(labels, index),
        coverage=urgent_coverage(labels, index),
        false=false_findings(labels, findings, resident_months),
    )


def evaluate_files(labels: Path, findings: Path, residents: int, days: float) -> Evaluation:
    """`evaluate` over LABELS.jsonl and FINDINGS.jsonl of `residents` residents over `days`."""
    events = [LabelEvent.from_json(obj) for obj in read_jsonl(labels)]
    found = [FindingRecord.from_json(obj) for obj in read_jsonl(findings)]
    return evaluate(events, found, residents * days / DAYS_PER_MONTH)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of FINDINGS against LABELS as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.evaluate", description=__doc__)
    parser.add_argument("labels", type=Path, metavar="LABELS.jsonl")
    parser.add_argument("findings", type=Path, metavar="FINDINGS.jsonl")
    parser.add_argument("--residents", type=int, required=True, help="residents in the cohort")
    parser.add_argument("--days", type=float, required=True, help="days the cohort covers")
    args = parser.parse_args(argv)
    try:
        result = evaluate_files(args.labels, args.findings, args.residents, args.days)
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench.evaluate: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(result.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
