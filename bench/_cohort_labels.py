"""Labels of the synthetic cohort: what happened to one resident, found in the readings.

Point events (hypertensive readings, hypo- and hyperglycaemia, low pressure, abnormal pulse)
are labelled by scanning the generated values against the guideline thresholds, whatever
produced them: an injected episode (origin "injected") or ordinary variability (origin
"background"). Sustained events (drifts, silences, gateway outages) come from the plan, and
resident states (uncontrolled pressure or glucose, atrial fibrillation) from the profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.synthetic.sim import (
    BP,
    DAY,
    FLAG_NAMES,
    GLUCOSE,
    IMPLAUSIBLE,
    USUAL_GAP_DAYS,
    Habit,
    Period,
    Profile,
    Track,
    diurnal_offset,
    season_offset,
)

HOUR_GAP = 3_600  # high BP readings less than an hour apart are one episode
SPELL_GAP = 6 * 3_600  # glucose readings less than 6 hours apart are one spell
CONFIRM_SECONDS = 300  # a re-measure within 5 minutes confirms or rebuts a high reading
BP_URGENT = (180, 110)
BP_CRISIS = (200, 120)
# Home BP above 135/85 is hypertension at home (Chinese home BP guideline 2019, ESH 2023);
# 130/80 is the tighter target where tolerated (Chinese guideline 2024): a finding about a
# resident between the two is not counted as false, nor is its absence as a miss.
HOME_UNCONTROLLED = (135, 85)
HOME_BORDERLINE = (130, 80)
# Fasting and 2-hour glucose of older adults with diabetes: 8.3 / 11.1 mmol/L is beyond the
# targets for the frail (Chinese elderly diabetes guideline 2021, ADA older adults); 7.2 / 10
# beyond the targets for the healthy, the borderline band.
GLUCOSE_UNCONTROLLED = (8.3, 11.1)
GLUCOSE_BORDERLINE = (7.2, 10.0)


@dataclass
class Label:
    """One labelled event (or state) of one resident; times in seconds from the period start."""

    type: str
    resident_id: str
    onset: int
    end: int
    origin: str  # injected | background | state
    subgroup: str | None = None
    readings: list[int] = field(default_factory=list)
    urgent: list[tuple[int, str]] = field(default_factory=list)  # (time, category)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self, iso: Callable[[int], str]) -> dict[str, Any]:
        """The label as one line of LABELS.jsonl, times as ISO 8601 with their offset."""
        return {
            "type": self.type,
            "resident_id": self.resident_id,
            "onset": iso(self.onset),
            "end": iso(self.end),
            "origin": self.origin,
            "subgroup": self.subgroup,
            "readings": [iso(t) for t in self.readings],
            "urgent_readings": [{"measured_at": iso(t), "category": c} for t, c in self.urgent],
            "details": self.details,
        }


def _groups(t: np.ndarray, episode: np.ndarray, gap: int) -> list[np.ndarray]:
    """Split positions into runs: a new run after more than `gap` seconds, unless the same
    injected episode continues."""
    if len(t) == 0:
        return []
    breaks = (np.diff(t) > gap) & ~((episode[1:] >= 0) & (episode[1:] == episode[:-1]))
    return np.split(np.arange(len(t)), np.flatnonzero(breaks) + 1)


def _origin(episode: np.ndarray) -> str:
    return "injected" if (episode >= 0).any() else "background"


def bp_high_labels(rid: str, tr: Track) -> list[Label]:
    """Readings at or above 180/110: crisis, urgent (confirmed or not re-measured) or rebutted
    by a lower re-measure within 5 minutes."""
    clean = np.flatnonzero((tr.kind == BP) & (tr.flags == 0))
    t, s, d = tr.t[clean], tr.systolic[clean], tr.diastolic[clean]
    high = (s >= BP_URGENT[0]) | (d >= BP_URGENT[1])
    crisis = (s >= BP_CRISIS[0]) | (d >= BP_CRISIS[1])
    status = []
    for k in np.flatnonzero(high):
        rebutted = k + 1 < len(t) and t[k + 1] - t[k] <= CONFIRM_SECONDS and not high[k + 1]
        status.append("crisis" if crisis[k] else "rebutted" if rebutted else "urgent")
    positions = np.flatnonzero(high)
    labels = []
    for run in _groups(t[positions], tr.episode[clean][positions], HOUR_GAP):
        kinds = {status[i] for i in run}
        kind = (
            "bp_crisis"
            if "crisis" in kinds
            else "bp_urgent"
            if "urgent" in kinds
            else "bp_urgent_unconfirmed"
        )
        at = t[positions[run]]
        labels.append(
            Label(
                type=kind,
                resident_id=rid,
                onset=int(at[0]),
                end=int(at[-1]),
                origin=_origin(tr.episode[clean][positions[run]]),
                readings=[int(x) for x in at],
                urgent=[(int(t[positions[i]]), "bp") for i in run if status[i] != "rebutted"],
                details={
                    "max_systolic": int(s[positions[run]].max()),
                    "max_diastolic": int(d[positions[run]].max()),
                },
            )
        )
    return labels


def glucose_labels(rid: str, tr: Track) -> list[Label]:
    """Hypoglycaemia (level 1 < 3.9, level 2 < 3.0 mmol/L), severe hyperglycaemia (>= 16.7)
    and high readings (>= 13.9), in spells of readings less than 6 hours apart."""
    clean = np.flatnonzero((tr.kind == GLUCOSE) & (tr.flags == 0))
    t, g, ep = tr.t[clean], tr.glucose[clean], tr.episode[clean]
    labels = []
    for family, mask in (("hypo", g < 3.9), ("hyper", g >= 13.9)):
        positions = np.flatnonzero(mask)
        for run in _groups(t[positions], ep[positions], SPELL_GAP):
            at, values = t[positions[run]], g[positions[run]]
            if family == "hypo":
                kind = "hypo_level2" if (values < 3.0).any() else "hypo_level1"
                urgent = [
                    (int(x), "hypo2" if v < 3.0 else "hypo1")
                    for x, v in zip(at, values, strict=True)
                ]
            else:
                kind = "hyper_severe" if (values >= 16.7).any() else "glucose_high"
                urgent = [(int(x), "hyper") for x, v in zip(at, values, strict=True) if v >= 16.7]
            labels.append(
                Label(
                    type=kind,
                    resident_id=rid,
                    onset=int(at[0]),
                    end=int(at[-1]),
                    origin=_origin(ep[positions[run]]),
                    readings=[int(x) for x in at],
                    urgent=urgent,
                    details={"values": [float(v) for v in values]},
                )
            )
    return labels


def threshold_labels(rid: str, tr: Track) -> list[Label]:
    """Low systolic (< 90) and abnormal pulse (< 40 or > 120) on clean BP readings."""
    clean = np.flatnonzero((tr.kind == BP) & (tr.flags == 0))
    t = tr.t[clean]
    labels = []
    for kind, mask in (
        ("bp_low", tr.systolic[clean] < 90),
        ("pulse_abnormal", (tr.pulse[clean] < 40) | (tr.pulse[clean] > 120)),
    ):
        positions = np.flatnonzero(mask)
        for run in _groups(t[positions], np.full(len(positions), -1), SPELL_GAP):
            at = t[positions[run]]
            labels.append(
                Label(kind, rid, int(at[0]), int(at[-1]), "background", readings=list(map(int, at)))
            )
    return labels


def device_labels(rid: str, tr: Track) -> list[Label]:
    """One label per reading a device flagged, or whose values are impossible."""
    labels = []
    for i in np.flatnonzero(tr.flags != 0):
        flags = int(tr.flags[i])
        names = [name for bit, name in FLAG_NAMES if flags & bit]
        subgroup = "implausible" if flags & IMPLAUSIBLE else names[0]
        at = int(tr.t[i])
        labels.append(Label("device_error", rid, at, at, "injected", subgroup, readings=[at]))
    return labels


def usual_gap_days(p: Profile) -> float:
    """The resident's usual time between measuring sessions, from both habits."""
    rate = sum(1 / USUAL_GAP_DAYS[h] for h in (p.bp_habit, p.glucose_habit) if h in USUAL_GAP_DAYS)
    return 1 / rate if rate else float("inf")


