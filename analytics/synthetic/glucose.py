"""Mechanics of the synthetic cohort, continued: glucose readings, and one resident's track.

`analytics.synthetic.profiles` documents the figures; this module only applies them.
"""

from __future__ import annotations

import numpy as np

from analytics.synthetic.sim import (
    BEDTIME,
    CASUAL,
    CONTROL_SOLUTION,
    DAY,
    DEVICE_ERROR,
    FASTING,
    GLUCOSE,
    HOUR,
    NO_MEAL,
    POSTPRANDIAL,
    PREPRANDIAL,
    Habit,
    Period,
    Profile,
    Track,
    bp_track,
    session_days,
)

HYPO_EPISODES = 1_000  # episode index of the first hypoglycaemia (BP episodes start at 0)
HYPER_EPISODES = 2_000
# Meal tag of a sparse measurer's one reading of the day: fasting checks dominate (Chinese
# SMBG guidance asks for fasting and 2-hour postprandial values).
_MEAL_SHARES = {FASTING: 0.5, POSTPRANDIAL: 0.3, PREPRANDIAL: 0.07, BEDTIME: 0.07, CASUAL: 0.06}


def _meal_hours(rng: np.random.Generator, p: Profile, meals: np.ndarray) -> np.ndarray:
    """Hour of day of a reading with this meal tag."""
    n = len(meals)
    by_meal = {
        FASTING: p.morning_hour - 0.25 + rng.normal(0, 0.3, n),
        PREPRANDIAL: rng.choice([11.3, 17.3], n) + rng.normal(0, 0.3, n),
        POSTPRANDIAL: rng.choice([9.0, 13.5, 19.8], n) + rng.normal(0, 0.4, n),
        BEDTIME: 21.5 + rng.normal(0, 0.5, n),
        CASUAL: rng.uniform(9, 21, n),
    }
    hours = np.zeros(n)
    for meal, hour in by_meal.items():
        hours = np.where(meals == meal, hour, hours)
    return np.clip(hours, 0.1, 23.9)


def glucose_sessions(
    rng: np.random.Generator, p: Profile, period: Period
) -> tuple[np.ndarray, np.ndarray]:
    """Routine glucose checks: times and meal tags."""
    days = session_days(rng, p.glucose_habit, p, period)
    if p.glucose_habit in (Habit.DAILY, Habit.TWICE_DAILY):
        # Fasting every day, and a postprandial check on some days.
        share = 0.8 if p.glucose_habit is Habit.TWICE_DAILY else 0.35
        extra = days[rng.random(len(days)) < share]
        days = np.concatenate([days, extra])
        meals = np.concatenate(
            [np.full(len(days) - len(extra), FASTING), np.full(len(extra), POSTPRANDIAL)]
        )
    else:
        meals = rng.choice(list(_MEAL_SHARES), len(days), p=list(_MEAL_SHARES.values()))
    times = (days * DAY + _meal_hours(rng, p, meals) * HOUR).astype(np.int64)
    return times, meals.astype(np.int8)


