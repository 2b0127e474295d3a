"""Personal-baseline drift: a sustained rise of daily mean systolic pressure over a resident's
own usual level, found by a one-sided CUSUM.

The baseline is the median of the daily means in the weeks before the recent window, its
spread 1.4826 x their median absolute deviation (a robust standard deviation), floored. Over
the recent window the CUSUM S = max(0, S + x - baseline - k), with k half the rise worth
telling (Page's choice for a shift of 2k), signals when S passes `h` spreads and the rise has
lasted several calendar days at a level near the rise worth telling above the baseline
(`drift_min_rise`, a little under it: a true rise measured over a few noisy days often comes
out lower). Too little data in either window gives no verdict at all.

`h` is set for a resident who measures every day. A CUSUM's in-control run length, counted in
observations, grows about as exp(2kh) (k, h in spreads; Siegmund's approximation), so a
resident who measures every g days on average can be given h - ln(g) / 2k for the same false
alarms per month: fewer daily means, each needing to count a little more. The rise is asked
to span days on the calendar, not days with readings, for the same reason.

`today` is the first day *not* looked at: the detector passes the day after the check's day,
so that the readings taken earlier on the day of the check count too.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from analytics.thresholds import Thresholds

MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True)
class Baseline:
    """A resident's usual daily mean systolic pressure."""

    level: float
    spread: float
    days: int  # days with readings
    span: int  # calendar days from the first of them to the recent window


@dataclass(frozen=True, slots=True)
class Drift:
    """A sustained rise: the evidence a doctor needs."""

    baseline: float
    spread: float
    level: float  # mean of the daily means since the rise began
    began: int  # date ordinal of the first day of the rise
    statistic: float  # the CUSUM value, mmHg


def baseline(days: np.ndarray, means: np.ndarray, today: int, th: Thresholds) -> Baseline | None:
    """The baseline from the days before the recent window, or None with too few of them."""
    recent_start = today - th.drift_recent_days
    chosen = (days >= recent_start - th.drift_baseline_days) & (days < recent_start)
    values = means[chosen].tolist()
    if len(values) < th.drift_min_baseline_days:
        return None
    span = recent_start - int(days[chosen][0])
    # Medians of a few dozen numbers, every day for every resident: numpy's median costs
    # several times more than sorting a short list.
    level = float(statistics.median(values))
    deviation = statistics.median([abs(v - level) for v in values])
    spread = max(MAD_TO_SD * float(deviation), th.drift_min_spread)
    return Baseline(level, spread, len(values), span)


def cusum(
    days: np.ndarray, means: np.ndarray, today: int, usual: Baseline, th: Thresholds
) -> Drift | None:
    """The rise over `usual` in the recent window, if the CUSUM signals it today."""
    chosen = (days >= today - th.drift_recent_days) & (days < today)
    recent_days, recent_means = days[chosen], means[chosen]
    if recent_days.size < th.drift_min_recent_days:
        return None
    slack = th.drift_shift / 2
    statistic, began = 0.0, int(recent_days[0])
    for day, value in zip(recent_days.tolist(), recent_means.tolist(), strict=True):
        if statistic == 0.0:
            began = day
        statistic = max(0.0, statistic + value - usual.level - slack)
    if statistic <= decision_interval(usual, th):
        return None
    rising = recent_means[recent_days >= began]
    level = float(np.mean(rising))
    lasted = int(recent_days[-1]) - began + 1  # calendar days, the first and last included
    short = rising.size < 2 or lasted < th.drift_min_recent_days
    if short or level - usual.level < th.drift_min_rise:
        return None  # a day or two's blip, or a rise smaller than the one worth telling
    return Drift(usual.level, usual.spread, round(level, 1), began, round(statistic, 1))


def decision_interval(usual: Baseline, th: Thresholds) -> float:
    """The CUSUM's decision interval h in mmHg: `drift_threshold_spreads` spreads for a
    resident measuring daily, less by ln(gap) / 2k spreads for one measuring every `gap` days
    (k the slack in spreads), never under half of it."""
    gap = max(1.0, usual.span / usual.days)  # calendar days per day measured
    slack = th.drift_shift / 2 / usual.spread
    spreads = th.drift_threshold_spreads
    if slack > 0:
        spreads = max(spreads / 2, spreads - math.log(gap) / (2 * slack))
    return spreads * usual.spread


def recent_level(days: np.ndarray, means: np.ndarray, today: int, th: Thresholds) -> float | None:
    """The mean of the daily means of the last week, or None without any."""
    chosen = (days >= today - 7) & (days < today)
    return float(np.mean(means[chosen])) if chosen.any() else None
