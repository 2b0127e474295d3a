"""Findings: what detection reports, how serious it is, and who it is meant for."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Severity(enum.IntEnum):
    """How serious a finding is; higher is worse."""

    INFO = 1
    WARNING = 2
    URGENT = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """The lower-case name used in files and the API."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Severity:
        """The severity called `label` ("info", "warning", "urgent", "critical")."""
        return cls[label.upper()]


class Status(enum.StrEnum):
    """What a finding does to the resident's alert for its rule."""

    OPEN = "open"  # a new alert
    RAISED = "raised"  # the open alert became more serious
    CLEARED = "cleared"  # all clear: values are back where they should be


class Audience(enum.StrEnum):
    """Who should hear of a finding (the alerting layer decides how)."""

    FAMILY = "family"
    DOCTOR = "doctor"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing detection reports about one resident, at one (possibly simulated) time."""

    resident_id: str
    rule: str
    severity: Severity
    status: Status
    at: datetime
    message: str
    audience: tuple[Audience, ...] = ()
    reading_at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The finding as one JSON object (a line of FINDINGS.jsonl, a row of the API)."""
        return {
            "resident_id": self.resident_id,
            "rule": self.rule,
            "severity": self.severity.label,
            "status": str(self.status),
            "at": self.at.isoformat(),
            "reading_at": None if self.reading_at is None else self.reading_at.isoformat(),
            "audience": [str(a) for a in self.audience],
            "message": self.message,
            "evidence": self.evidence,
        }
