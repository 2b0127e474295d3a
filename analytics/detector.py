"""The detector of one resident: readings in, findings out, on a clock that is passed in.

`observe` checks a reading at once (after the quality guard); `advance` moves the clock on,
firing what falls due on the way in time order: the end of a re-measure window, and the daily
check (control status, drift, missed measurements) at `daily_check_hour` local time. Findings
carry the time they fell due, not the time `advance` was called, so the live service (which
advances on a schedule) and the offline replay (which advances reading by reading) agree.
"""

from __future__ import annotations

import bisect
import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from analytics import acute, adherence, control, drift, quality
from analytics.alerts import Candidate, Clear, Effect
from analytics.findings import Audience, Finding, Severity
from analytics.readings import Kind, Meal, Profile, Reading
from analytics.state import ResidentState
from analytics.thresholds import DEFAULT_THRESHOLDS, Thresholds

RHYTHM_READINGS = 40  # reading times kept to learn the rhythm
# A clock that jumps further (a reading stamped decades ago, then today's) runs only the daily
# checks of this last stretch: none of them looks further back.
CATCH_UP = timedelta(days=60)
_QUALITY_RULES = {
    quality.Problem.IMPLAUSIBLE: "quality.implausible",
    quality.Problem.DEVICE: "quality.device",
    quality.Problem.CLOCK: "quality.clock",
}


