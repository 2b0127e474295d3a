"""Readings as compact tuples: what sorted runs hold on disk, in the order they sort by.

A record is `(resident_id, utc_us, offset_us, kind, systolic, diastolic, pulse, glucose,
meal, irregular_pulse, flags)` made only of str, int and float, so that `marshal` stores it
and tuples compare in C: by resident, then by instant, then by everything else, which makes
the order of equal-time readings independent of the order of the input. A missing number is
-inf (the parser refuses infinite values, so -inf never stands for a real one), a missing
meal is "", the flags are their sorted names joined by ";".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TypeAlias

from analytics.readings import Flag, Kind, Meal, Reading

Record: TypeAlias = tuple[str, int, int, str, float, float, float, float, str, int, str]

MISSING = float("-inf")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_KINDS = {kind.value: kind for kind in Kind}
_MEALS = {meal.value: meal for meal in Meal}
_ZONES_KEPT = 1024  # offsets are few in practice; a file full of odd ones must not grow this
_zones: dict[int, timezone] = {}
_flag_sets: dict[str, frozenset[Flag]] = {"": frozenset()}


def _stored(value: float | None) -> float:
    return MISSING if value is None else value


def _loaded(value: float) -> float | None:
    return None if value == MISSING else value


def to_record(reading: Reading) -> Record:
    """The record of a reading (its `received_at` is not kept: CSV input has none)."""
    offset = reading.measured_at.utcoffset()
    assert offset is not None  # the parser refuses times without an offset
    return (
        reading.resident_id,
        (reading.measured_at - _EPOCH) // _MICROSECOND,
        offset // _MICROSECOND,
        reading.kind.value,
        _stored(reading.systolic),
        _stored(reading.diastolic),
        _stored(reading.pulse),
        _stored(reading.glucose_mmol_l),
        "" if reading.meal is None else reading.meal.value,
        int(reading.irregular_pulse),
        ";".join(sorted(flag.value for flag in reading.flags)),
    )


def from_record(record: Record) -> Reading:
    """The reading a record holds, with its time in the offset it was written with."""
    resident_id, utc_us, offset_us, kind, systolic, diastolic, pulse, glucose = record[:8]
    meal, irregular, flags = record[8:]
    local = _NAIVE_EPOCH + timedelta(microseconds=utc_us + offset_us)
    return Reading(
        resident_id=resident_id,
        measured_at=local.replace(tzinfo=_zone(offset_us)),
        kind=_KINDS[kind],
        systolic=_loaded(systolic),
        diastolic=_loaded(diastolic),
        pulse=_loaded(pulse),
        glucose_mmol_l=_loaded(glucose),
        meal=_MEALS[meal] if meal else None,
        irregular_pulse=bool(irregular),
        flags=_flags(flags),
    )


def _zone(offset_us: int) -> timezone:
    zone = _zones.get(offset_us)
    if zone is None:
        zone = timezone(timedelta(microseconds=offset_us))
        if len(_zones) < _ZONES_KEPT:
            _zones[offset_us] = zone
    return zone


def _flags(text: str) -> frozenset[Flag]:
    flags = _flag_sets.get(text)
    if flags is None:
        flags = _flag_sets[text] = frozenset(Flag(name) for name in text.split(";"))
    return flags