def _routine_values(
    rng: np.random.Generator, p: Profile, period: Period, times: np.ndarray, meals: np.ndarray
) -> np.ndarray:
    """Values of routine checks: personal level by meal, day-to-day and reading noise."""
    n = len(times)
    rise = np.select(
        [meals == PREPRANDIAL, meals == POSTPRANDIAL, meals == BEDTIME, meals == CASUAL],
        [0.4 / max(p.postprandial_rise, 0.1), 1.0, 0.6, rng.uniform(0, 1, n)],
        0.0,
    )
    mean = p.fasting + rise * p.postprandial_rise
    cv = np.where(meals == FASTING, p.glucose_cv, 1.3 * p.glucose_cv)
    day_effect = rng.normal(0, 0.5 * p.glucose_cv, period.days)[times // DAY]
    return np.asarray(mean * np.exp(day_effect + rng.normal(0, 1, n) * cv))


def _episodes(
    rng: np.random.Generator, p: Profile, times: np.ndarray, values: np.ndarray
) -> tuple[list[int], list[float], list[int], np.ndarray]:
    """Readings that hypo- and hyperglycaemic episodes add; routine readings they change."""
    add_t: list[int] = []
    add_v: list[float] = []
    add_e: list[int] = []
    episode = np.full(len(times), -1)
    for number, ep in enumerate(p.hypos):
        add_t.append(ep.at)
        add_v.append(ep.value)
        add_e.append(HYPO_EPISODES + number)
        if ep.recheck:  # the 15-15 rule: treat, check again after 15 minutes
            add_t.append(ep.at + int(rng.uniform(15, 25) * 60))
            add_v.append(ep.value + rng.uniform(0.8, 2.5))
            add_e.append(HYPO_EPISODES + number)
    for number, ep in enumerate(p.hypers):
        end = ep.at + int(ep.days * DAY)
        inside = (times >= ep.at) & (times < end)
        values[inside] = ep.value * np.exp(rng.normal(0, 0.12, inside.sum()))
        episode[inside] = HYPER_EPISODES + number
        checks = [ep.at] + [ep.at + k * DAY + int(rng.uniform(-3, 3) * HOUR) for k in range(1, 3)]
        for at in checks:
            if at < end:
                add_t.append(at)
                add_v.append(ep.value * float(np.exp(rng.normal(0, 0.12))))
                add_e.append(HYPER_EPISODES + number)
    return add_t, add_v, add_e, episode


def _control_tests(rng: np.random.Generator, p: Profile) -> tuple[list[int], list[float]]:
    """Control-solution checks: level 1 (low) and/or level 2 (high) solution on a strip."""
    t: list[int] = []
    v: list[float] = []
    for at in p.control_tests:
        low, high = rng.uniform(2.4, 4.2), rng.uniform(15, 21)
        levels = [low, high] if rng.random() < 0.3 else [low if rng.random() < 0.6 else high]
        for k, value in enumerate(levels):
            t.append(at + k * int(rng.uniform(60, 180)))
            v.append(value)
    return t, v


def glucose_track(rng: np.random.Generator, p: Profile, period: Period) -> Track:
    """Glucose readings: routine checks, episodes, control solution and meter errors."""
    times, meals = glucose_sessions(rng, p, period)
    values = _routine_values(rng, p, period, times, meals)
    add_t, add_v, add_e, episode = _episodes(rng, p, times, values)
    control_t, control_v = _control_tests(rng, p)
    hours = (np.array(add_t, np.int64) % DAY) / HOUR
    add_meal = np.where((hours >= 5.5) & (hours < 8.5), FASTING, CASUAL)
    t = np.concatenate([times, np.array(add_t + control_t, np.int64)])
    v = np.concatenate([values, add_v, control_v])
    meal = np.concatenate([meals, add_meal, np.full(len(control_t), NO_MEAL)]).astype(np.int8)
    ep = np.concatenate([episode, add_e, np.full(len(control_t), -1)]).astype(np.int64)
    flags = np.zeros(len(t), np.int8)
    flags[len(t) - len(control_t) :] = CONTROL_SOLUTION
    # An insufficient sample or a strip fault: the meter flags it and reads low.
    broken = (ep < 0) & (flags == 0) & (rng.random(len(t)) < p.glucose_error_rate)
    v = np.where(broken, v * rng.uniform(0.3, 0.7, len(t)), v)
    flags[broken] = DEVICE_ERROR
    if not p.tags_meal:
        meal[:] = NO_MEAL
    n = len(t)
    return Track(
        t=t,
        kind=np.full(n, GLUCOSE, np.int8),
        systolic=np.full(n, np.nan),
        diastolic=np.full(n, np.nan),
        pulse=np.full(n, np.nan),
        glucose=np.clip(np.round(v, 1), 1.1, 33.3),
        meal=meal,
        irregular=np.zeros(n, bool),
        flags=flags,
        episode=ep,
    )


def resident_track(rng: np.random.Generator, p: Profile, period: Period) -> Track:
    """All of one resident's readings in time order, silences cut out, receipt times set."""
    bp, glu = bp_track(rng, p, period), glucose_track(rng, p, period)
    names = ("t", "kind", "systolic", "diastolic", "pulse", "glucose", "meal", "irregular")
    merged = {n: np.concatenate([getattr(bp, n), getattr(glu, n)]) for n in names}
    flags = np.concatenate([bp.flags, glu.flags])
    episode = np.concatenate([bp.episode, glu.episode])
    keep = (merged["t"] >= 0) & (merged["t"] < period.seconds)
    for w in p.silences:
        keep &= (merged["t"] < w.start) | (merged["t"] >= w.end)
    order = np.flatnonzero(keep)[np.argsort(merged["t"][keep], kind="stable")]
    track = Track(
        **{n: a[order] for n, a in merged.items()}, flags=flags[order], episode=episode[order]
    )
    # Gateways upload within minutes; while one is offline its readings wait in the devices'
    # memory and its outbox, and arrive after it is back.
    received = track.t + rng.integers(20, 600, len(track))
    for w in p.offline:
        inside = (track.t >= w.start) & (track.t < w.end)
        received[inside] = w.end + rng.integers(60, 1800, int(inside.sum()))
    track.received = received
    return track
