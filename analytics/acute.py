"""Guideline rules on each reading that passed the quality guard, and the re-measure window.

Blood pressure at or above the urgent line opens a re-measure window: a second reading at or
above the line confirms it, a lower one downgrades it to a warning for the doctor, and no
second reading raises it when the window ends (see `window_ended`) - it is never dropped.
Extreme values are raised at once. An alert clears when a reading is back across its line.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from analytics.alerts import Candidate, Clear, Effect
from analytics.findings import Severity
from analytics.readings import Reading
from analytics.state import ResidentState, Window
from analytics.thresholds import Thresholds


def _bp(systolic: float, diastolic: float) -> str:
    return f"{systolic:g}/{diastolic:g} mmHg"


def _pair(window: Window) -> dict[str, Any]:
    return {
        "first_at": window.opened_at.isoformat(),
        "first": [window.systolic, window.diastolic],
    }


def window_ended(window: Window) -> Candidate:
    """A first urgent reading that nobody re-measured: raised as urgent at the window's end."""
    return Candidate(
        "bp.urgent",
        Severity.URGENT,
        window.ends_at,
        f"Blood pressure {_bp(window.systolic, window.diastolic)}, not re-measured: "
        "at or above the urgent-referral line.",
        window.opened_at,
        {**_pair(window), "confirmed": False},
    )


def _urgent_line(reading: Reading, th: Thresholds) -> tuple[bool, bool]:
    systolic, diastolic = reading.systolic or 0.0, reading.diastolic or 0.0
    crisis = systolic >= th.bp_crisis_systolic or diastolic >= th.bp_crisis_diastolic
    urgent = systolic >= th.bp_urgent_systolic or diastolic >= th.bp_urgent_diastolic
    return crisis, urgent


def _second_reading(state: ResidentState, reading: Reading, urgent: bool) -> list[Effect]:
    window = state.window
    assert window is not None
    state.window = None
    systolic, diastolic, at = reading.systolic or 0.0, reading.diastolic or 0.0, reading.measured_at
    evidence = {**_pair(window), "second": [systolic, diastolic], "second_at": at.isoformat()}
    if urgent:
        message = (
            f"Blood pressure {_bp(window.systolic, window.diastolic)}, re-measured "
            f"{_bp(systolic, diastolic)}: at or above the urgent-referral line."
        )
        return [
            Candidate("bp.urgent", Severity.URGENT, at, message, at, evidence | {"confirmed": True})
        ]
    message = (
        f"Blood pressure {_bp(window.systolic, window.diastolic)}, re-measured lower at "
        f"{_bp(systolic, diastolic)}: worth a look, not urgent."
    )
    return [
        Candidate("bp.urgent", Severity.WARNING, at, message, at, evidence | {"downgraded": True})
    ]


def blood_pressure(state: ResidentState, reading: Reading, th: Thresholds) -> list[Effect]:
    """The blood-pressure and pulse rules for one counted reading."""
    if reading.systolic is None or reading.diastolic is None:
        return []  # no pressures, nothing to judge (storage and the CSV never allow it)
    at = reading.measured_at
    systolic, diastolic = reading.systolic or 0.0, reading.diastolic or 0.0
    crisis, urgent = _urgent_line(reading, th)
    in_window = state.window is not None and at <= state.window.ends_at
    effects: list[Effect] = []
    if crisis:
        state.window = None
        effects.append(
            Candidate(
                "bp.crisis",
                Severity.CRITICAL,
                at,
                f"Blood pressure {_bp(systolic, diastolic)}: extremely high, act now.",
                at,
                {"systolic": systolic, "diastolic": diastolic},
            )
        )
    elif in_window:
        effects += _second_reading(state, reading, urgent)
    elif urgent:
        ends = at + timedelta(minutes=th.remeasure_minutes)
        state.window = Window(at, ends, systolic, diastolic)
    else:
        for rule in ("bp.crisis", "bp.urgent"):
            if state.alerts.is_open(rule):
                back = f"Blood pressure {_bp(systolic, diastolic)}: below the urgent line again."
                effects.append(Clear(rule, at, back, at))
    effects += _low_and_pulse(state, reading, th)
    effects += _irregular(state, reading, th)
    return effects


def _low_and_pulse(state: ResidentState, reading: Reading, th: Thresholds) -> list[Effect]:
    at, systolic, pulse = reading.measured_at, reading.systolic or 0.0, reading.pulse
    effects: list[Effect] = []
    if systolic < th.bp_low_systolic:
        message = f"Systolic pressure {systolic:g} mmHg is low: risk of dizziness and falls."
        effects.append(
            Candidate("bp.low", Severity.WARNING, at, message, at, {"systolic": systolic})
        )
    elif state.alerts.is_open("bp.low"):
        effects.append(Clear("bp.low", at, f"Systolic pressure {systolic:g} mmHg again.", at))
    if pulse is None:
        return effects
    if pulse < th.pulse_low or pulse > th.pulse_high:
        message = f"Pulse {pulse:g} per minute is outside {th.pulse_low:g}-{th.pulse_high:g}."
        effects.append(
            Candidate("pulse.abnormal", Severity.WARNING, at, message, at, {"pulse": pulse})
        )
    elif state.alerts.is_open("pulse.abnormal"):
        effects.append(Clear("pulse.abnormal", at, f"Pulse {pulse:g} per minute again.", at))
    return effects


