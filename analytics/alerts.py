"""The alert book of one resident: one open alert per rule, rising severity, cooldowns, and
the automatic all-clear. It turns candidate findings into the findings people hear of."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analytics.findings import Audience, Finding, Severity, Status
from analytics.rules import RULES


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a rule saw, before the alert book decides whether anyone hears of it."""

    rule: str
    severity: Severity
    at: datetime
    message: str
    reading_at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    audience: tuple[Audience, ...] | None = None  # None: the rule's audience at the severity


@dataclass(frozen=True, slots=True)
class Clear:
    """A rule saw values back where they should be: its open alert (if any) clears."""

    rule: str
    at: datetime
    message: str
    reading_at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


Effect = Candidate | Clear


@dataclass(slots=True)
class OpenAlert:
    """An alert that is open for one rule."""

    severity: Severity
    opened_at: datetime
    told: tuple[Audience, ...] = ()  # everyone who heard of it: they all hear the all-clear


@dataclass(slots=True)
class AlertBook:
    """Open alerts by rule, and when each rule last cleared (for the cooldown)."""

    open: dict[str, OpenAlert] = field(default_factory=dict)
    cleared: dict[str, tuple[datetime, Severity]] = field(default_factory=dict)

    def raise_(self, resident_id: str, candidate: Candidate, cooldown: timedelta) -> Finding | None:
        """The finding to report for `candidate`, or None when it adds nothing new."""
        rule = RULES[candidate.rule]
        if rule.is_record:
            return _finding(resident_id, candidate, Status.OPEN)
        current = self.open.get(candidate.rule)
        if current is not None:
            if candidate.severity <= current.severity:
                return None  # the open alert already says this
            current.severity = candidate.severity
            finding = _finding(resident_id, candidate, Status.RAISED)
            current.told = _union(current.told, finding.audience)
            return finding
        last = self.cleared.get(candidate.rule)
        if (
            last is not None
            and rule.cooldown
            and candidate.severity <= last[1]
            and candidate.at - last[0] < cooldown
        ):
            return None  # it just cleared; a flapping value is not news
        finding = _finding(resident_id, candidate, Status.OPEN)
        self.open[candidate.rule] = OpenAlert(candidate.severity, candidate.at, finding.audience)
        return finding

    def clear(
        self,
        resident_id: str,
        rule: str,
        at: datetime,
        message: str,
        *,
        reading_at: datetime | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> Finding | None:
        """The all-clear for `rule`, or None when no alert of it is open."""
        current = self.open.pop(rule, None)
        if current is None:
            return None
        self.cleared[rule] = (at, current.severity)
        candidate = Candidate(rule, Severity.INFO, at, message, reading_at, evidence or {})
        return _finding(resident_id, candidate, Status.CLEARED, current.told)

    def apply(self, resident_id: str, effect: Effect, cooldown: timedelta) -> Finding | None:
        """Raise a candidate or clear a rule; the finding to report, if any."""
        if isinstance(effect, Clear):
            return self.clear(
                resident_id,
                effect.rule,
                effect.at,
                effect.message,
                reading_at=effect.reading_at,
                evidence=effect.evidence,
            )
        return self.raise_(resident_id, effect, cooldown)

    def is_open(self, rule: str) -> bool:
        """True while an alert of `rule` is open."""
        return rule in self.open

    def to_json(self) -> dict[str, Any]:
        """The book as JSON-ready values (the live service stores it with the state)."""
        return {
            "open": {
                rule: [a.severity.label, a.opened_at.isoformat(), [str(t) for t in a.told]]
                for rule, a in self.open.items()
            },
            "cleared": {
                rule: [at.isoformat(), severity.label]
                for rule, (at, severity) in self.cleared.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertBook:
        """The book `to_json` wrote."""
        book = cls()
        for rule, (severity, opened, *told) in data.get("open", {}).items():
            book.open[rule] = OpenAlert(
                Severity.from_label(severity),
                datetime.fromisoformat(opened),
                tuple(Audience(t) for t in told[0])
                if told
                else RULES[rule].audience_at(Severity.from_label(severity)),
            )
        for rule, (at, severity) in data.get("cleared", {}).items():
            book.cleared[rule] = (datetime.fromisoformat(at), Severity.from_label(severity))
        return book


def _union(first: tuple[Audience, ...], second: tuple[Audience, ...]) -> tuple[Audience, ...]:
    return tuple(a for a in Audience if a in first or a in second)


def _finding(
    resident_id: str,
    candidate: Candidate,
    status: Status,
    audience: tuple[Audience, ...] | None = None,
) -> Finding:
    if audience is None:
        audience = candidate.audience
    if audience is None:
        audience = RULES[candidate.rule].audience_at(candidate.severity)
    return Finding(
        resident_id=resident_id,
        rule=candidate.rule,
        severity=candidate.severity,
        status=status,
        at=candidate.at,
        message=candidate.message,
        audience=audience,
        reading_at=candidate.reading_at,
        evidence=candidate.evidence,
    )
