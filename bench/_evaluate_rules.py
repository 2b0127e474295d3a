"""What the detection benchmark reads: labels, findings, and which rules answer which label.

`bench.evaluate` judges with these; `bench._cohort_labels` writes the labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

HOUR = 3_600.0
DAY = 24 * HOUR
LASTING_GRACE = 14 * DAY  # control status looks back two weeks: an episode explains it that long


@dataclass(frozen=True)
class EventRule:
    """Which rules detect a labelled event, which rules it explains, and for how long."""

    detect: frozenset[str]
    explains: dict[str, float]  # rule -> seconds after the event's end it still explains it
    window: float  # seconds after the event's end a detection still counts
    scored: bool = True  # reported in the detection table
    per_reading: bool = False  # only a finding naming one of the event's readings detects it


def _rule(
    detect: str,
    also: str = "",
    *,
    window: float = HOUR,
    grace: float = 6 * HOUR,
    lasting: str = "",
    scored: bool = True,
    per_reading: bool = False,
) -> EventRule:
    """Rules detecting an event; `also` and `lasting` rules are explained by it too, `lasting`
    ones (judgements over days of readings) for two weeks after it."""
    explains = dict.fromkeys([*detect.split(), *also.split()], max(grace, window))
    explains |= dict.fromkeys(lasting.split(), LASTING_GRACE)
    return EventRule(frozenset(detect.split()), explains, window, scored, per_reading)


_UNCONTROLLED_BP = "bp.uncontrolled"
_UNCONTROLLED_GLUCOSE = "glucose.uncontrolled glucose.hyper.repeated"
EVENT_RULES: dict[str, EventRule] = {
    "bp_crisis": _rule("bp.crisis", "bp.urgent"),
    "bp_urgent": _rule("bp.urgent bp.crisis"),
    "bp_urgent_unconfirmed": _rule("bp.urgent"),
    "bp_low": _rule("bp.low", window=DAY),
    "pulse_abnormal": _rule("pulse.abnormal", window=DAY),
    "hypo_level1": _rule("glucose.hypo.level1 glucose.hypo.level2"),
    "hypo_level2": _rule("glucose.hypo.level2", "glucose.hypo.level1"),
    "hyper_severe": _rule("glucose.hyper.urgent", lasting=_UNCONTROLLED_GLUCOSE),
    "glucose_high": _rule("glucose.hyper.repeated", lasting=_UNCONTROLLED_GLUCOSE, scored=False),
    "bp_drift": _rule("bp.drift.up", window=0, grace=7 * DAY, lasting=_UNCONTROLLED_BP),
    "silence": _rule("adherence.missed", window=0, grace=DAY),
    "gateway_offline": _rule("gateway.offline", "adherence.missed", window=0, grace=DAY),
    "device_error": _rule("quality.implausible quality.device", grace=HOUR, per_reading=True),
    "bp_uncontrolled": _rule(_UNCONTROLLED_BP, window=0, grace=0),
    "bp_borderline": _rule(_UNCONTROLLED_BP, window=0, grace=0, scored=False),
    "glucose_uncontrolled": _rule(
        "glucose.uncontrolled", "glucose.hyper.repeated", window=0, grace=0
    ),
    "glucose_borderline": _rule(
        "glucose.uncontrolled", "glucose.hyper.repeated", window=0, grace=0, scored=False
    ),
    "irregular_pulse": _rule("pulse.irregular", window=0, grace=0),
}
URGENT_RULES = {
    "bp": frozenset({"bp.urgent", "bp.crisis"}),
    "hypo1": frozenset({"glucose.hypo.level1", "glucose.hypo.level2"}),
    "hypo2": frozenset({"glucose.hypo.level2"}),
    "hyper": frozenset({"glucose.hyper.urgent"}),
}


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass(frozen=True)
class LabelEvent:
    """One line of LABELS.jsonl; times in epoch seconds."""

    type: str
    resident_id: str
    onset: float
    end: float
    origin: str = "injected"
    subgroup: str | None = None
    readings: frozenset[float] = frozenset()
    urgent: tuple[tuple[float, str], ...] = ()

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LabelEvent:
        """The label of one parsed JSON line."""
        return cls(
            type=obj["type"],
            resident_id=obj["resident_id"],
            onset=_seconds(obj["onset"]),
            end=_seconds(obj["end"]),
            origin=obj.get("origin", "injected"),
            subgroup=obj.get("subgroup"),
            readings=frozenset(_seconds(t) for t in obj.get("readings", ())),
            urgent=tuple(
                (_seconds(u["measured_at"]), u["category"]) for u in obj.get("urgent_readings", ())
            ),
        )


@dataclass(frozen=True)
class FindingRecord:
    """What the evaluation needs of one line of FINDINGS.jsonl; times in epoch seconds."""

    resident_id: str
    rule: str
    severity: str
    status: str
    at: float
    reading_at: float | None = None
    audience: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FindingRecord:
        """The finding of one parsed JSON line."""
        reading_at = obj.get("reading_at")
        return cls(
            resident_id=obj["resident_id"],
            rule=obj["rule"],
            severity=obj["severity"],
            status=obj["status"],
            at=_seconds(obj["at"]),
            reading_at=None if reading_at is None else _seconds(reading_at),
            audience=frozenset(obj.get("audience") or ()),
        )

    @property
    def alert(self) -> bool:
        """Whether it opens or raises an alert (an all-clear does not)."""
        return self.status != "cleared"


def read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    """The objects of a JSON-lines file, blank lines skipped."""
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield orjson.loads(line)
