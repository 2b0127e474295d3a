"""Mechanics of the synthetic cohort: one resident's profile becomes readings.

`analytics.synthetic.profiles` draws the profiles and documents where every figure comes
from; this module only turns a profile (levels, habits, planned events) into time-stamped
readings. Times are whole seconds from local midnight of the first day (China Standard Time,
no DST).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

DAY = 86_400
HOUR = 3_600
MEALS = ("fasting", "preprandial", "postprandial", "bedtime", "casual")
FASTING, PREPRANDIAL, POSTPRANDIAL, BEDTIME, CASUAL = range(5)
NO_MEAL = -1
BP, GLUCOSE = 0, 1
# Flag bits of a reading; IMPLAUSIBLE is the generator's own mark, never written as a flag.
BODY_MOVEMENT, CUFF_LOOSE, CONTROL_SOLUTION, DEVICE_ERROR, IMPLAUSIBLE = 1, 2, 4, 8, 16
FLAG_NAMES = (
    (BODY_MOVEMENT, "body_movement"),
    (CUFF_LOOSE, "cuff_loose"),
    (CONTROL_SOLUTION, "control_solution"),
    (DEVICE_ERROR, "device_error"),
)
SEASON_AMPLITUDE = 3.0  # mmHg systolic, home BP of treated residents, peak mid-January
FIRST_READING_EXCESS = 1.5  # mmHg: the first reading of a session runs higher than the next


class Habit(enum.StrEnum):
    """How often a resident measures one kind of reading."""

    TWICE_DAILY = "twice_daily"
    DAILY = "daily"
    EVERY_2_3_DAYS = "every_2_3_days"
    WEEKLY = "weekly"
    NEVER = "never"


USUAL_GAP_DAYS = {
    Habit.TWICE_DAILY: 0.5,
    Habit.DAILY: 1.0,
    Habit.EVERY_2_3_DAYS: 2.5,
    Habit.WEEKLY: 7.5,
}


@dataclass(frozen=True)
class Period:
    """The simulated days: `days` days from local midnight of `start`."""

    start: date
    days: int

    @property
    def seconds(self) -> int:
        """Length of the period in seconds."""
        return self.days * DAY


@dataclass(frozen=True)
class BpEpisode:
    """A hypertensive episode: the readings of one session pushed to about these values."""

    at: int
    systolic: float
    diastolic: float | None  # None: diastolic follows systolic
    routine: bool  # found at a routine session (the next one) rather than an extra check
    follow_up: bool  # the resident checks again 30-120 minutes later


@dataclass(frozen=True)
class GlucoseEpisode:
    """A hypoglycaemia check (value) or a hyperglycaemic spell lasting `days`."""

    at: int
    value: float
    recheck: bool = False
    days: float = 0.0


@dataclass(frozen=True)
class Drift:
    """A sustained systolic rise: a ramp from `onset`, a plateau until `end`, then back."""

    onset: int
    ramp: int
    end: int
    amount: float


@dataclass(frozen=True)
class Window:
    """A stretch of time: a silence, or a gateway offline."""

    start: int
    end: int


@dataclass(frozen=True)
class Profile:
    """One resident: levels, variability, habits and the events planned for the period."""

    resident_id: str
    birth_date: date
    hypertension: bool
    diabetes: bool
    systolic: float
    diastolic: float
    surge: float  # morning minus evening systolic, mmHg
    bp_scale: float  # multiplies every BP noise SD
    pulse: float
    atrial_fibrillation: bool
    hypo_prone: bool  # insulin or a sulfonylurea
    fasting: float  # mmol/L
    postprandial_rise: float  # mmol/L above fasting, two hours after a meal
    glucose_cv: float  # within-person coefficient of variation of fasting values
    bp_habit: Habit
    glucose_habit: Habit
    morning_hour: float
    evening_hour: float
    prefers_evening: bool
    double_reading: bool  # takes two readings a minute apart, as guidance advises
    remeasure_high: float  # probability of re-measuring after a high reading
    remeasure_late: float  # share of those re-measures taken after more than 5 minutes
    skip_weekends: bool
    skip_day: float
    tags_meal: bool
    movement_rate: float
    cuff_rate: float
    implausible_rate: float
    glucose_error_rate: float
    control_tests: tuple[int, ...] = ()
    bp_episodes: tuple[BpEpisode, ...] = ()
    hypos: tuple[GlucoseEpisode, ...] = ()
    hypers: tuple[GlucoseEpisode, ...] = ()
    drift: Drift | None = None
    silences: tuple[Window, ...] = ()
    offline: tuple[Window, ...] = ()


@dataclass
class Track:
    """One resident's readings as parallel arrays, in time order."""

    t: np.ndarray  # int64 seconds from the period's start
    kind: np.ndarray  # BP or GLUCOSE
    systolic: np.ndarray
    diastolic: np.ndarray
    pulse: np.ndarray
    glucose: np.ndarray
    meal: np.ndarray
    irregular: np.ndarray
    flags: np.ndarray
    episode: np.ndarray  # index of the injected episode behind a reading, or -1
    received: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.t)


