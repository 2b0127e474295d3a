"""Date Time (0x2A08, 7 bytes) and Current Time (0x2A2B, 10 bytes).

Year, month and day 0 mean "unknown": such a Date Time is never turned into a date. Hours,
minutes and seconds 0 are real times. The value is the device's local wall-clock time,
without a time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from devices.codecs._wire import BitField, Reader, u8, u16
from devices.codecs.errors import EncodeError, InvalidValue, ReservedValue

DATE_TIME_SIZE = 7
CURRENT_TIME_SIZE = 10
DAYS_OF_WEEK = (
    "unknown",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
DayOfWeek = Literal[
    "unknown", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
]


@dataclass(frozen=True, slots=True)
class DateTime:
    """A device Date Time; `year`, `month` or `day` 0 means the date is unknown."""

    year: int
    month: int
    day: int
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def unknown(cls, hours: int = 0, minutes: int = 0, seconds: int = 0) -> DateTime:
        """A Date Time whose date is unknown (year, month and day 0), as unset clocks send."""
        return cls(0, 0, 0, hours, minutes, seconds)

    @classmethod
    def from_datetime(cls, value: dt.datetime) -> DateTime:
        """The Date Time of a (naive, local) datetime; seconds are truncated."""
        return cls(value.year, value.month, value.day, value.hour, value.minute, value.second)

    @property
    def is_known(self) -> bool:
        """True when year, month and day are all set (not 0)."""
        return self.year != 0 and self.month != 0 and self.day != 0

    def to_datetime(self) -> dt.datetime | None:
        """A naive datetime (device local time), or None when the date is unknown."""
        if not self.is_known:
            return None
        return dt.datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    def isoformat(self) -> str | None:
        """ISO 8601 text without a zone (`2024-03-15T08:30:45`), or None when unknown."""
        value = self.to_datetime()
        return value.isoformat() if value else None


def _problem(value: DateTime) -> str | None:
    """What is wrong with the fields of `value`, or None."""
    if value.year != 0 and not 1582 <= value.year <= 9999:
        return f"year {value.year} outside 1582..9999 (0 = unknown)"
    if not 0 <= value.month <= 12:
        return f"month {value.month} outside 1..12 (0 = unknown)"
    if not 0 <= value.day <= 31:
        return f"day {value.day} outside 1..31 (0 = unknown)"
    if not 0 <= value.hours <= 23:
        return f"hours {value.hours} outside 0..23"
    if not 0 <= value.minutes <= 59:
        return f"minutes {value.minutes} outside 0..59"
    if not 0 <= value.seconds <= 59:
        return f"seconds {value.seconds} outside 0..59"
    if value.is_known:
        try:
            dt.date(value.year, value.month, value.day)
        except ValueError:
            return f"{value.year:04d}-{value.month:02d}-{value.day:02d} is not a date"
    return None


def read_date_time(reader: Reader) -> DateTime:
    """Read a 7-byte Date Time field from `reader` (InvalidValue when out of range)."""
    value = DateTime(reader.u16(), reader.u8(), reader.u8(), reader.u8(), reader.u8(), reader.u8())
    problem = _problem(value)
    if problem:
        raise InvalidValue(f"{reader.name}: date time {problem}")
    return value


def decode_date_time(data: bytes) -> DateTime:
    """Decode a Date Time characteristic (0x2A08)."""
    reader = Reader("0x2A08", data)
    value = read_date_time(reader)
    reader.end()
    return value


def encode_date_time(value: DateTime) -> bytes:
    """The 7 bytes of a Date Time."""
    problem = _problem(value)
    if problem:
        raise EncodeError(f"date time {problem}")
    return u16(value.year, "year") + bytes(
        [value.month, value.day, value.hours, value.minutes, value.seconds]
    )


@dataclass(frozen=True, slots=True)
class AdjustReason(BitField):
    """Adjust Reason of Current Time: why the clock last changed."""

    manual_time_update: bool = False
    external_reference_time_update: bool = False
    change_of_time_zone: bool = False
    change_of_dst: bool = False
    reserved_bits: int = 0


@dataclass(frozen=True, slots=True)
class CurrentTime:
    """Current Time 0x2A2B: Date Time, day of week, 1/256 s fractions, adjust reason."""

    date_time: DateTime
    day_of_week: int = 0
    fractions256: int = 0
    adjust_reason: AdjustReason = field(default_factory=AdjustReason)

    @classmethod
    def from_datetime(
        cls, value: dt.datetime, adjust_reason: AdjustReason | None = None
    ) -> CurrentTime:
        """The Current Time of a (naive, local) datetime, day of week and fractions included."""
        return cls(
            DateTime.from_datetime(value),
            value.isoweekday(),
            value.microsecond * 256 // 1_000_000,
            adjust_reason or AdjustReason(),
        )

    @property
    def day_of_week_name(self) -> DayOfWeek:
        """`monday`..`sunday`, or `unknown` for 0."""
        name: DayOfWeek = DAYS_OF_WEEK[self.day_of_week]  # type: ignore[assignment]
        return name


def decode_current_time(data: bytes) -> CurrentTime:
    """Decode Current Time 0x2A2B (10 bytes)."""
    reader = Reader("0x2A2B", data)
    if len(data) < CURRENT_TIME_SIZE:
        reader.take(CURRENT_TIME_SIZE)  # raises TruncatedPacket with the sizes
    date_time = read_date_time(reader)
    day_of_week = reader.u8()
    if day_of_week > 7:
        raise ReservedValue(f"0x2A2B: day of week {day_of_week} is reserved (0 unknown, 1..7)")
    fractions = reader.u8()
    reason = AdjustReason.from_int(reader.u8())
    reader.end()
    return CurrentTime(date_time, day_of_week, fractions, reason)


def encode_current_time(value: CurrentTime) -> bytes:
    """The 10 bytes of a Current Time."""
    if not 0 <= value.day_of_week <= 7:
        raise EncodeError(f"day of week {value.day_of_week} outside 0..7")
    return (
        encode_date_time(value.date_time)
        + u8(value.day_of_week, "day of week")
        + u8(value.fractions256, "fractions256")
        + u8(value.adjust_reason.to_int(), "adjust reason")
    )
