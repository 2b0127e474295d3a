"""Every number detection uses, with where it comes from; overridable per community and resident.

Sources:
- [BPHS] 国家基本公共卫生服务规范（第三版）, 2017: hypertension and type 2 diabetes follow-up;
  urgent referral at systolic >= 180 and/or diastolic >= 110 mmHg, glucose >= 16.7 mmol/L.
- [CHG] 中国高血压防治指南 2018 (Chinese hypertension guideline): home BP target < 140/90;
  from age 65, < 150/90; home BP taken 2-3 times, one minute apart.
- [CDS] 中国2型糖尿病防治指南 2020 (Chinese Diabetes Society): fasting target 4.4-7.0 mmol/L;
  >= 13.9 mmol/L calls for a ketone check.
- [ADA] ADA Standards of Care 2024, section 6: hypoglycaemia level 1 < 3.9, level 2 < 3.0 mmol/L.
- [Linli] a project default where guidelines give no number; chosen to keep alerts rare and
  documented here so a community can change it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The detection settings of one resident (defaults, then community, then resident)."""

    # Blood pressure, mmHg
    bp_urgent_systolic: float = 180  # [BPHS] urgent referral
    bp_urgent_diastolic: float = 110  # [BPHS]
    bp_crisis_systolic: float = 200  # [Linli] extreme: raised at once, no re-measure wait
    bp_crisis_diastolic: float = 120  # [Linli]
    remeasure_minutes: float = 5  # [CHG] re-measure within minutes; the window's length
    bp_low_systolic: float = 90  # [Linli] below: falls risk
    pulse_low: float = 40  # [Linli] per minute
    pulse_high: float = 120  # [Linli]
    irregular_count: int = 3  # [Linli] irregular-pulse flags ...
    irregular_days: float = 14  # ... within this many days -> a note for the doctor
    # Glucose, mmol/L
    glucose_hypo_level1: float = 3.9  # [ADA]
    glucose_hypo_level2: float = 3.0  # [ADA] critical
    glucose_hyper_urgent: float = 16.7  # [BPHS] urgent referral
    glucose_hyper_warning: float = 13.9  # [CDS]
    hyper_repeat_count: int = 3  # [Linli] readings >= glucose_hyper_warning ...
    hyper_repeat_days: float = 7  # ... within this many days -> a warning
    # Control status
    target_systolic: float = 140  # [CHG]
    target_diastolic: float = 90  # [CHG]
    elderly_age: int = 65  # [CHG]
    elderly_target_systolic: float = 150  # [CHG]
    elderly_target_diastolic: float = 90  # [CHG]
    fasting_glucose_target: float = 7.0  # [CDS]
    control_period_days: int = 7  # [Linli] one period: the mean of the last 7 days
    control_min_readings: int = 3  # [Linli] fewer readings in a period: no verdict
    # Data-quality guard
    plausible_systolic: tuple[float, float] = (60, 300)  # [Linli] outside: not a real pressure
    plausible_diastolic: tuple[float, float] = (30, 200)  # [Linli]
    plausible_pulse: tuple[float, float] = (25, 250)  # [Linli]
    # [Linli] systolic minus diastolic: a cuff that read 140/136 or 280/40 measured nothing
    plausible_pulse_pressure: tuple[float, float] = (10, 160)
    plausible_glucose: tuple[float, float] = (1.1, 33.3)  # meters' LO and HI limits
    future_minutes: float = 10  # [Linli] a reading stamped later than received + this
    stale_hours: float = 12  # [Linli] received later than this: too late to call family
    # Personal baseline drift (daily mean systolic)
    drift_shift: float = 15  # [Linli] the sustained rise worth telling the doctor, mmHg
    # [Linli] the mean since the rise began must be this far up: a true rise of 15 measured
    # over a few noisy days often comes out a little lower
    drift_min_rise: float = 12
    # [Linli] baseline: the 8 weeks before the recent window, so that someone who measures
    # every few days and missed a week or two still has one
    drift_baseline_days: int = 56
    drift_recent_days: int = 14  # [Linli] the recent window the CUSUM runs over
    # [Linli] fewer days with readings: no baseline
    drift_min_baseline_days: int = 7
    # [Linli] fewer recent days: no verdict; a rise must span this many calendar days
    drift_min_recent_days: int = 3
    # [Linli] CUSUM decision interval, in daily spreads, for a resident measuring every day;
    # lowered for sparser measurers so that false alarms per month stay alike (see drift.py)
    drift_threshold_spreads: float = 3.0
    drift_min_spread: float = 8.0  # [Linli] floor of the daily spread (day-to-day SD), mmHg
    # Missed measurements
    missed_min_days: float = 2  # issue default: silence beyond max(2 days, 3x usual gap)
    missed_gap_factor: float = 3
    missed_doctor_factor: float = 2  # silence twice as long again -> the doctor
    gateway_silent_hours: float = 24  # [Linli] no heartbeat for this long: gateway offline
    # Alert lifecycle
    cooldown_hours: float = 12  # [Linli] a cleared alert does not reopen as low within this
    daily_check_hour: int = 9  # [Linli] scheduled checks run at 09:00 local time
    time_zone: str = "Asia/Shanghai"  # days begin at local midnight

    def with_overrides(self, overrides: Mapping[str, Any]) -> Thresholds:
        """These thresholds with some replaced; ValueError names an unknown or mistyped key."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in fields:
                raise ValueError(f"unknown threshold {key!r}")
            whole = fields[key].type in ("int", int)  # the declared type: 180 is a float here
            changes[key] = _checked(key, getattr(self, key), value, whole)
        _check_clock_settings(changes)
        return dataclasses.replace(self, **changes)


def _check_clock_settings(changes: Mapping[str, Any]) -> None:
    hour = changes.get("daily_check_hour")
    if hour is not None and not 0 <= hour <= 23:
        raise ValueError("threshold 'daily_check_hour' takes an hour from 0 to 23")
    zone = changes.get("time_zone")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"threshold 'time_zone': unknown time zone {zone!r}") from None


def _checked(key: str, current: Any, value: Any, whole: bool) -> Any:
    if isinstance(current, tuple):
        if not (isinstance(value, list | tuple) and len(value) == 2):
            raise ValueError(f"threshold {key!r} takes [low, high]")
        low, high = (_number(key, v) for v in value)
        if low >= high:
            raise ValueError(f"threshold {key!r}: low must be below high")
        return (low, high)
    if isinstance(current, str):
        if not isinstance(value, str):
            raise ValueError(f"threshold {key!r} takes a text")
        return value
    number = _number(key, value)
    if whole and not float(number).is_integer():
        raise ValueError(f"threshold {key!r} takes a whole number")
    if number < 0:
        raise ValueError(f"threshold {key!r} cannot be negative")
    return int(number) if whole else float(number)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"threshold {key!r} takes a number")
    return float(value)


DEFAULT_THRESHOLDS = Thresholds()