class Detector:
    """Detection for one resident; its `state` is everything it remembers."""

    def __init__(
        self,
        profile: Profile,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        state: ResidentState | None = None,
    ) -> None:
        self.profile = profile
        self.th = thresholds
        self.state = state or ResidentState()
        self.zone = ZoneInfo(thresholds.time_zone)
        self._cooldown = timedelta(hours=thresholds.cooldown_hours)
        # Not part of the state: what the daily checks computed last, while nothing changed.
        self._bp_readings_seen = 0
        self._drift_checked_at = -1
        self._rhythm: tuple[tuple[int, float], adherence.Rhythm | None] | None = None

    # --- readings -------------------------------------------------------------

    def observe(self, reading: Reading, gateway_seen: datetime | None = None) -> list[Finding]:
        """Advance to the reading's time, then check the reading; the findings to report."""
        verdict = quality.check(reading, self.th)
        findings: list[Finding] = []  # an untrusted time must not move the clock (nor fire checks)
        if verdict.problem is not quality.Problem.CLOCK:
            findings = self.advance(reading.measured_at, gateway_seen)
        if verdict.problem is not None:
            return findings + self._quality(reading, verdict)
        self._remember(reading)
        window = self.state.window
        if reading.kind is Kind.BLOOD_PRESSURE:
            effects = acute.blood_pressure(self.state, reading, self.th)
        else:
            effects = acute.glucose(self.state, reading, self.th)
        if _stale(reading, self.th):
            effects = [_late(effect) for effect in effects]
            if self.state.window is not None and self.state.window is not window:
                self.state.window.late = True  # its end is as late: for the doctor only too
        if self.state.alerts.is_open("adherence.missed"):
            at = reading.measured_at
            effects.append(Clear("adherence.missed", at, "Measuring again.", at))
        return findings + self._apply(effects)

    def _quality(self, reading: Reading, verdict: quality.Verdict) -> list[Finding]:
        assert verdict.problem is not None
        counts = self.state.quality
        counts[verdict.problem] = counts.get(verdict.problem, 0) + 1
        at = reading.measured_at
        effects: list[Effect] = []
        if verdict.problem is not quality.Problem.CLOCK:
            # A loose cuff or a meter check still shows the resident measuring.
            self._measured(at)
            if self.state.alerts.is_open("adherence.missed"):
                effects.append(Clear("adherence.missed", at, "Measuring again.", at))
        rule = _QUALITY_RULES.get(verdict.problem)
        if rule is not None:  # a control-solution check is routine: counted, not reported
            message = "Reading not counted: " + "; ".join(verdict.reasons) + "."
            evidence = {"reasons": list(verdict.reasons), "kind": str(reading.kind)}
            effects.insert(0, Candidate(rule, Severity.INFO, at, message, at, evidence))
        return self._apply(effects)

    def _measured(self, at: datetime) -> None:
        """The resident measured at `at` (whether or not the reading counts)."""
        state = self.state
        if state.last_reading_at is None or at > state.last_reading_at:
            state.last_reading_at = at
        bisect.insort(state.recent_times, at.timestamp())
        del state.recent_times[:-RHYTHM_READINGS]
        if state.next_check is None:
            state.next_check = self._check_after(at)

    def _remember(self, reading: Reading) -> None:
        state, at = self.state, reading.measured_at
        self._measured(at)
        day = at.astimezone(self.zone).date().toordinal()
        sums = state.daily.setdefault(day, [0.0] * 5)
        if reading.kind is Kind.BLOOD_PRESSURE:
            sums[control.SYSTOLIC] += reading.systolic or 0.0
            sums[control.DIASTOLIC] += reading.diastolic or 0.0
            sums[control.BP_COUNT] += 1
            self._bp_readings_seen += 1
        elif reading.meal is Meal.FASTING:
            sums[control.FASTING] += reading.glucose_mmol_l or 0.0
            sums[control.FASTING_COUNT] += 1

    # --- time -----------------------------------------------------------------

    def advance(self, now: datetime, gateway_seen: datetime | None = None) -> list[Finding]:
        """Fire everything due up to `now`, in time order; the findings to report."""
        state = self.state
        if state.clock is not None and now <= state.clock:
            return []
        findings: list[Finding] = []
        if state.next_check is not None and now - state.next_check > CATCH_UP:
            state.next_check = self._check_after(now - CATCH_UP)
        while True:
            window = state.window
            due_window = window.ends_at if window is not None else None
            due_check = state.next_check
            # A window ends after its last moment: a re-measurement at 5:00 still counts.
            candidates = [
                t
                for t, ends_after in ((due_window, True), (due_check, False))
                if t is not None and (t < now if ends_after else t <= now)
            ]
            if not candidates:
                break
            if window is not None and due_window == min(candidates):
                state.window = None
                ended = acute.window_ended(window)
                findings += self._apply([_late(ended) if window.late else ended])
            else:
                assert due_check is not None
                findings += self._daily_check(due_check, gateway_seen)
                state.next_check = self._check_after(due_check)
        state.clock = now
        return findings

    def _check_after(self, moment: datetime) -> datetime | None:
        """The first daily check after `moment` (None at the ends of the calendar)."""
        hour = time(self.th.daily_check_hour)
        try:
            local = moment.astimezone(self.zone)
            check = datetime.combine(local.date(), hour, self.zone)
            if check <= moment:
                check = datetime.combine(local.date() + timedelta(days=1), hour, self.zone)
            return check.astimezone(UTC)
        except OverflowError:  # a reading stamped on 9999-12-31: no day after it
            return None

    def _daily_check(self, at: datetime, gateway_seen: datetime | None) -> list[Finding]:
        today = at.astimezone(self.zone).date()
        effects = acute.quiet_checks(self.state, at, self.th)
        effects += self._control(today, at)
        effects += self._drift(today.toordinal(), at)
        effects += self._adherence(at, gateway_seen)
        self._forget_old_days(today.toordinal())
        return self._apply(effects)

    # --- scheduled checks -----------------------------------------------------

    def _control(self, today: date, at: datetime) -> list[Effect]:
        state, th = self.state, self.th
        if state.next_control_day is None:
            state.next_control_day = today.toordinal() + th.control_period_days
            return []
        if today.toordinal() < state.next_control_day:
            return []
        state.next_control_day = today.toordinal() + th.control_period_days
        effects: list[Effect] = []
        for verdict in control.period_status(self.profile, state.daily, today, th):
            history = state.control.setdefault(verdict.kind, [])
            history[:] = [*history, verdict.controlled][-2:]
            rule = f"{verdict.kind}.uncontrolled"
            evidence = {
                "level": list(verdict.level),
                "target": list(verdict.target),
                "readings": verdict.readings,
                "period_days": th.control_period_days,
            }
            if verdict.controlled:
                effects.append(Clear(rule, at, "At target over the last period.", None, evidence))
            elif history == [False, False]:
                message = _uncontrolled_message(verdict)
                effects.append(Candidate(rule, Severity.WARNING, at, message, None, evidence))
        return effects

    def _drift(self, today: int, at: datetime) -> list[Effect]:
        # Daily means only move with new readings: without them, yesterday's verdict stands.
        if self._drift_checked_at == self._bp_readings_seen:
            return []
        self._drift_checked_at = self._bp_readings_seen
        state, th = self.state, self.th
        # The windows end after today: the readings taken before the check count already.
        until = today + 1
        days_with_bp = sorted(d for d, s in state.daily.items() if s[control.BP_COUNT] > 0)
        if not days_with_bp:
            return []
        days = np.asarray(days_with_bp)
        means = np.asarray(
            [
                state.daily[d][control.SYSTOLIC] / state.daily[d][control.BP_COUNT]
                for d in days_with_bp  # ints: looking days up by numpy integers is slow
            ]
        )
        if state.drift_baseline is not None:
            level = drift.recent_level(days, means, until, th)
            if level is not None and level < state.drift_baseline + th.drift_shift / 2:
                state.drift_baseline = None
                return [Clear("bp.drift.up", at, "Systolic pressure back near its usual level.")]
            return []
        usual = drift.baseline(days, means, until, th)
        found = None if usual is None else drift.cusum(days, means, until, usual, th)
        if found is None:
            return []
        state.drift_baseline = found.baseline
        began = date.fromordinal(found.began)
        message = (
            f"Systolic pressure has risen from about {found.baseline:.0f} to {found.level:.0f} "
            f"mmHg since {began.isoformat()} and stays there."
        )
        evidence = {
            "baseline": round(found.baseline, 1),
            "spread": round(found.spread, 1),
            "level": found.level,
            "began": began.isoformat(),
            "cusum": found.statistic,
        }
        return [Candidate("bp.drift.up", Severity.WARNING, at, message, None, evidence)]

    def _adherence(self, at: datetime, gateway_seen: datetime | None) -> list[Effect]:
        state, th = self.state, self.th
        now = at.timestamp()
        seen = None if gateway_seen is None else gateway_seen.timestamp()
        if adherence.gateway_silent(seen, now, th):
            assert gateway_seen is not None
            message = (
                f"The home's gateway has not been heard from since {gateway_seen.isoformat()}: "
                "is it plugged in and online? Readings wait in it."
            )
            seen_at = {"gateway_seen": gateway_seen.isoformat()}
            return [Candidate("gateway.offline", Severity.INFO, at, message, None, seen_at)]
        effects: list[Effect] = []
        if seen is not None:
            effects.append(Clear("gateway.offline", at, "The home's gateway is back online."))
        habit = self._usual_rhythm()
        if habit is None or state.last_reading_at is None:
            return effects
        level = adherence.silence(state.last_reading_at.timestamp(), now, habit)
        if level is adherence.Silence.NONE:
            return effects
        quiet = (now - state.last_reading_at.timestamp()) / adherence.DAY
        severity = Severity.WARNING if level is adherence.Silence.DOCTOR else Severity.INFO
        message = (
            f"No measurement for {quiet:.0f} days; usually every {habit.usual_gap_days:g} days."
        )
        evidence: dict[str, object] = {
            "last_reading_at": state.last_reading_at.isoformat(),
            "silent_days": round(quiet, 1),
            **dataclasses.asdict(habit),
        }
        return [*effects, Candidate("adherence.missed", severity, at, message, None, evidence)]

    def _usual_rhythm(self) -> adherence.Rhythm | None:
        times = self.state.recent_times
        key = (len(times), times[-1] if times else 0.0)
        if self._rhythm is None or self._rhythm[0] != key:
            self._rhythm = (key, adherence.rhythm(times, self.th))
        return self._rhythm[1]

    def _forget_old_days(self, today: int) -> None:
        keep_from = today - self.th.drift_baseline_days - self.th.drift_recent_days - 7
        for day in [d for d in self.state.daily if d < keep_from]:
            del self.state.daily[day]

    def _apply(self, effects: list[Effect]) -> list[Finding]:
        book, resident = self.state.alerts, self.profile.resident_id
        findings = (book.apply(resident, effect, self._cooldown) for effect in effects)
        return [finding for finding in findings if finding is not None]


def _uncontrolled_message(verdict: control.Control) -> str:
    if verdict.kind == "bp":
        level = f"{verdict.level[0]:g}/{verdict.level[1]:g}"
        target = f"{verdict.target[0]:g}/{verdict.target[1]:g}"
        return f"Mean blood pressure {level} mmHg, above the target {target}, two weeks running."
    return (
        f"Mean fasting glucose {verdict.level[0]:g} mmol/L, at or above "
        f"{verdict.target[0]:g}, two weeks running."
    )


def _stale(reading: Reading, th: Thresholds) -> bool:
    received = reading.received_at
    return received is not None and received - reading.measured_at > timedelta(hours=th.stale_hours)


def _late(effect: Effect) -> Effect:
    """A finding on a reading that arrived long after it was taken: for the doctor only."""
    if isinstance(effect, Clear):
        return effect
    return dataclasses.replace(
        effect,
        severity=min(effect.severity, Severity.WARNING),
        audience=(Audience.DOCTOR,),
        evidence={**effect.evidence, "received_late": True},
    )
