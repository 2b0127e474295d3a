"""Missed measurements: each resident's usual rhythm, and silences much longer than it.

The usual gap is the median time between measurement sessions (readings less than six hours
apart are one session: a re-measurement is not a new day's habit). A silence longer than
max(`missed_min_days`, `missed_gap_factor` x the usual gap) is news for the family; twice
that (`missed_doctor_factor`) is news for the doctor. A gateway that has not been heard from
explains a silence by itself: then nobody is told the resident stopped measuring.
"""

from __future__ import annotations

import enum
import itertools
import statistics
from dataclasses import dataclass

from analytics.thresholds import Thresholds

SESSION_SECONDS = 6 * 3600
MIN_GAPS = 3  # fewer sessions than this: no rhythm learnt yet
DAY = 86400.0


class Silence(enum.IntEnum):
    """How worrying a silence is."""

    NONE = 0
    FAMILY = 1
    DOCTOR = 2


@dataclass(frozen=True, slots=True)
class Rhythm:
    """How often a resident usually measures, and the silences that break the habit."""

    usual_gap_days: float
    family_after_days: float
    doctor_after_days: float


def rhythm(times: list[float], th: Thresholds) -> Rhythm | None:
    """The rhythm learnt from recent reading times (epoch seconds, ascending), or None."""
    # A few dozen numbers: plain Python is several times faster here than numpy.
    sessions = [b - a for a, b in itertools.pairwise(times) if b - a >= SESSION_SECONDS]
    if len(sessions) < MIN_GAPS:
        return None
    usual = statistics.median(sessions) / DAY
    family = max(th.missed_min_days, th.missed_gap_factor * usual)
    return Rhythm(round(usual, 2), round(family, 2), round(family * th.missed_doctor_factor, 2))


def silence(last_reading: float, now: float, habit: Rhythm) -> Silence:
    """How worrying the time since `last_reading` is, for this rhythm."""
    quiet_days = (now - last_reading) / DAY
    if quiet_days > habit.doctor_after_days:
        return Silence.DOCTOR
    if quiet_days > habit.family_after_days:
        return Silence.FAMILY
    return Silence.NONE


def gateway_silent(gateway_seen: float | None, now: float, th: Thresholds) -> bool:
    """True when the home's gateway has not been heard from for too long (None: unknown)."""
    return gateway_seen is not None and now - gateway_seen > th.gateway_silent_hours * 3600
