"""Residents of the synthetic cohort: levels, habits and planned events, drawn at random.

`draw_profile` draws one resident from a generator; `analytics.synthetic.sim` and
`analytics.synthetic.glucose` turn the profile into readings. Residents live in Chongqing
(+08:00, no daylight saving).

The figures below are approximate, taken from the kind of source named beside each; they
aim at what home readings of elderly Chinese residents look like, not at any detector.

Residents
    Age 60-90, skewed young (60 + 30 * Beta(1.6, 2.6), mean about 71). Conditions: 55%
    hypertension only, 15% diabetes only, 30% both (community chronic-disease registers
    under China's basic public health service hold mostly hypertension, with diabetes often
    alongside).

Blood pressure
    Personal home systolic level: N(138, 13) mmHg for treated hypertension, clipped to
    108-185, about 40% below 135/85 (China Hypertension Survey: a minority of treated
    patients controlled; home readings run lower than office ones). Without hypertension
    N(124, 9). Level rises 0.15-0.2 mmHg a year of age. Diastolic 76 - 0.4 * (age - 70) +
    0.35 * (systolic - 138) + N(0, 7) (diastolic falls after 60 and pulse pressure widens:
    Framingham; elderly treated patients sit around 140/75).
    Morning surge (morning minus evening systolic) N(6, 6) mmHg, applied as a 24-hour cosine
    peaking at 08:00 (J-HOME, Ohasama: mornings 5-10 mmHg higher in treated elderly Asians).
    Season: +/-3 mmHg, highest mid-January (China Kadoorie Biobank: about 10 mmHg winter to
    summer in the population, less for treated patients indoors).
    Variability, multiplied per resident by LogNormal(0, 0.2): a day-to-day AR(1) level
    (phi 0.8, SD 4.5: spells of cold weather, salty meals, missed doses last days), session
    SD 6, reading SD 4 mmHg; diastolic about half of each plus its own
    noise. Total home systolic SD about 8-12 mmHg (Ohasama, J-HOME day-by-day variability).
    The first reading of a session runs about 3 mmHg above the second.
    Pulse N(72, 9) per resident, +3 in the morning, reading SD 5 (12 with atrial
    fibrillation). Atrial fibrillation in 2% at 60 rising to 8% at 90 (Chinese AF surveys);
    the monitor's irregular-pulse flag is set on 85% of their readings and on 1.5% of
    others' (ectopic beats).

Glucose
    With diabetes: fasting level LogNormal(median 7.4, sigma 0.2) mmol/L (elderly Chinese
    type 2 diabetes, roughly half not at target), 2-hour postprandial rise N(3.2, 1.2); 40%
    take insulin or a sulfonylurea (hypoglycaemia-prone). Without: fasting N(5.3, 0.4), rise
    N(1.6, 0.6). Within-person CV of fasting values 12% (17% when hypoglycaemia-prone, 7%
    without diabetes), 1.3 times that after meals; half of it shared within a day. Meter
    error (ISO 15197:2013, +/-15%) is inside these CVs. Values rounded to 0.1, meter range
    1.1-33.3.

Habits
    BP with hypertension: 25% twice daily (morning before breakfast and medication, evening
    before bed, as Chinese home BP guidance asks), 35% daily, 25% every 2-3 days, 15% about
    weekly; with diabetes only: 30% never, the rest mostly sparse. Glucose (Chinese SMBG
    guidance: oral agents 2-4 checks a week, insulin daily fasting): hypoglycaemia-prone
    30% fasting plus most postprandials daily, 50% daily fasting, the rest sparse; others
    15% daily, 45% every 2-3 days, 40% weekly; 15% of residents without diabetes check now
    and then. Morning time U(6, 8) h, evening U(19, 21.5) h, jitter 25-30 minutes; 20%
    measure mostly in the evening. Each
    resident skips a measuring day with probability Beta(1.5, 10) (mean 13%); 15% skip
    weekends. 35% take two readings a minute apart; after a reading >= 160/100, half of the
    residents re-measure with probability 0.8 (the others 0.1), 30% of those re-measures
    only after 6-20 minutes. 25% of meters carry no meal tag.

Injected events (rates per resident per 90 days, enriched over real life to give the
    evaluation enough cases; the labels' origins keep them apart from ordinary variability)
    Hypertensive episodes (hypertension): 0.06 with systolic 182-196 and 0.025 at crisis
    level (>= 200 systolic, or diastolic 121-128); 60% surface at the next routine session,
    40% at an extra check; 30% are followed by another check 30-120 minutes later.
    Hypoglycaemia (diabetes): level 1 (3.0-3.85) 0.35 and level 2 (2.0-2.95) 0.10 when
    hypoglycaemia-prone, 0.04 and 0.01 otherwise; found at the morning check (35%), in the
    day (45%) or evening (20%); 60% re-check 15-25 minutes later after treating (+0.8-2.5).
    Severe hyperglycaemia (diabetes): 0.08, 17-26 mmol/L for 1-3 days, with extra checks.
    Sustained systolic drift (hypertension, 8% of residents when the period is >= 56 days):
    +15 to +30 mmHg (diastolic half), ramping over 0-7 days (medication stopped, NSAIDs,
    salt), lasting 14-60 days, then back over 3 days; onset from day 35 on, so that five
    weeks of readings stand in for the history a resident followed for months would have
    (a personal baseline, any detector's, needs weeks). Silences: 0.12, 4-10 days without
    any reading (illness, travel), from day 14 on (two weeks to learn the usual gap).
    Gateway offline: 0.05, 0.5-5 days; readings wait in the devices and arrive after
    (a track's `received` times).

Device artefacts
    Body movement flag: Beta(1, 60) of a resident's BP readings (mean 1.6%), +8 +/- 10 mmHg.
    Loose cuff flag: 0.5% for most, about 9% for the 10% who wrap the cuff badly, +8 mmHg
    (an ill-fitting cuff overestimates). Implausible values on 0.2% of BP readings (diastolic
    above systolic, systolic 255-299 over 30-60, pulse pressure < 8). Glucose: 0.5% flagged
    device errors reading 30-70% low (short sample); control-solution checks 0.8 per meter
    user, level 1 (2.4-4.2) and/or level 2 (15-21 mmol/L).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from analytics.synthetic.sim import (
    DAY,
    HOUR,
    BpEpisode,
    Drift,
    GlucoseEpisode,
    Habit,
    Period,
    Profile,
    Window,
)

# Residents were measuring long before the period; a personal baseline or usual gap (any
# detector's) needs weeks of readings, so events judged against a resident's own history
# begin after the period's first weeks have stood in for it.
DRIFT_HISTORY_DAYS = 35
SILENCE_HISTORY_DAYS = 14
_H = Habit
BP_HABITS = {True: ((_H.TWICE_DAILY, _H.DAILY, _H.EVERY_2_3_DAYS, _H.WEEKLY), (25, 35, 25, 15))}
BP_HABITS[False] = ((_H.NEVER, _H.DAILY, _H.EVERY_2_3_DAYS, _H.WEEKLY), (30, 10, 25, 35))
GLUCOSE_HABITS = {
    "prone": ((_H.TWICE_DAILY, _H.DAILY, _H.EVERY_2_3_DAYS, _H.WEEKLY), (30, 50, 15, 5)),
    "diabetes": ((_H.DAILY, _H.EVERY_2_3_DAYS, _H.WEEKLY), (15, 45, 40)),
    "none": ((_H.NEVER, _H.WEEKLY), (85, 15)),
}


def _pick(rng: np.random.Generator, options: tuple[tuple[Habit, ...], tuple[int, ...]]) -> Habit:
    habits, weights = options
    w = np.array(weights, float)
    return habits[int(rng.choice(len(habits), p=w / w.sum()))]


def _count(rng: np.random.Generator, per_90_days: float, period: Period) -> int:
    return int(rng.poisson(per_90_days * period.days / 90))


def _random_time(rng: np.random.Generator, period: Period, hours: tuple[float, float]) -> int:
    day = int(rng.integers(0, period.days))
    return int(day * DAY + rng.uniform(*hours) * HOUR)


def _bp_episodes(rng: np.random.Generator, period: Period) -> tuple[BpEpisode, ...]:
    episodes = []
    for level, rate in (("urgent", 0.06), ("crisis", 0.025)):
        for _ in range(_count(rng, rate, period)):
            systolic, diastolic = rng.uniform(182, 196), None
            if level == "crisis":
                if rng.random() < 0.75:
                    systolic = rng.uniform(203, 230)
                else:
                    systolic, diastolic = rng.uniform(185, 210), rng.uniform(121, 128)
            at = _random_time(rng, period, (8, 22))
            episodes.append(
                BpEpisode(at, systolic, diastolic, rng.random() < 0.6, rng.random() < 0.3)
            )
    return tuple(episodes)


def _glucose_events(
    rng: np.random.Generator, period: Period, prone: bool, morning: float
) -> tuple[tuple[GlucoseEpisode, ...], tuple[GlucoseEpisode, ...]]:
    hypos = []
    rates = (0.35, 0.10) if prone else (0.04, 0.01)
    for level, rate in zip((1, 2), rates, strict=True):
        for _ in range(_count(rng, rate, period)):
            when = rng.choice(3, p=[0.35, 0.45, 0.20])
            hours = ((morning - 0.3, morning), (10.5, 17.5), (20, 23))[when]
            value = rng.uniform(3.0, 3.85) if level == 1 else rng.uniform(2.0, 2.95)
            at = _random_time(rng, period, hours)
            hypos.append(GlucoseEpisode(at, round(value, 1), recheck=bool(rng.random() < 0.6)))
    hypers = [
        GlucoseEpisode(
            _random_time(rng, period, (8, 21)),
            float(rng.uniform(17, 26)),
            days=float(rng.uniform(1, 3)),
        )
        for _ in range(_count(rng, 0.08, period))
    ]
    return tuple(hypos), tuple(hypers)


def _drift(rng: np.random.Generator, period: Period) -> Drift | None:
    if period.days < DRIFT_HISTORY_DAYS + 21 or rng.random() >= 0.08:
        return None
    onset = int(rng.uniform(DRIFT_HISTORY_DAYS, period.days - 21) * DAY)
    ramp = int(rng.uniform(0, 7) * DAY)
    end = onset + ramp + int(rng.uniform(14, 60) * DAY)
    return Drift(onset, ramp, end, float(rng.uniform(15, 30)))


def _windows(
    rng: np.random.Generator,
    period: Period,
    rate: float,
    days: tuple[float, float],
    earliest: float,
) -> tuple[Window, ...]:
    windows: list[Window] = []
    latest = max(period.days - 4, 1)
    for _ in range(_count(rng, rate, period)):
        start = int(rng.uniform(min(earliest, latest - 1), latest) * DAY)
        end = min(start + int(rng.uniform(*days) * DAY), period.seconds)
        if all(end <= w.start or start >= w.end for w in windows):
            windows.append(Window(start, end))
    return tuple(windows)


def draw_profile(rng: np.random.Generator, rid: str, period: Period) -> Profile:
    """One resident: levels, habits and planned events, from the figures in the docstring."""
    age = 60 + 30 * rng.beta(1.6, 2.6)
    born = period.start - timedelta(days=int(age * 365.25))
    kind = rng.random()
    hypertension, diabetes = kind < 0.55 or kind >= 0.70, kind >= 0.55
    if hypertension:
        systolic = float(np.clip(rng.normal(138 + 0.15 * (age - 70), 13), 108, 185))
    else:
        systolic = float(np.clip(rng.normal(124 + 0.2 * (age - 70), 9), 100, 142))
    diastolic = 76 - 0.4 * (age - 70) + 0.35 * (systolic - 138) + rng.normal(0, 7)
    prone = diabetes and rng.random() < 0.4
    if diabetes:
        fasting = float(np.clip(7.4 * np.exp(rng.normal(0, 0.2)), 5.6, 13))
        rise = float(np.clip(rng.normal(3.2, 1.2), 1, 7))
        cv, glucose_habits = (0.17, GLUCOSE_HABITS["prone"]) if prone else (0.12, None)
        glucose_habits = glucose_habits or GLUCOSE_HABITS["diabetes"]
    else:
        fasting = float(np.clip(rng.normal(5.3, 0.4), 4.4, 6.9))
        rise = float(np.clip(rng.normal(1.6, 0.6), 0.3, 3.5))
        cv, glucose_habits = 0.07, GLUCOSE_HABITS["none"]
    morning = float(rng.uniform(6, 8))
    bad_cuff = rng.random() < 0.1
    glucose_habit = _pick(rng, glucose_habits)
    hypos, hypers = _glucose_events(rng, period, prone, morning) if diabetes else ((), ())
    return Profile(
        resident_id=rid,
        birth_date=born,
        hypertension=hypertension,
        diabetes=diabetes,
        systolic=systolic,
        diastolic=float(np.clip(diastolic, 55, systolic - 25)),
        surge=float(rng.normal(6, 6)),
        bp_scale=float(rng.lognormal(0, 0.2)),
        pulse=float(np.clip(rng.normal(72, 9), 50, 100)),
        atrial_fibrillation=bool(rng.random() < 0.02 + 0.002 * (age - 60)),
        hypo_prone=prone,
        fasting=fasting,
        postprandial_rise=rise,
        glucose_cv=cv,
        bp_habit=_pick(rng, BP_HABITS[hypertension]),
        glucose_habit=glucose_habit,
        morning_hour=morning,
        evening_hour=float(rng.uniform(19, 21.5)),
        prefers_evening=bool(rng.random() < 0.2),
        double_reading=bool(rng.random() < 0.35),
        remeasure_high=0.8 if rng.random() < 0.5 else 0.1,
        remeasure_late=0.3,
        skip_weekends=bool(rng.random() < 0.15),
        skip_day=float(rng.beta(1.5, 10)),
        tags_meal=bool(rng.random() >= 0.25),
        movement_rate=float(rng.beta(1, 60)),
        cuff_rate=float(rng.beta(2, 20) if bad_cuff else rng.beta(1, 200)),
        implausible_rate=0.002,
        glucose_error_rate=0.005,
        control_tests=tuple(
            _random_time(rng, period, (8, 20))
            for _ in range(_count(rng, 0.8 if glucose_habit is not Habit.NEVER else 0, period))
        ),
        bp_episodes=_bp_episodes(rng, period) if hypertension else (),
        hypos=hypos,
        hypers=hypers,
        drift=_drift(rng, period) if hypertension else None,
        silences=_windows(rng, period, 0.12, (4, 10), SILENCE_HISTORY_DAYS),
        offline=_windows(rng, period, 0.05, (0.5, 5), 3),
    )
