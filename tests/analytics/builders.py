"""Readings, residents and detector runs for the detection tests, in few words.

Times are literal and carry the residents' own offset (+08:00); a daily check at 09:00 in
Asia/Shanghai is 01:00 UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

import numpy as np

from analytics.detector import Detector
from analytics.findings import Finding
from analytics.readings import Condition, Flag, Kind, Meal, Profile, Reading
from analytics.thresholds import DEFAULT_THRESHOLDS, Thresholds

CST = timezone(timedelta(hours=8))
RESIDENT = "r-0001"
PROFILE = Profile(RESIDENT, date(1958, 6, 1), frozenset(Condition))  # 67 from 2025-06-01
YOUNGER = Profile(RESIDENT, date(1970, 6, 1), frozenset(Condition))  # under 65


def at(text: str) -> datetime:
    """A time written as "2026-03-02 08:00" in the resident's zone (+08:00)."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def bp(
    when: datetime | str,
    systolic: float,
    diastolic: float,
    pulse: float | None = 72,
    *,
    irregular: bool = False,
    flags: Iterable[Flag] = (),
    received_at: datetime | None = None,
) -> Reading:
    """A blood-pressure reading."""
    return Reading(
        RESIDENT,
        at(when) if isinstance(when, str) else when,
        Kind.BLOOD_PRESSURE,
        systolic=systolic,
        diastolic=diastolic,
        pulse=pulse,
        irregular_pulse=irregular,
        flags=frozenset(flags),
        received_at=received_at,
    )


def glucose(
    when: datetime | str,
    mmol_l: float,
    meal: Meal | None = Meal.CASUAL,
    *,
    flags: Iterable[Flag] = (),
    received_at: datetime | None = None,
) -> Reading:
    """A glucose reading."""
    return Reading(
        RESIDENT,
        at(when) if isinstance(when, str) else when,
        Kind.GLUCOSE,
        glucose_mmol_l=mmol_l,
        meal=meal,
        flags=frozenset(flags),
        received_at=received_at,
    )


def observe_all(
    readings: Iterable[Reading],
    *,
    profile: Profile = PROFILE,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    until: datetime | str | None = None,
    detector: Detector | None = None,
) -> list[Finding]:
    """Every finding from observing `readings` in order, then advancing to `until`."""
    detector = detector or Detector(profile, thresholds)
    findings: list[Finding] = []
    for reading in readings:
        findings += detector.observe(reading)
    if until is not None:
        findings += detector.advance(at(until) if isinstance(until, str) else until)
    return findings


def of_rule(findings: Iterable[Finding], rule: str) -> list[Finding]:
    """The findings of one rule."""
    return [f for f in findings if f.rule == rule]


def summary(findings: Iterable[Finding]) -> list[tuple[str, str, str]]:
    """(rule, severity, status) of each finding, in order: what a reader scans first."""
    return [(f.rule, f.severity.label, str(f.status)) for f in findings]


def noisy_systolic(
    seed: int,
    days: int,
    *,
    level: float = 135,
    sd: float = 8,
    shift_from: int | None = None,
    shift: float = 0.0,
) -> list[Reading]:
    """A reading each morning at 08:00 from 2026-01-01: `level` plus Gaussian noise, and
    `shift` added from day `shift_from` on."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, sd, days)
    start = at("2026-01-01 08:00")
    readings = []
    for day in range(days):
        rise = shift if shift_from is not None and day >= shift_from else 0.0
        systolic = round(level + rise + float(noise[day]))
        readings.append(bp(start + timedelta(days=day), systolic, 82))
    return readings
