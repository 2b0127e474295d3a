"""Replaying one resident's readings on a simulated clock: the offline twin of live detection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from analytics.detector import Detector
from analytics.findings import Finding
from analytics.readings import Profile, Reading
from analytics.thresholds import DEFAULT_THRESHOLDS, Thresholds


def replay_resident(
    profile: Profile,
    readings: Iterable[Reading],
    *,
    until: datetime | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Iterator[Finding]:
    """The findings for `readings` (sorted by time), as the live service would raise them.

    The clock stops at `until`; readings after it are not replayed. Without `until` it stops
    just after the last re-measure window would have ended, so no urgent reading is dropped.
    """
    detector = Detector(profile, thresholds)
    for reading in readings:
        if until is not None and reading.measured_at > until:
            break
        yield from detector.observe(reading)
    if until is None:
        last = detector.state.clock  # the last trusted time: a wrong clock does not move it
        if last is None:
            return
        until = last + timedelta(minutes=thresholds.remeasure_minutes, seconds=1)
    yield from detector.advance(until)
