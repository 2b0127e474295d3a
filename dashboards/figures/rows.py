"""The rows figures are drawn from: small, frozen, filled by the service from SQL.

Times are timezone-aware; a figure shows them in the zone it is given. Rates are shares
from 0 to 1 (a figure shows them as percent); None means no verdict for that month or place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class BpPoint:
    """One blood-pressure reading; `quality` is why it does not count (None: it counts)."""

    at: datetime  # aware
    systolic: float  # mmHg
    diastolic: float  # mmHg
    pulse: float | None = None  # per minute
    irregular_pulse: bool = False
    quality: str | None = None  # e.g. "body_movement", "implausible"


@dataclass(frozen=True, slots=True)
class BpDay:
    """One local day's counted blood-pressure readings, summarised."""

    day: date
    systolic_mean: float
    diastolic_mean: float
    systolic_min: float
    systolic_max: float
    readings: int


@dataclass(frozen=True, slots=True)
class GlucosePoint:
    """One glucose reading in mmol/L; `meal` as in analytics.readings.Meal ("fasting", ...)."""

    at: datetime  # aware
    mmol_l: float
    meal: str | None = None
    quality: str | None = None


@dataclass(frozen=True, slots=True)
class ControlMonth:
    """One month's control rates (0-1) and how many residents were managed for each."""

    month: date  # the first day of the month
    bp_rate: float | None
    glucose_rate: float | None
    bp_managed: int
    glucose_managed: int


@dataclass(frozen=True, slots=True)
class ControlPlace:
    """One community's or grid's control rates (0-1) and its residents under management."""

    name: str
    bp_rate: float | None
    glucose_rate: float | None
    managed: int
