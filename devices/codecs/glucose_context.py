"""Glucose Measurement Context 0x2A34: meal, carbohydrate, tester, exercise, medication, HbA1c.

Carbohydrate is in kilograms and medication in kilograms or litres, as the GATT definition
says (some devices are reported to send grams or milligrams instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from devices.codecs._wire import Reader, code_of, sfloat, u8, u16
from devices.codecs.errors import EncodeError, check_flagged_length
from devices.codecs.glucose import RESERVED
from devices.codecs.sfloat import SFloat

MedicationUnit = Literal["kg", "L"]

FLAG_CARBOHYDRATE = 0x01
FLAG_MEAL = 0x02
FLAG_TESTER_HEALTH = 0x04
FLAG_EXERCISE = 0x08
FLAG_MEDICATION = 0x10
FLAG_MEDICATION_LITERS = 0x20
FLAG_HBA1C = 0x40
FLAG_EXTENDED = 0x80

EXERCISE_OVERRUN = 0xFFFF

CARBOHYDRATE_IDS: dict[int, str] = {
    1: "breakfast",
    2: "lunch",
    3: "dinner",
    4: "snack",
    5: "drink",
    6: "supper",
    7: "brunch",
}
MEALS: dict[int, str] = {
    1: "preprandial",
    2: "postprandial",
    3: "fasting",
    4: "casual",
    5: "bedtime",
}
TESTERS: dict[int, str] = {
    1: "self",
    2: "health_care_professional",
    3: "lab_test",
    15: "not_available",
}
HEALTH: dict[int, str] = {
    1: "minor_issues",
    2: "major_issues",
    3: "during_menses",
    4: "under_stress",
    5: "no_issues",
    15: "not_available",
}
MEDICATION_IDS: dict[int, str] = {
    1: "rapid_acting_insulin",
    2: "short_acting_insulin",
    3: "intermediate_acting_insulin",
    4: "long_acting_insulin",
    5: "pre_mixed_insulin",
}


@dataclass(frozen=True, slots=True)
class GlucoseContext:
    """One 0x2A34 packet; each optional group is None when absent.

    Pairs go together: carbohydrate_id with carbohydrate, tester with health, exercise
    duration (s; 65535 = overrun) with intensity (%), medication_id with medication. A code
    the specification reserves decodes as "reserved".
    """

    sequence_number: int
    extended_flags: int | None = None
    carbohydrate_id: str | None = None
    carbohydrate: SFloat | None = None
    meal: str | None = None
    tester: str | None = None
    health: str | None = None
    exercise_duration: int | None = None
    exercise_intensity: int | None = None
    medication_id: str | None = None
    medication: SFloat | None = None
    medication_unit: MedicationUnit = "kg"
    hba1c: SFloat | None = None

    @property
    def flags(self) -> int:
        """The flags byte this context is sent with."""
        return (
            (FLAG_CARBOHYDRATE if self.carbohydrate_id is not None else 0)
            | (FLAG_MEAL if self.meal is not None else 0)
            | (FLAG_TESTER_HEALTH if self.tester is not None else 0)
            | (FLAG_EXERCISE if self.exercise_duration is not None else 0)
            | (FLAG_MEDICATION if self.medication_id is not None else 0)
            | (FLAG_MEDICATION_LITERS if self.medication_unit == "L" else 0)
            | (FLAG_HBA1C if self.hba1c is not None else 0)
            | (FLAG_EXTENDED if self.extended_flags is not None else 0)
        )

    @property
    def exercise_overrun(self) -> bool:
        """True when the exercise lasted longer than 65534 s (duration 65535)."""
        return self.exercise_duration == EXERCISE_OVERRUN


def _size(flags: int) -> int:
    return (
        3
        + (1 if flags & FLAG_EXTENDED else 0)
        + (3 if flags & FLAG_CARBOHYDRATE else 0)
        + (1 if flags & FLAG_MEAL else 0)
        + (1 if flags & FLAG_TESTER_HEALTH else 0)
        + (3 if flags & FLAG_EXERCISE else 0)
        + (3 if flags & FLAG_MEDICATION else 0)
        + (2 if flags & FLAG_HBA1C else 0)
    )


def decode_glucose_context(data: bytes) -> GlucoseContext:
    """Decode a Glucose Measurement Context (0x2A34)."""
    name = "0x2A34"
    flags = check_flagged_length(name, data, _size)
    reader = Reader(name, data)
    reader.u8()
    sequence = reader.u16()
    extended = reader.u8() if flags & FLAG_EXTENDED else None
    carbohydrate_id = carbohydrate = meal = tester = health = None
    duration = intensity = medication_id = medication = hba1c = None
    if flags & FLAG_CARBOHYDRATE:
        carbohydrate_id = CARBOHYDRATE_IDS.get(reader.u8(), RESERVED)
        carbohydrate = reader.sfloat()
    if flags & FLAG_MEAL:
        meal = MEALS.get(reader.u8(), RESERVED)
    if flags & FLAG_TESTER_HEALTH:
        tester_health = reader.u8()
        tester = TESTERS.get(tester_health & 0x0F, RESERVED)
        health = HEALTH.get(tester_health >> 4, RESERVED)
    if flags & FLAG_EXERCISE:
        duration, intensity = reader.u16(), reader.u8()
    if flags & FLAG_MEDICATION:
        medication_id = MEDICATION_IDS.get(reader.u8(), RESERVED)
        medication = reader.sfloat()
    if flags & FLAG_HBA1C:
        hba1c = reader.sfloat()
    reader.end()
    return GlucoseContext(
        sequence_number=sequence,
        extended_flags=extended,
        carbohydrate_id=carbohydrate_id,
        carbohydrate=carbohydrate,
        meal=meal,
        tester=tester,
        health=health,
        exercise_duration=duration,
        exercise_intensity=intensity,
        medication_id=medication_id,
        medication=medication,
        medication_unit="L" if flags & FLAG_MEDICATION_LITERS else "kg",
        hba1c=hba1c,
    )


def _pair(first: object, second: object, what: str) -> None:
    if (first is None) != (second is None):
        raise EncodeError(f"{what} come together: give both or neither")


def encode_glucose_context(value: GlucoseContext) -> bytes:
    """The bytes of a 0x2A34 packet."""
    _pair(value.carbohydrate_id, value.carbohydrate, "carbohydrate id and carbohydrate")
    _pair(value.tester, value.health, "tester and health")
    _pair(value.exercise_duration, value.exercise_intensity, "exercise duration and intensity")
    _pair(value.medication_id, value.medication, "medication id and medication")
    if value.medication_unit not in ("kg", "L"):
        raise EncodeError(f"medication unit {value.medication_unit!r} is neither kg nor L")
    out = bytearray([value.flags]) + u16(value.sequence_number, "sequence number")
    if value.extended_flags is not None:
        out += u8(value.extended_flags, "extended flags")
    if value.carbohydrate_id is not None and value.carbohydrate is not None:
        out += bytes([code_of(CARBOHYDRATE_IDS, value.carbohydrate_id, "carbohydrate id")])
        out += sfloat(value.carbohydrate)
    if value.meal is not None:
        out += bytes([code_of(MEALS, value.meal, "meal")])
    if value.tester is not None and value.health is not None:
        tester = code_of(TESTERS, value.tester, "tester")
        out += bytes([code_of(HEALTH, value.health, "health") << 4 | tester])
    if value.exercise_duration is not None and value.exercise_intensity is not None:
        out += u16(value.exercise_duration, "exercise duration")
        out += u8(value.exercise_intensity, "exercise intensity")
    if value.medication_id is not None and value.medication is not None:
        out += bytes([code_of(MEDICATION_IDS, value.medication_id, "medication id")])
        out += sfloat(value.medication)
    if value.hba1c is not None:
        out += sfloat(value.hba1c)
    return bytes(out)
