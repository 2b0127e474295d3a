"""Device clocks: how far off they are, and when a reading was really taken.

Monitors and meters stamp readings with their own local wall-clock time, without a time
zone, and their clocks drift, reset to a factory date when the batteries are changed, or
were never set. The gateway reads the device's Current Time, keeps the offset, and moves the
timestamps of a device whose clock is off back onto the gateway's (NTP-set) clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# Within this, a device clock counts as right: readings keep the device's own time.
TOLERANCE = timedelta(minutes=2)
# A device clock before this year was never set (or reset to its factory date).
FIRST_PLAUSIBLE_YEAR = 2020


class TimeSource(enum.StrEnum):
    """Where a reading's time came from."""

    DEVICE = "device"  # the device's clock, which was right
    CORRECTED = "corrected"  # the device's clock, moved by its measured offset
    RECEIVED = "received"  # the device gave no usable time; when the gateway got it


@dataclass(frozen=True)
class ClockCheck:
    """The device's clock compared with the gateway's at one moment."""

    device_time: datetime  # naive, the device's local wall clock
    gateway_time: datetime  # aware
    zone: ZoneInfo

    @property
    def offset(self) -> timedelta:
        """Device clock minus gateway clock."""
        return self.device_time.replace(tzinfo=self.zone) - self.gateway_time

    @property
    def needs_setting(self) -> bool:
        """True when the device clock is off by more than the tolerance, or was never set."""
        return abs(self.offset) > TOLERANCE or clock_unset(self.device_time)


def clock_unset(device_time: datetime) -> bool:
    """True for a clock still at (or reset to) a factory date."""
    return device_time.year < FIRST_PLAUSIBLE_YEAR


def reading_time(
    device_time: datetime | None,
    *,
    zone: ZoneInfo,
    received_at: datetime,
    check: ClockCheck | None,
) -> tuple[datetime, TimeSource]:
    """The UTC time a reading was taken, and how that is known.

    `device_time` is the reading's own stamp (None when the device sent none, or an unknown
    date). With a clock check, a device whose clock is off has the offset taken away.
    """
    if device_time is None:
        return received_at.astimezone(UTC), TimeSource.RECEIVED
    local = device_time.replace(tzinfo=zone)
    try:
        if check is None or not check.needs_setting:
            if clock_unset(device_time):
                return received_at.astimezone(UTC), TimeSource.RECEIVED
            return local.astimezone(UTC), TimeSource.DEVICE
        return (local - check.offset).astimezone(UTC), TimeSource.CORRECTED
    except OverflowError:
        # A stamp in year 9999 that is past it in UTC, or a clock off by millennia: no time
        # a datetime holds. The receipt is the best time there is.
        return received_at.astimezone(UTC), TimeSource.RECEIVED