def recent(times: list[float], now: float, days: float) -> list[float]:
    """The times within `days` before `now` (older ones are forgotten)."""
    start = now - days * 86400
    return [t for t in times if t > start]


def _irregular(state: ResidentState, reading: Reading, th: Thresholds) -> list[Effect]:
    if not reading.irregular_pulse:
        return []
    now = reading.measured_at.timestamp()
    state.irregular = [*recent(state.irregular, now, th.irregular_days), now]
    if len(state.irregular) < th.irregular_count:
        return []
    message = (
        f"Irregular pulse flagged {len(state.irregular)} times in {th.irregular_days:g} days: "
        "consider an ECG at the next visit."
    )
    at = reading.measured_at
    evidence = {"count": len(state.irregular), "days": th.irregular_days}
    return [Candidate("pulse.irregular", Severity.INFO, at, message, at, evidence)]


def glucose(state: ResidentState, reading: Reading, th: Thresholds) -> list[Effect]:
    """The glucose rules for one counted reading."""
    if reading.glucose_mmol_l is None:
        return []
    value, at = reading.glucose_mmol_l or 0.0, reading.measured_at
    evidence = {
        "glucose_mmol_l": value,
        "meal": None if reading.meal is None else str(reading.meal),
    }
    effects: list[Effect] = []
    if value < th.glucose_hypo_level2:
        message = f"Glucose {value:g} mmol/L: severe low blood sugar, act now."
        effects.append(
            Candidate("glucose.hypo.level2", Severity.CRITICAL, at, message, at, evidence)
        )
    elif state.alerts.is_open("glucose.hypo.level2"):
        effects.append(Clear("glucose.hypo.level2", at, f"Glucose {value:g} mmol/L again.", at))
    if value < th.glucose_hypo_level1 and value >= th.glucose_hypo_level2:
        message = f"Glucose {value:g} mmol/L: low blood sugar, eat something sweet and re-check."
        effects.append(
            Candidate("glucose.hypo.level1", Severity.WARNING, at, message, at, evidence)
        )
    elif value >= th.glucose_hypo_level1 and state.alerts.is_open("glucose.hypo.level1"):
        effects.append(Clear("glucose.hypo.level1", at, f"Glucose {value:g} mmol/L again.", at))
    if value >= th.glucose_hyper_urgent:
        message = f"Glucose {value:g} mmol/L: very high, at the urgent-referral line."
        effects.append(
            Candidate("glucose.hyper.urgent", Severity.URGENT, at, message, at, evidence)
        )
    elif state.alerts.is_open("glucose.hyper.urgent"):
        effects.append(Clear("glucose.hyper.urgent", at, f"Glucose {value:g} mmol/L again.", at))
    return effects + _repeated_high(state, reading, value, th)


def _repeated_high(
    state: ResidentState, reading: Reading, value: float, th: Thresholds
) -> list[Effect]:
    now = reading.measured_at.timestamp()
    state.hyper = recent(state.hyper, now, th.hyper_repeat_days)
    if value < th.glucose_hyper_warning:
        return []
    state.hyper.append(now)
    if len(state.hyper) < th.hyper_repeat_count:
        return []
    at = reading.measured_at
    message = (
        f"Glucose at or above {th.glucose_hyper_warning:g} mmol/L {len(state.hyper)} times in "
        f"{th.hyper_repeat_days:g} days."
    )
    evidence = {"count": len(state.hyper), "latest_mmol_l": value}
    return [Candidate("glucose.hyper.repeated", Severity.WARNING, at, message, at, evidence)]


def quiet_checks(state: ResidentState, now: datetime, th: Thresholds) -> list[Effect]:
    """Clear the repeated-value notes whose readings have aged out of their windows."""
    seconds = now.timestamp()
    state.irregular = recent(state.irregular, seconds, th.irregular_days)
    state.hyper = recent(state.hyper, seconds, th.hyper_repeat_days)
    effects: list[Effect] = []
    if not state.irregular and state.alerts.is_open("pulse.irregular"):
        effects.append(Clear("pulse.irregular", now, "No irregular pulse flagged lately."))
    if not state.hyper and state.alerts.is_open("glucose.hyper.repeated"):
        effects.append(Clear("glucose.hyper.repeated", now, "No high glucose lately."))
    return effects
