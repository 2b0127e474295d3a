"""Rows of the `linli analyze` CSV files as readings and profiles: syntax and presence only.

A row maps column names to text (None for a column the row lacks). Whether a value is
plausible is not checked here: an implausible reading is a valid row, which the quality guard
marks later. A row that cannot be read raises `RowError` with a short reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime

from analytics.readings import Condition, Flag, Kind, Meal, Profile, Reading

Row = Mapping[str, str | None]

_SHOWN = 40  # characters of a bad value quoted in a reason
_KINDS = {kind.value: kind for kind in Kind}
_MEALS = {meal.value: meal for meal in Meal}
_FLAGS = {flag.value: flag for flag in Flag}
_CONDITIONS = {condition.value: condition for condition in Condition}
_BOOLEANS = {"": False, "0": False, "1": True}
_BLOOD_PRESSURE_FIELDS = ("systolic", "diastolic", "pulse")


class RowError(ValueError):
    """A row that cannot be read; the message is a short reason for a person."""


def parse_reading(row: Row) -> Reading:
    """The reading of one READINGS.csv row, or RowError saying what is wrong with it."""
    resident_id = _resident_id(row)
    measured_at = _measured_at(_text(row, "measured_at"))
    kind = _kind(_text(row, "kind"))
    numbers = {name: _number(row, name) for name in (*_BLOOD_PRESSURE_FIELDS, "glucose_mmol_l")}
    if kind is Kind.BLOOD_PRESSURE:
        if numbers["systolic"] is None or numbers["diastolic"] is None:
            raise RowError("blood pressure without systolic/diastolic")
        if numbers["glucose_mmol_l"] is not None:
            raise RowError("glucose_mmol_l given for blood_pressure")
    else:
        if numbers["glucose_mmol_l"] is None:
            raise RowError("glucose_mmol_l missing for glucose")
        given = [name for name in _BLOOD_PRESSURE_FIELDS if numbers[name] is not None]
        if given:
            raise RowError(f"{'/'.join(given)} given for glucose")
    return Reading(
        resident_id=resident_id,
        measured_at=measured_at,
        kind=kind,
        systolic=numbers["systolic"],
        diastolic=numbers["diastolic"],
        pulse=numbers["pulse"],
        glucose_mmol_l=numbers["glucose_mmol_l"],
        meal=_meal(_text(row, "meal")),
        irregular_pulse=_irregular_pulse(_text(row, "irregular_pulse")),
        flags=_flags(_text(row, "flags")),
    )


def parse_profile(row: Row) -> Profile:
    """The profile of one RESIDENTS.csv row, or RowError saying what is wrong with it."""
    resident_id = _resident_id(row)
    text = _text(row, "birth_date")
    birth_date = None
    if text:
        try:
            birth_date = date.fromisoformat(text)
        except ValueError:
            raise RowError(f"birth_date {_show(text)} is not an ISO 8601 date") from None
    conditions = set()
    for part in _text(row, "conditions").split(";"):
        name = part.strip().lower()
        if not name:
            continue
        if name not in _CONDITIONS:
            raise RowError(f"unknown condition {_show(part.strip())}")
        conditions.add(_CONDITIONS[name])
    return Profile(resident_id, birth_date, frozenset(conditions))


def _text(row: Row, name: str) -> str:
    value = row.get(name)
    return "" if value is None else value.strip()


def _show(text: str) -> str:
    """A value quoted in a reason, cut short so that one bad row stays one short line."""
    return repr(text) if len(text) <= _SHOWN else repr(text[:_SHOWN]) + "..."


def _resident_id(row: Row) -> str:
    resident_id = _text(row, "resident_id")
    if not resident_id:
        raise RowError("resident_id is empty")
    if not resident_id.isascii():
        try:
            resident_id.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes, kept as surrogates by the reader
            raise RowError(f"resident_id {_show(resident_id)} is not valid UTF-8") from None
    return resident_id


def _measured_at(text: str) -> datetime:
    if not text:
        raise RowError("measured_at is empty")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"measured_at {_show(text)} is not an ISO 8601 time") from None
    if value.utcoffset() is None:
        raise RowError(f"measured_at {_show(text)} has no UTC offset")
    if value.year in (1, 9999):  # only there can the time in UTC fall outside what datetime holds
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise RowError(f"measured_at {_show(text)} is out of range") from None
    return value


def _kind(text: str) -> Kind:
    kind = _KINDS.get(text.lower())
    if kind is None:
        raise RowError(f"kind {_show(text)} is not blood_pressure or glucose")
    return kind


def _number(row: Row, name: str) -> float | None:
    text = _text(row, name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{name} {_show(text)} is not a number") from None
    if not math.isfinite(value):
        raise RowError(f"{name} {_show(text)} is not a finite number")
    return value


def _meal(text: str) -> Meal | None:
    if not text:
        return None
    meal = _MEALS.get(text.lower())
    if meal is None:
        raise RowError(f"meal {_show(text)} is not one of {', '.join(_MEALS)}")
    return meal


def _irregular_pulse(text: str) -> bool:
    value = _BOOLEANS.get(text)
    if value is None:
        raise RowError(f"irregular_pulse {_show(text)} is not 0 or 1")
    return value


def _flags(text: str) -> frozenset[Flag]:
    if not text:
        return frozenset()
    flags = set()
    for part in text.split(";"):
        name = part.strip().lower()
        if not name:
            continue
        if name not in _FLAGS:
            raise RowError(f"unknown flag {_show(part.strip())}")
        flags.add(_FLAGS[name])
    return frozenset(flags)
