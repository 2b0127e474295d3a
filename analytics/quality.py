"""The data-quality guard, run before any rule: which readings must not count, and why.

A reading the guard marks is kept and counted as a data-quality problem, but raises no
clinical alert and does not count toward control status, baselines or re-measure windows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics.readings import Flag, Kind, Reading
from analytics.thresholds import Thresholds


class Problem(enum.StrEnum):
    """Why a reading does not count."""

    IMPLAUSIBLE = "implausible"
    DEVICE = "device"  # body movement, loose cuff, device error
    CLOCK = "clock"  # unset device clock, or stamped in the future
    CONTROL_SOLUTION = "control_solution"  # a meter check, not the resident's blood


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's answer: the problem (None when the reading counts) and the reasons."""

    problem: Problem | None
    reasons: tuple[str, ...] = ()

    @property
    def counts(self) -> bool:
        """True when rules may look at the reading."""
        return self.problem is None


GOOD = Verdict(None)
# Home monitors did not exist before; nothing Linli stores lives beyond.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _outside(name: str, value: float | None, bounds: tuple[float, float]) -> list[str]:
    if value is None:
        return []
    low, high = bounds
    return [] if low <= value <= high else [f"{name} {value:g} outside {low:g}-{high:g}"]


def _implausible(reading: Reading, th: Thresholds) -> list[str]:
    if reading.kind is Kind.GLUCOSE:
        reasons = [f"meter showed {label}" for f, label in _HI_LO.items() if f in reading.flags]
        return reasons or _outside("glucose", reading.glucose_mmol_l, th.plausible_glucose)
    reasons = _outside("systolic", reading.systolic, th.plausible_systolic)
    reasons += _outside("diastolic", reading.diastolic, th.plausible_diastolic)
    reasons += _outside("pulse", reading.pulse, th.plausible_pulse)
    systolic, diastolic = reading.systolic, reading.diastolic
    if systolic is not None and diastolic is not None:
        low, high = th.plausible_pulse_pressure
        if diastolic >= systolic:
            reasons.append(f"diastolic {diastolic:g} not below systolic {systolic:g}")
        elif not low <= systolic - diastolic <= high:
            reasons.append(
                f"systolic minus diastolic {systolic - diastolic:g} outside {low:g}-{high:g}"
            )
    return reasons


_HI_LO = {Flag.RESULT_TOO_HIGH: "HI", Flag.RESULT_TOO_LOW: "LO"}
_DEVICE_FLAGS = (Flag.BODY_MOVEMENT, Flag.CUFF_LOOSE, Flag.DEVICE_ERROR)


def check(reading: Reading, th: Thresholds) -> Verdict:
    """What is wrong with `reading`, most telling problem first; GOOD when nothing is."""
    if Flag.CONTROL_SOLUTION in reading.flags:
        return Verdict(Problem.CONTROL_SOLUTION, ("control solution, not blood",))
    implausible = _implausible(reading, th)
    if implausible:
        return Verdict(Problem.IMPLAUSIBLE, tuple(implausible))
    device = [str(flag) for flag in _DEVICE_FLAGS if flag in reading.flags]
    if device:
        return Verdict(Problem.DEVICE, tuple(device))
    if not EARLIEST <= reading.measured_at <= LATEST:
        return Verdict(Problem.CLOCK, ("a time no reading can have",))
    if Flag.CLOCK_UNSET in reading.flags:
        return Verdict(Problem.CLOCK, ("the device's clock was not set",))
    received = reading.received_at
    if received is not None and reading.measured_at > received + timedelta(
        minutes=th.future_minutes
    ):
        return Verdict(Problem.CLOCK, ("stamped later than it was received",))
    return GOOD