def season_offset(period: Period, t: np.ndarray) -> np.ndarray:
    """Seasonal systolic offset (mmHg) at times `t`: highest in mid-January."""
    day_of_year = period.start.timetuple().tm_yday + t / DAY
    return SEASON_AMPLITUDE * np.cos(2 * math.pi * (day_of_year - 15) / 365.25)


def diurnal_offset(surge: float, t: np.ndarray) -> np.ndarray:
    """Systolic offset by time of day: +surge/2 at 08:00, -surge/2 at 20:00."""
    hour = (t % DAY) / HOUR
    return surge / 2 * np.cos(2 * math.pi * (hour - 8) / 24)


def drift_offset(drift: Drift | None, t: np.ndarray) -> np.ndarray:
    """Systolic added by a drift at times `t`: ramp, plateau, then three days back down."""
    if drift is None:
        return np.zeros(len(t))
    up = np.clip((t - drift.onset) / max(drift.ramp, 1), 0, 1)
    down = np.clip(1 - (t - drift.end) / (3 * DAY), 0, 1)
    return drift.amount * np.minimum(up, down)


def session_days(rng: np.random.Generator, habit: Habit, p: Profile, period: Period) -> np.ndarray:
    """The days a resident measures on, habits, skipped days and weekends applied."""
    if habit is Habit.NEVER:
        return np.zeros(0, np.int64)
    if habit in (Habit.TWICE_DAILY, Habit.DAILY):
        days = np.arange(period.days)
    else:
        low, high = (2, 4) if habit is Habit.EVERY_2_3_DAYS else (5, 11)
        gaps = rng.integers(low, high, size=period.days // low + 2)
        days = np.cumsum(gaps) - rng.integers(0, high)
        days = days[(days >= 0) & (days < period.days)]
    keep = rng.random(len(days)) >= p.skip_day
    if p.skip_weekends:
        keep &= (period.start.weekday() + days) % 7 < 5
    return days[keep]


def _without(t: np.ndarray, windows: tuple[Window, ...]) -> np.ndarray:
    keep = np.ones(len(t), bool)
    for w in windows:
        keep &= (t < w.start) | (t >= w.end)
    return keep


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    """A stationary AR(1) series of `n` days with standard deviation `sd`."""
    shocks = rng.normal(0, sd * math.sqrt(1 - phi * phi), n)
    out = np.empty(n)
    level = rng.normal(0, sd)
    for i in range(n):
        level = phi * level + shocks[i]
        out[i] = level
    return out


def bp_session_times(rng: np.random.Generator, p: Profile, period: Period) -> np.ndarray:
    """Routine BP session times: mornings and/or evenings on the resident's days."""
    days = session_days(rng, p.bp_habit, p, period)
    morning = days * DAY + (p.morning_hour + rng.normal(0, 0.4, len(days))) * HOUR
    evening = days * DAY + (p.evening_hour + rng.normal(0, 0.5, len(days))) * HOUR
    if p.bp_habit is Habit.TWICE_DAILY:
        times = np.concatenate([morning, evening])
    else:
        in_evening = rng.random(len(days)) < (0.85 if p.prefers_evening else 0.15)
        times = np.where(in_evening, evening, morning)
    times = np.sort(np.clip(times, 0, period.seconds - 1).astype(np.int64))
    kept: np.ndarray = times[_without(times, p.silences)]
    return kept


def _place_bp_episodes(
    rng: np.random.Generator, p: Profile, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sessions with episodes placed: times, target systolic, target diastolic, episode index."""
    sys_target = np.full(len(times), np.nan)
    dia_target = np.full(len(times), np.nan)
    episode = np.full(len(times), -1)
    extra_t, extra_s, extra_d, extra_e = [], [], [], []
    for number, ep in enumerate(p.bp_episodes):
        after = np.flatnonzero((times >= ep.at) & (times < ep.at + 2 * DAY) & (episode < 0))
        if ep.routine and len(after):
            k = after[0]
            sys_target[k], episode[k] = ep.systolic, number
            dia_target[k] = np.nan if ep.diastolic is None else ep.diastolic
            at = int(times[k])
        else:
            at = ep.at
            extra_t.append(at)
            extra_s.append(ep.systolic)
            extra_d.append(np.nan if ep.diastolic is None else ep.diastolic)
            extra_e.append(number)
        if ep.follow_up:
            extra_t.append(at + int(rng.uniform(30, 120) * 60))
            extra_s.append(ep.systolic - rng.uniform(0, 12))
            extra_d.append(np.nan if ep.diastolic is None else ep.diastolic - rng.uniform(0, 6))
            extra_e.append(number)
    times = np.concatenate([times, np.array(extra_t, np.int64)])
    sys_target = np.concatenate([sys_target, extra_s])
    dia_target = np.concatenate([dia_target, extra_d])
    episode = np.concatenate([episode, np.array(extra_e, np.int64)])
    order = np.argsort(times, kind="stable")
    return times[order], sys_target[order], dia_target[order], episode[order]


def bp_track(rng: np.random.Generator, p: Profile, period: Period) -> Track:
    """Blood-pressure readings: routine sessions, re-measures, episodes, drift and artefacts."""
    times, sys_target, dia_target, episode = _place_bp_episodes(
        rng, p, bp_session_times(rng, p, period)
    )
    n, s = len(times), p.bp_scale
    day = np.minimum(times // DAY, period.days - 1)
    ar_s = _ar1(rng, period.days, 4.5 * s, 0.8)[day]
    ar_d = _ar1(rng, period.days, 2.0 * s, 0.8)[day]
    common = diurnal_offset(p.surge, times) + season_offset(period, times)
    drift = drift_offset(p.drift, times)
    session_s = rng.normal(0, 6.0 * s, n)
    base_s = p.systolic + common + ar_s + drift + session_s
    base_d = p.diastolic + 0.5 * (common + ar_s + drift + session_s) + ar_d
    base_d += rng.normal(0, 2.5 * s, n)
    off_s = np.where(np.isnan(sys_target), 0.0, sys_target - base_s)
    off_d = np.where(np.isnan(dia_target), 0.45 * off_s, dia_target - base_d)
    base_s, base_d = base_s + off_s, base_d + off_d
    pulse_base = p.pulse + 3.0 * ((times % DAY) < 12 * HOUR) + rng.normal(0, 3, n)

    def reading(excess: float) -> tuple[np.ndarray, np.ndarray]:
        return (
            base_s + rng.normal(0, 4.0 * s, n) + excess,
            base_d + rng.normal(0, 2.5 * s, n) + excess / 2,
        )

    s1, d1 = reading(FIRST_READING_EXCESS)
    # A high first reading prompts some residents to measure again, as guidance advises.
    high = (s1 >= 160) | (d1 >= 100)
    remeasure = (not p.double_reading) & high & (rng.random(n) < p.remeasure_high)
    second = remeasure | p.double_reading
    late = remeasure & (rng.random(n) < p.remeasure_late)
    delay = np.where(
        p.double_reading,
        rng.uniform(60, 120, n),
        np.where(late, rng.uniform(360, 1200, n), rng.uniform(60, 300, n)),
    )
    s2, d2 = reading(-FIRST_READING_EXCESS)
    t = np.concatenate([times, (times + delay.astype(np.int64))[second]])
    sys_v = np.concatenate([s1, s2[second]])
    dia_v = np.concatenate([d1, d2[second]])
    pulse_sd = 12.0 if p.atrial_fibrillation else 5.0
    pulse_v = np.concatenate([pulse_base, pulse_base[second]]) + rng.normal(0, pulse_sd, len(t))
    ep = np.concatenate([episode, episode[second]])
    order = np.argsort(t, kind="stable")
    track = _bp_arrays(t[order], sys_v[order], dia_v[order], pulse_v[order], ep[order])
    _bp_artefacts(rng, p, track)
    return track


def _bp_arrays(
    t: np.ndarray, sys_v: np.ndarray, dia_v: np.ndarray, pulse_v: np.ndarray, ep: np.ndarray
) -> Track:
    n = len(t)
    return Track(
        t=t.astype(np.int64),
        kind=np.full(n, BP, np.int8),
        systolic=sys_v,
        diastolic=dia_v,
        pulse=pulse_v,
        glucose=np.full(n, np.nan),
        meal=np.full(n, NO_MEAL, np.int8),
        irregular=np.zeros(n, bool),
        flags=np.zeros(n, np.int8),
        episode=ep.astype(np.int64),
    )


def _bp_artefacts(rng: np.random.Generator, p: Profile, tr: Track) -> None:
    """Irregular-pulse flags, body movement, loose cuffs, implausible values; then rounding."""
    n = len(tr)
    tr.irregular = rng.random(n) < (0.85 if p.atrial_fibrillation else 0.015)
    injected = tr.episode >= 0  # an injected episode's readings stay clean
    moved = ~injected & (rng.random(n) < p.movement_rate)
    loose = ~injected & ~moved & (rng.random(n) < p.cuff_rate)
    odd = ~injected & ~moved & ~loose & (rng.random(n) < p.implausible_rate)
    tr.systolic += moved * rng.normal(8, 10, n) + loose * rng.normal(8, 6, n)
    tr.diastolic += moved * rng.normal(4, 6, n) + loose * rng.normal(6, 5, n)
    tr.pulse += moved * rng.normal(6, 6, n)
    tr.systolic = np.clip(np.round(tr.systolic), 70, 260)
    tr.diastolic = np.clip(np.round(tr.diastolic), 35, tr.systolic - 10)
    tr.pulse = np.clip(np.round(tr.pulse), 35, 180)
    pattern = rng.integers(0, 3, n)
    # Artefacts of oscillometric monitors: diastolic above systolic, an absurd systolic with a
    # low diastolic, or a pulse pressure of a few mmHg.
    tr.diastolic = np.where(
        odd & (pattern == 0), tr.systolic + rng.integers(0, 16, n), tr.diastolic
    )
    tr.systolic = np.where(odd & (pattern == 1), rng.integers(255, 300, n), tr.systolic)
    tr.diastolic = np.where(odd & (pattern == 1), rng.integers(30, 61, n), tr.diastolic)
    tr.diastolic = np.where(odd & (pattern == 2), tr.systolic - rng.integers(0, 8, n), tr.diastolic)
    tr.flags = (moved * BODY_MOVEMENT + loose * CUFF_LOOSE + odd * IMPLAUSIBLE).astype(np.int8)
