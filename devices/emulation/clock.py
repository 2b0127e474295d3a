"""The clock inside an emulated device: right, skewed, never set, or reset to 2000."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from devices.codecs import CurrentTime, DateTime

Now = Callable[[], dt.datetime]


class DeviceClock:
    """A device's own wall clock, running from the host clock `now` (passed in for tests).

    `skew` is how far the device is ahead of the host. An unset clock knows the time of day
    since power-on but no date: it reads year, month and day 0.
    """

    def __init__(
        self, now: Now = dt.datetime.now, *, skew: dt.timedelta | None = None, unset: bool = False
    ) -> None:
        self._now = now
        self.skew = skew or dt.timedelta()
        self.unset = unset
        self._started = now()

    @classmethod
    def never_set(cls, now: Now = dt.datetime.now) -> DeviceClock:
        """A clock that was never set: dates are unknown (year, month, day 0)."""
        return cls(now, unset=True)

    @classmethod
    def starting_at(cls, start: dt.datetime, now: Now = dt.datetime.now) -> DeviceClock:
        """A clock that reads `start` now and runs from there (a meter reset to 2000-01-01)."""
        return cls(now, skew=start - now())

    def now(self) -> DateTime:
        """What the device would put in a Date Time field now."""
        if self.unset:
            elapsed = self._now() - self._started
            since_midnight = dt.datetime.min + elapsed % dt.timedelta(days=1)
            return DateTime.unknown(
                since_midnight.hour, since_midnight.minute, since_midnight.second
            )
        return DateTime.from_datetime(self._now() + self.skew)

    def current_time(self) -> CurrentTime:
        """The Current Time characteristic value (day of week 0 while the date is unknown)."""
        if self.unset:
            return CurrentTime(self.now())
        return CurrentTime.from_datetime(self._now() + self.skew)

    def set(self, value: DateTime) -> None:
        """Set the clock (a Current Time write); an unknown date leaves it unset."""
        when = value.to_datetime()
        if when is None:
            self.unset = True
            return
        self.unset = False
        self.skew = when - self._now()
