"""Whatever a monitor or meter sends, and whatever its clock says, the gateway makes an upload
item the service answers (stored, or refused with a reason) or leaves the measurement out,
never failing on it.

Measurements are any the codecs decode (arbitrary values, and arbitrary bytes that happen to
decode); the device's clock is anywhere from 1582 to 9999, as its Current Time can say.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from hypothesis import given
from hypothesis import strategies as st

from devices.clock import ClockCheck
from devices.codecs import (
    BloodPressureFeature,
    DecodeError,
    GlucoseMeasurement,
    SFloat,
    decode_blood_pressure_measurement,
    decode_glucose_context,
    decode_glucose_measurement,
)
from devices.codecs.date_time import DateTime
from devices.readings import Timing, blood_pressure_item, glucose_item
from service.ingest.parsing import parse_batch
from tests.devices.test_codecs_blood_pressure import measurements as pressures
from tests.devices.test_codecs_glucose import contexts
from tests.devices.test_codecs_glucose import measurements as sugars
from tests.fuzzing import counted, examples

ZONES = [ZoneInfo(name) for name in ("Asia/Shanghai", "UTC", "Pacific/Kiritimati", "Etc/GMT+12")]
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
device_clock = st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31))
timings = st.builds(
    Timing,
    zone=st.sampled_from(ZONES),
    received_at=aware,
    check=st.none()
    | st.builds(
        ClockCheck, device_time=device_clock, gateway_time=aware, zone=st.sampled_from(ZONES)
    ),
)


# Stamps at the ends of what a Date Time can say (years 1582 and 9999).
EDGE_FIRST, EDGE_LAST = DateTime(1582, 1, 1, 0, 0, 0), DateTime(9999, 12, 31, 23, 59, 59)
EDGES = st.sampled_from([EDGE_FIRST, EDGE_LAST])
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def at_the_edges(measurement: Any, stamp: str) -> st.SearchStrategy[Any]:
    """`measurement` as it is, or stamped at the first or the last moment a device can say."""
    return st.just(measurement) | EDGES.map(lambda edge: replace(measurement, **{stamp: edge}))


def decoded(decode: Any, structured: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Values the codec decodes: structured ones, and arbitrary bytes that decode."""

    def attempt(data: bytes) -> Any:
        try:
            return decode(data)
        except DecodeError:
            return None

    return structured | st.binary(max_size=24).map(attempt).filter(lambda v: v is not None)


def answered_by_the_service(item: dict[str, Any]) -> None:
    """The item as the uploader sends it, and the service's answer to it: stored or refused
    with a reason."""
    json.dumps(item, allow_nan=False)  # httpx writes the body with json; NaN would break it
    batch = parse_batch(orjson.dumps({"readings": [item]}), max_readings=10)
    assert len(batch.readings) + len(batch.rejected) == 1
    assert all(r.reason for r in batch.rejected)


@counted
@examples(300, 3000)
@given(
    measurement=decoded(decode_blood_pressure_measurement, pressures()).flatmap(
        lambda m: at_the_edges(m, "time_stamp")
    ),
    timing=timings,
    feature=st.none() | st.integers(0, 0xFFFF).map(BloodPressureFeature.from_int),
)
def test_any_blood_pressure_measurement(measurement: Any, timing: Timing, feature: Any) -> None:
    captured = blood_pressure_item(measurement, serial="BP-1", timing=timing, feature=feature)
    if captured is not None:
        answered_by_the_service(captured.item)


@counted
@examples(300, 3000)
@given(
    measurement=decoded(decode_glucose_measurement, sugars()).flatmap(
        lambda m: at_the_edges(m, "base_time")
    ),
    context=st.none() | decoded(decode_glucose_context, contexts()),
    timing=timings,
)
def test_any_glucose_measurement(measurement: Any, context: Any, timing: Timing) -> None:
    captured = glucose_item(measurement, context, serial="GL-1", timing=timing)
    if captured is not None:
        answered_by_the_service(captured.item)


class TestWhatTheFuzzingFound:
    """Stamps no datetime can hold once moved: the time of receipt stands in (were a crash)."""

    def test_a_glucose_record_whose_offset_runs_past_year_9999(self) -> None:
        measurement = GlucoseMeasurement(
            sequence_number=1, base_time=EDGE_LAST, time_offset=1, concentration=SFloat.of(5.5, -1)
        )
        captured = glucose_item(
            measurement, None, serial="GL-1", timing=Timing(ZONES[0], NOW, None)
        )
        assert captured is not None
        assert captured.item["time_source"] == "received"
        assert captured.item["measured_at"] == NOW.isoformat()

    def test_a_reading_from_a_clock_off_by_millennia(self) -> None:
        measurement = replace(
            decode_blood_pressure_measurement(bytes.fromhex("00 72 00 52 00 5F 00")),
            time_stamp=DateTime(1718, 1, 1, 0, 0, 0),
        )
        # The clock is 1,717 years fast: the reading would have been taken before year 1.
        far = ClockCheck(datetime(3717, 1, 1), datetime(2000, 1, 1, tzinfo=UTC), ZONES[0])
        captured = blood_pressure_item(
            measurement, serial="BP-1", timing=Timing(ZONES[0], NOW, far)
        )
        assert captured is not None
        assert captured.item["time_source"] == "received"
