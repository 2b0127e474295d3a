"""What detection remembers about one resident between readings, as plain JSON-ready data.

The live service stores it in the database after every change; the offline replay keeps it
in memory. Times are aware datetimes in memory and ISO 8601 text in JSON; short histories
are epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analytics.alerts import AlertBook

# One day's sums: systolic, diastolic, blood-pressure readings, fasting glucose, its readings.
DaySums = list[float]


@dataclass(slots=True)
class Window:
    """An open re-measure window after a first reading at or above the urgent line."""

    opened_at: datetime
    ends_at: datetime
    systolic: float
    diastolic: float
    late: bool = False  # the first reading arrived too late to call the family about it


@dataclass(slots=True)
class ResidentState:
    """Everything detection keeps for one resident."""

    alerts: AlertBook = field(default_factory=AlertBook)
    window: Window | None = None
    clock: datetime | None = None  # how far detection has advanced
    next_check: datetime | None = None  # the next scheduled daily check
    last_reading_at: datetime | None = None
    recent_times: list[float] = field(default_factory=list)  # counted readings, for rhythm
    daily: dict[int, DaySums] = field(default_factory=dict)  # by date ordinal (local days)
    irregular: list[float] = field(default_factory=list)  # irregular-pulse flags
    hyper: list[float] = field(default_factory=list)  # glucose at or above the warning line
    control: dict[str, list[bool]] = field(default_factory=dict)  # verdicts, newest last
    next_control_day: int | None = None
    drift_baseline: float | None = None  # frozen while a drift alert is open
    quality: dict[str, int] = field(default_factory=dict)  # data-quality problems counted

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready values."""
        window = self.window
        return {
            "alerts": self.alerts.to_json(),
            "window": None
            if window is None
            else [
                window.opened_at.isoformat(),
                window.ends_at.isoformat(),
                window.systolic,
                window.diastolic,
                window.late,
            ],
            "clock": _text(self.clock),
            "next_check": _text(self.next_check),
            "last_reading_at": _text(self.last_reading_at),
            "recent_times": self.recent_times,
            "daily": {str(day): sums for day, sums in self.daily.items()},
            "irregular": self.irregular,
            "hyper": self.hyper,
            "control": self.control,
            "next_control_day": self.next_control_day,
            "drift_baseline": self.drift_baseline,
            "quality": self.quality,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResidentState:
        """The state `to_json` wrote."""
        window = data.get("window")
        return cls(
            alerts=AlertBook.from_json(data.get("alerts", {})),
            window=None
            if window is None
            else Window(
                datetime.fromisoformat(window[0]),
                datetime.fromisoformat(window[1]),
                float(window[2]),
                float(window[3]),
                len(window) > 4 and bool(window[4]),
            ),
            clock=_time(data.get("clock")),
            next_check=_time(data.get("next_check")),
            last_reading_at=_time(data.get("last_reading_at")),
            recent_times=[float(t) for t in data.get("recent_times", [])],
            daily={int(day): list(map(float, sums)) for day, sums in data["daily"].items()}
            if "daily" in data
            else {},
            irregular=[float(t) for t in data.get("irregular", [])],
            hyper=[float(t) for t in data.get("hyper", [])],
            control={kind: list(v) for kind, v in data.get("control", {}).items()},
            next_control_day=data.get("next_control_day"),
            drift_baseline=data.get("drift_baseline"),
            quality=dict(data.get("quality", {})),
        )


def _text(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
