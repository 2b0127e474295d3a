"""What detection sees of a reading and of a resident: small, frozen, free of storage details."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


class Kind(enum.StrEnum):
    """The two kinds of reading."""

    BLOOD_PRESSURE = "blood_pressure"
    GLUCOSE = "glucose"


class Meal(enum.StrEnum):
    """When a glucose reading was taken, relative to a meal."""

    FASTING = "fasting"
    PREPRANDIAL = "preprandial"
    POSTPRANDIAL = "postprandial"
    BEDTIME = "bedtime"
    CASUAL = "casual"


class Flag(enum.StrEnum):
    """What a device said about a measurement, besides its values."""

    BODY_MOVEMENT = "body_movement"
    CUFF_LOOSE = "cuff_loose"
    CONTROL_SOLUTION = "control_solution"
    DEVICE_ERROR = "device_error"
    RESULT_TOO_HIGH = "result_too_high"  # a meter's HI
    RESULT_TOO_LOW = "result_too_low"  # a meter's LO
    CLOCK_UNSET = "clock_unset"  # the device's clock was never set: its time is a guess


class Condition(enum.StrEnum):
    """What a resident is managed for."""

    HYPERTENSION = "hypertension"
    DIABETES = "diabetes"


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement of one resident. Pressures in mmHg, pulse per minute, glucose mmol/L.

    `received_at`, when known, is when the service got it: a reading stamped later than that
    comes from a wrong clock, and one received long after it was taken is stale.
    """

    resident_id: str
    measured_at: datetime  # aware
    kind: Kind
    systolic: float | None = None
    diastolic: float | None = None
    pulse: float | None = None
    glucose_mmol_l: float | None = None
    meal: Meal | None = None
    irregular_pulse: bool = False
    flags: frozenset[Flag] = field(default_factory=frozenset)
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What detection knows of a resident besides the readings."""

    resident_id: str
    birth_date: date | None = None
    conditions: frozenset[Condition] = field(default_factory=frozenset)

    def age_on(self, day: date) -> int | None:
        """Age in whole years on `day`, or None without a birth date."""
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