def silence_labels(p: Profile, tr: Track, period: Period) -> list[Label]:
    """Injected silences (subgroup: whether the gap exceeds max(2 days, 3 x the usual gap)),
    and other gaps of at least 4 days and 3 usual gaps."""
    # A background gap counts when it is as long as an injected silence and beyond what the
    # resident's habits produce: a habitual weekend off is not an event.
    limit = max(4.0, 3 * usual_gap_days(p)) * DAY
    rule_limit = max(2.0, 3 * usual_gap_days(p)) * DAY
    labels = []
    for w in p.silences:
        before, after = tr.t[tr.t < w.start], tr.t[tr.t >= w.end]
        last = int(before[-1]) if len(before) else 0
        resumed = int(after[0]) if len(after) else period.seconds
        beyond = resumed - last > rule_limit
        subgroup = "beyond usual gap" if beyond else "within usual gap"
        details = {"last_reading_before": last, "days": round((w.end - w.start) / DAY, 2)}
        labels.append(Label("silence", p.resident_id, w.start, w.end, "injected", subgroup))
        labels[-1].details = details
    edges = np.concatenate([tr.t, [period.seconds]])
    for k in np.flatnonzero(np.diff(edges) > limit):
        start, end = int(edges[k]), int(edges[k + 1])
        if any(w.start < end and start < w.end for w in p.silences):
            continue
        labels.append(Label("silence", p.resident_id, start, end, "background", "background"))
    return labels


