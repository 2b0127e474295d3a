"""The catalogue of rules: stable dotted ids, what each means, and who hears of it."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.findings import Audience, Severity

FAMILY = (Audience.FAMILY,)
DOCTOR = (Audience.DOCTOR,)
BOTH = (Audience.FAMILY, Audience.DOCTOR)
NOBODY: tuple[Audience, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: its id, a plain description, and the audience at each severity it raises.

    Rules whose every audience is empty are records (data quality): each is reported and
    counted, but never becomes an alert, so they are neither deduplicated nor cleared.
    """

    id: str
    description: str
    audience: dict[Severity, tuple[Audience, ...]]
    # Slow patterns (drift, control, silences) wait out a cooldown before they reopen; a
    # dangerous reading never waits: every low sugar is news, however soon after the last.
    cooldown: bool = False

    @property
    def is_record(self) -> bool:
        """True for rules nobody is told about (they are counted and shown, not alerted)."""
        return not any(self.audience.values())

    def audience_at(self, severity: Severity) -> tuple[Audience, ...]:
        """Who hears of this rule at `severity` (the nearest lower level if not listed)."""
        for level in sorted(self.audience, reverse=True):
            if level <= severity:
                return self.audience[level]
        return self.audience[min(self.audience)]


_RULES = [
    Rule("bp.crisis", "blood pressure at or above 200/120 mmHg", {Severity.CRITICAL: BOTH}),
    Rule(
        "bp.urgent",
        "blood pressure at or above 180/110 mmHg, confirmed by a re-measurement or not "
        "re-measured (warning when the re-measurement was lower)",
        {Severity.WARNING: DOCTOR, Severity.URGENT: BOTH},
    ),
    Rule("bp.low", "systolic pressure below 90 mmHg: risk of falls", {Severity.WARNING: BOTH}),
    Rule("pulse.abnormal", "pulse below 40 or above 120 per minute", {Severity.WARNING: BOTH}),
    Rule(
        "pulse.irregular",
        "irregular pulse flagged 3 times within 14 days: a note for the doctor",
        {Severity.INFO: DOCTOR},
        cooldown=True,
    ),
    Rule("glucose.hypo.level1", "glucose below 3.9 mmol/L", {Severity.WARNING: BOTH}),
    Rule("glucose.hypo.level2", "glucose below 3.0 mmol/L", {Severity.CRITICAL: BOTH}),
    Rule("glucose.hyper.urgent", "glucose at or above 16.7 mmol/L", {Severity.URGENT: BOTH}),
    Rule(
        "glucose.hyper.repeated",
        "glucose at or above 13.9 mmol/L 3 times within 7 days",
        {Severity.WARNING: DOCTOR},
        cooldown=True,
    ),
    Rule(
        "bp.uncontrolled",
        "mean blood pressure above target two 7-day periods in a row: follow up",
        {Severity.WARNING: DOCTOR},
        cooldown=True,
    ),
    Rule(
        "glucose.uncontrolled",
        "mean fasting glucose at or above 7.0 mmol/L two 7-day periods in a row: follow up",
        {Severity.WARNING: DOCTOR},
        cooldown=True,
    ),
    Rule(
        "bp.drift.up",
        "daily systolic pressure risen and staying above the personal baseline",
        {Severity.WARNING: DOCTOR},
        cooldown=True,
    ),
    Rule(
        "adherence.missed",
        "no measurement for longer than usual: family checks in (info), then the doctor (warning)",
        {Severity.INFO: FAMILY, Severity.WARNING: DOCTOR},
        cooldown=True,
    ),
    Rule(
        "gateway.offline",
        "the home's gateway has not been heard from: readings wait in it, nobody stopped",
        {Severity.INFO: FAMILY},
        cooldown=True,
    ),
    Rule(
        "quality.implausible",
        "values no body produces, or a meter's HI/LO: kept, marked, never a clinical alert",
        {Severity.INFO: NOBODY},
    ),
    Rule(
        "quality.device",
        "the device reported body movement, a loose cuff or an error",
        {Severity.INFO: NOBODY},
    ),
    Rule(
        "quality.clock",
        "the reading's time is not to be trusted (unset device clock, or in the future)",
        {Severity.INFO: NOBODY},
    ),
]

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
