"""A labelled synthetic cohort of elderly residents measuring at home, for judging detection.

    .venv/bin/python -m bench.cohort --out DIR [--residents 2000] [--days 90] [--seed 7]
                                     [--start 2025-10-01] [--received-at]

Writes DIR/READINGS.csv, DIR/RESIDENTS.csv and DIR/LABELS.jsonl, one resident at a time
(memory stays bounded at any cohort size). Each resident has a generator seeded by
(seed, index): the same seed gives the same files, and resident 17 is the same resident in
a cohort of 100 or of 100,000. Residents live in Chongqing (+08:00, no daylight saving).

The residents and their readings come from `analytics.synthetic`; where every figure comes
from is in analytics/synthetic/profiles.py. --received-at adds a received_at column, the only
place gateway outages show (`linli analyze` does not read it).

Labels (LABELS.jsonl): see `bench._cohort_labels`. Guideline-urgent readings are clean
readings >= 200/120, or >= 180/110 unless a lower re-measure within 5 minutes rebuts them,
glucose < 3.9 and >= 16.7 mmol/L.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TextIO

import numpy as np
import orjson

from analytics.synthetic import (
    FLAG_NAMES,
    GLUCOSE,
    MEALS,
    Period,
    Profile,
    Track,
    draw_profile,
    resident_track,
)
from bench._cohort_labels import resident_labels

CST = timezone(timedelta(hours=8), "Asia/Chongqing")
READINGS_HEADER = (
    "resident_id,measured_at,kind,systolic,diastolic,pulse,glucose_mmol_l,meal,"
    "irregular_pulse,flags"
)
RESIDENTS_HEADER = "resident_id,birth_date,conditions"


@dataclass(frozen=True)
class CohortConfig:
    """What to generate."""

    residents: int = 2_000
    days: int = 90
    seed: int = 7
    start: date = date(2025, 10, 1)
    received_at: bool = False  # add a received_at column (gateway outages become visible)

    @property
    def period(self) -> Period:
        """The simulated days."""
        return Period(self.start, self.days)


@dataclass
class CohortSummary:
    """What was written."""

    residents: int
    days: int
    readings: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    urgent_readings: int = 0

    @property
    def resident_months(self) -> float:
        """Resident-months of observation (a month of 30.44 days)."""
        return self.residents * self.days / 30.44


def _number(value: float, digits: int = 0) -> str:
    return "" if np.isnan(value) else f"{value:.{digits}f}"


def reading_rows(p: Profile, tr: Track, iso: IsoTime, received_at: bool) -> Iterator[str]:
    """READINGS.csv lines of one resident, in time order."""
    for i in range(len(tr)):
        flags = ";".join(name for bit, name in FLAG_NAMES if int(tr.flags[i]) & bit)
        if tr.kind[i] == GLUCOSE:
            meal = MEALS[tr.meal[i]] if tr.meal[i] >= 0 else ""
            values = f"glucose,,,,{tr.glucose[i]:.1f},{meal},0"
        else:
            s, d, pulse = (_number(x) for x in (tr.systolic[i], tr.diastolic[i], tr.pulse[i]))
            values = f"blood_pressure,{s},{d},{pulse},,,{int(tr.irregular[i])}"
        line = f"{p.resident_id},{iso(int(tr.t[i]))},{values},{flags}"
        yield f"{line},{iso(int(tr.received[i]))}\n" if received_at else line + "\n"


class IsoTime:
    """Seconds from the period's start to ISO 8601 local times with their offset."""

    def __init__(self, start: date) -> None:
        self._start = datetime(start.year, start.month, start.day, tzinfo=CST)

    def __call__(self, seconds: int) -> str:
        return (self._start + timedelta(seconds=seconds)).isoformat()


def _conditions(p: Profile) -> str:
    return ";".join(
        c for c, has in (("hypertension", p.hypertension), ("diabetes", p.diabetes)) if has
    )


def write_resident(
    files: tuple[TextIO, TextIO, TextIO], p: Profile, tr: Track, config: CohortConfig
) -> tuple[int, Counter[str], int]:
    """Write one resident's rows and labels; return rows, labels by type, urgent readings."""
    readings, residents, labels = files
    iso = IsoTime(config.start)
    residents.write(f"{p.resident_id},{p.birth_date.isoformat()},{_conditions(p)}\n")
    readings.writelines(reading_rows(p, tr, iso, config.received_at))
    counts: Counter[str] = Counter()
    urgent = 0
    for label in resident_labels(p, tr, config.period):
        labels.write(orjson.dumps(label.to_json(iso)).decode() + "\n")
        counts[label.type] += 1
        urgent += len(label.urgent)
    return len(tr), counts, urgent


def generate(config: CohortConfig, out: Path) -> CohortSummary:
    """Write READINGS.csv, RESIDENTS.csv and LABELS.jsonl for `config` into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    summary = CohortSummary(config.residents, config.days)
    width = max(6, len(str(config.residents)))
    with (
        (out / "READINGS.csv").open("w", encoding="utf-8", newline="") as readings,
        (out / "RESIDENTS.csv").open("w", encoding="utf-8", newline="") as residents,
        (out / "LABELS.jsonl").open("w", encoding="utf-8") as labels,
    ):
        header = READINGS_HEADER + (",received_at" if config.received_at else "")
        readings.write(header + "\n")
        residents.write(RESIDENTS_HEADER + "\n")
        for index in range(config.residents):
            rng = np.random.default_rng([config.seed, index])
            profile = draw_profile(rng, f"R{index:0{width}d}", config.period)
            track = resident_track(rng, profile, config.period)
            rows, counts, urgent = write_resident(
                (readings, residents, labels), profile, track, config
            )
            summary.readings += rows
            summary.labels += counts
            summary.urgent_readings += urgent
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a cohort into --out and print what was written."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cohort", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--residents", type=int, default=2_000, help="residents (2000)")
    parser.add_argument("--days", type=int, default=90, help="days (90)")
    parser.add_argument("--seed", type=int, default=7, help="seed (7)")
    parser.add_argument(
        "--start", type=date.fromisoformat, default=date(2025, 10, 1), help="first day"
    )
    parser.add_argument("--received-at", action="store_true", help="add a received_at column")
    args = parser.parse_args(argv)
    if args.residents < 1 or args.days < 1:
        parser.error("--residents and --days must be at least 1")
    config = CohortConfig(args.residents, args.days, args.seed, args.start, args.received_at)
    summary = generate(config, args.out)
    print(f"{summary.residents:,} residents x {summary.days} days: {summary.readings:,} readings")
    print(f"{summary.urgent_readings:,} guideline-urgent readings; labels by type:")
    for kind, count in sorted(summary.labels.items()):
        print(f"  {kind:<24}{count:>8,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
