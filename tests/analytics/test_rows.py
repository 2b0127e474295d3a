"""CSV rows as readings and profiles: syntax and required fields, one short reason when bad."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.readings import Condition, Flag, Kind, Meal, Profile
from analytics.rows import Row, RowError, parse_profile, parse_reading

CST = timezone(timedelta(hours=8))
BP = {
    "resident_id": "R1",
    "measured_at": "2024-03-15T08:30:00+08:00",
    "kind": "blood_pressure",
    "systolic": "128",
    "diastolic": "82",
    "pulse": "72",
    "glucose_mmol_l": "",
    "meal": "",
}
GLUCOSE = {
    **BP,
    "kind": "glucose",
    "systolic": "",
    "diastolic": "",
    "pulse": "",
    "glucose_mmol_l": "5.6",
    "meal": "fasting",
}
READING_COLUMNS = [*BP, "irregular_pulse", "flags"]


def refusal(parse: Callable[[Row], object], row: Row) -> str | None:
    """The reason a row is refused, or None if it is read (any other exception escapes)."""
    try:
        parse(row)
    except RowError as exc:
        return str(exc)
    return None


def reason(row: dict[str, str | None]) -> str:
    with pytest.raises(RowError) as caught:
        parse_reading(row)
    return str(caught.value)


class TestParseReading:
    def test_blood_pressure(self) -> None:
        reading = parse_reading(
            {**BP, "irregular_pulse": "1", "flags": "body_movement; cuff_loose"}
        )
        assert reading.resident_id == "R1"
        assert reading.measured_at == datetime(2024, 3, 15, 8, 30, tzinfo=CST)
        assert reading.kind is Kind.BLOOD_PRESSURE
        assert (reading.systolic, reading.diastolic, reading.pulse) == (128, 82, 72)
        assert reading.glucose_mmol_l is None
        assert reading.irregular_pulse is True
        assert reading.flags == {Flag.BODY_MOVEMENT, Flag.CUFF_LOOSE}

    def test_glucose(self) -> None:
        reading = parse_reading(GLUCOSE)
        assert reading.kind is Kind.GLUCOSE
        assert reading.glucose_mmol_l == 5.6
        assert reading.meal is Meal.FASTING
        assert reading.systolic is None
        assert reading.flags == frozenset()
        assert reading.irregular_pulse is False

    def test_spaces_optional_columns_and_utc_z(self) -> None:
        row = {key: f"  {value} " for key, value in BP.items()}
        reading = parse_reading({**row, "measured_at": "2024-03-15T00:30:00Z", "pulse": None})
        assert reading.resident_id == "R1"
        assert reading.measured_at == datetime(2024, 3, 15, 8, 30, tzinfo=CST)
        assert reading.pulse is None

    def test_implausible_values_are_valid_rows(self) -> None:
        reading = parse_reading({**BP, "systolic": "-5", "diastolic": "900", "pulse": "0"})
        assert (reading.systolic, reading.diastolic, reading.pulse) == (-5, 900, 0)

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ({"resident_id": " "}, "resident_id is empty"),
            ({"resident_id": "R\udcff"}, "resident_id 'R\\udcff' is not valid UTF-8"),
            ({"measured_at": ""}, "measured_at is empty"),
            (
                {"measured_at": "2024-03-15T08:30:00"},
                "measured_at '2024-03-15T08:30:00' has no UTC",
            ),
            ({"measured_at": "yesterday"}, "measured_at 'yesterday' is not an ISO 8601 time"),
            ({"measured_at": "0001-01-01T00:00+01:00"}, "is out of range"),
            ({"kind": "x"}, "kind 'x' is not blood_pressure or glucose"),
            ({"systolic": "abc"}, "systolic 'abc' is not a number"),
            ({"pulse": "nan"}, "pulse 'nan' is not a finite number"),
            ({"systolic": ""}, "blood pressure without systolic/diastolic"),
            ({"diastolic": None}, "blood pressure without systolic/diastolic"),
            ({"glucose_mmol_l": "5.5"}, "glucose_mmol_l given for blood_pressure"),
            ({"meal": "lunch"}, "meal 'lunch' is not one of fasting, preprandial"),
            ({"irregular_pulse": "yes"}, "irregular_pulse 'yes' is not 0 or 1"),
            ({"flags": "body_movement;sneezed"}, "unknown flag 'sneezed'"),
        ],
    )
    def test_bad_blood_pressure_rows(self, change: dict[str, str | None], expected: str) -> None:
        assert expected in reason({**BP, **change})

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ({"glucose_mmol_l": ""}, "glucose_mmol_l missing for glucose"),
            ({"glucose_mmol_l": "1e999"}, "glucose_mmol_l '1e999' is not a finite number"),
            ({"systolic": "120", "pulse": "70"}, "systolic/pulse given for glucose"),
        ],
    )
    def test_bad_glucose_rows(self, change: dict[str, str | None], expected: str) -> None:
        assert expected in reason({**GLUCOSE, **change})

    def test_a_long_bad_value_is_cut_short(self) -> None:
        text = reason({**BP, "systolic": "9" * 10_000 + "x"})
        assert len(text) < 100
        assert text.endswith("'... is not a number")

    @given(
        st.fixed_dictionaries(
            {},
            optional={
                name: st.none() | st.text() | st.sampled_from(["", "1", "2.8", "glucose"])
                for name in READING_COLUMNS
            },
        )
    )
    @settings(max_examples=500)
    def test_arbitrary_text_raises_only_row_error(self, row: dict[str, str | None]) -> None:
        message = refusal(parse_reading, row)
        assert message is None or (message and "\n" not in message)

    @given(
        field=st.sampled_from(READING_COLUMNS),
        text=st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\udcff\x00\n,;")),
        base=st.sampled_from([BP, GLUCOSE]),
    )
    @settings(max_examples=500)
    def test_near_misses_raise_only_row_error(
        self, field: str, text: str, base: dict[str, str]
    ) -> None:
        try:
            reading = parse_reading({**base, field: text})
        except RowError:
            return
        assert reading.resident_id.strip() == reading.resident_id != ""
        assert reading.measured_at.utcoffset() is not None


class TestParseProfile:
    def test_full_profile(self) -> None:
        profile = parse_profile(
            {"resident_id": "R1", "birth_date": "1948-02-29", "conditions": "hypertension;Diabetes"}
        )
        assert profile == Profile(
            "R1", date(1948, 2, 29), frozenset({Condition.HYPERTENSION, Condition.DIABETES})
        )

    def test_empty_birth_date_and_conditions(self) -> None:
        assert parse_profile({"resident_id": "R1", "birth_date": "", "conditions": None}) == (
            Profile("R1")
        )

    @pytest.mark.parametrize(
        ("row", "expected"),
        [
            ({"resident_id": ""}, "resident_id is empty"),
            ({"resident_id": "R1", "birth_date": "1948-02-30"}, "birth_date '1948-02-30' is not"),
            ({"resident_id": "R1", "conditions": "asthma"}, "unknown condition 'asthma'"),
        ],
    )
    def test_bad_profiles(self, row: dict[str, str | None], expected: str) -> None:
        with pytest.raises(RowError, match=expected):
            parse_profile(row)

    @given(
        st.fixed_dictionaries(
            {},
            optional={
                name: st.none() | st.text() for name in ("resident_id", "birth_date", "conditions")
            },
        )
    )
    @settings(max_examples=300)
    def test_arbitrary_text_raises_only_row_error(self, row: dict[str, str | None]) -> None:
        message = refusal(parse_profile, row)
        assert message is None or (message and "\n" not in message)
