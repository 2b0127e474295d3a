"""Control status: is a resident's blood pressure (or fasting glucose) at target over a period?

A period is `control_period_days` days; its level is the mean of the counted readings in it.
Two periods in a row above target make a follow-up finding for the doctor; a period at target
clears it. A period with too few readings gives no verdict and leaves the history as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from analytics.readings import Condition, Profile
from analytics.state import DaySums
from analytics.thresholds import Thresholds

SYSTOLIC, DIASTOLIC, BP_COUNT, FASTING, FASTING_COUNT = range(5)


@dataclass(frozen=True, slots=True)
class Control:
    """One period's verdict."""

    kind: str  # "bp" or "glucose"
    controlled: bool
    level: tuple[float, ...]  # mean systolic and diastolic, or mean fasting glucose
    target: tuple[float, ...]
    readings: int


def bp_target(profile: Profile, day: date, th: Thresholds) -> tuple[float, float]:
    """The home blood-pressure target for the resident's age on `day`."""
    age = profile.age_on(day)
    if age is not None and age >= th.elderly_age:
        return th.elderly_target_systolic, th.elderly_target_diastolic
    return th.target_systolic, th.target_diastolic


def _sums(daily: dict[int, DaySums], first: int, last: int) -> np.ndarray:
    rows = [sums for day, sums in daily.items() if first <= day <= last]
    return np.sum(np.asarray(rows, dtype=float), axis=0) if rows else np.zeros(5)


def period_status(
    profile: Profile, daily: dict[int, DaySums], end: date, th: Thresholds
) -> list[Control]:
    """The verdicts for the period ending the day before `end` (one per condition watched).

    Without known conditions, blood pressure and glucose are both watched when measured.
    """
    last = end.toordinal() - 1
    total = _sums(daily, last - th.control_period_days + 1, last)
    watched = profile.conditions or {Condition.HYPERTENSION, Condition.DIABETES}
    verdicts = []
    if Condition.HYPERTENSION in watched and total[BP_COUNT] >= th.control_min_readings:
        level = (total[SYSTOLIC] / total[BP_COUNT], total[DIASTOLIC] / total[BP_COUNT])
        target = bp_target(profile, end, th)
        controlled = bool(level[0] < target[0] and level[1] < target[1])  # JSON: no np.bool_
        verdicts.append(Control("bp", controlled, _rounded(level), target, int(total[BP_COUNT])))
    if Condition.DIABETES in watched and total[FASTING_COUNT] >= th.control_min_readings:
        fasting = total[FASTING] / total[FASTING_COUNT]
        target_glucose = (th.fasting_glucose_target,)
        verdicts.append(
            Control(
                "glucose",
                bool(fasting < th.fasting_glucose_target),
                _rounded((fasting,)),
                target_glucose,
                int(total[FASTING_COUNT]),
            )
        )
    return verdicts


def _rounded(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(float(v), 1) for v in values)