def planned_labels(p: Profile, tr: Track, period: Period) -> list[Label]:
    """Drifts and gateway outages, as planned."""
    labels = []
    if p.drift is not None:
        d = p.drift
        # The drift counts from when the rise reaches 15 mmHg: the size the target speaks of.
        reached = d.onset + int(d.ramp * min(1.0, 15 / d.amount))
        during = tr.t[(tr.kind == BP) & (tr.t >= reached) & (tr.t < reached + 7 * DAY)]
        labels.append(
            Label(
                "bp_drift",
                p.resident_id,
                reached,
                min(d.end, period.seconds),
                "injected",
                subgroup=str(p.bp_habit),
                details={
                    "amount": round(d.amount, 1),
                    "ramp_days": round(d.ramp / DAY, 1),
                    "days_to_15_mmhg": round(d.ramp / DAY * min(1.0, 15 / d.amount), 1),
                    "bp_readings_first_7_days": len(during),
                },
            )
        )
    for w in p.offline:
        delayed = int(((tr.t >= w.start) & (tr.t < w.end)).sum())
        labels.append(Label("gateway_offline", p.resident_id, w.start, w.end, "injected"))
        labels[-1].details = {"readings_delayed": delayed}
    return labels


def state_labels(p: Profile, tr: Track, period: Period) -> list[Label]:
    """Uncontrolled (or borderline) home pressure and glucose, and atrial fibrillation."""
    labels = []
    bp_t = tr.t[(tr.kind == BP) & (tr.flags == 0)]
    if len(bp_t):
        common = diurnal_offset(p.surge, bp_t) + season_offset(period, bp_t)
        systolic = float(np.mean(p.systolic + common))
        diastolic = float(np.mean(p.diastolic + 0.5 * common))
        level = {"systolic": round(systolic, 1), "diastolic": round(diastolic, 1)}
        for kind, (s, d) in (
            ("bp_uncontrolled", HOME_UNCONTROLLED),
            ("bp_borderline", HOME_BORDERLINE),
        ):
            if systolic >= s or diastolic >= d:
                labels.append(Label(kind, p.resident_id, int(bp_t[0]), period.seconds, "state"))
                labels[-1].details = level
                break
        if p.atrial_fibrillation:
            labels.append(
                Label("irregular_pulse", p.resident_id, int(bp_t[0]), period.seconds, "state")
            )
    glucose_t = tr.t[(tr.kind == GLUCOSE) & (tr.flags == 0)]
    if len(glucose_t) and p.glucose_habit is not Habit.NEVER:
        postprandial = p.fasting + p.postprandial_rise
        level = {"fasting": round(p.fasting, 1), "postprandial": round(postprandial, 1)}
        for kind, (f, pp) in (
            ("glucose_uncontrolled", GLUCOSE_UNCONTROLLED),
            ("glucose_borderline", GLUCOSE_BORDERLINE),
        ):
            if p.fasting >= f or postprandial >= pp:
                labels.append(
                    Label(kind, p.resident_id, int(glucose_t[0]), period.seconds, "state")
                )
                labels[-1].details = level
                break
    return labels


def resident_labels(p: Profile, tr: Track, period: Period) -> list[Label]:
    """Every label of one resident, in onset order."""
    rid = p.resident_id
    labels = [
        *bp_high_labels(rid, tr),
        *glucose_labels(rid, tr),
        *threshold_labels(rid, tr),
        *device_labels(rid, tr),
        *silence_labels(p, tr, period),
        *planned_labels(p, tr, period),
        *state_labels(p, tr, period),
    ]
    return sorted(labels, key=lambda label: label.onset)
