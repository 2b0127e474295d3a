"""Whatever a gateway sends, ingest answers with a 4xx or a result for every reading, never 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.errors import LinliError
from service.ingest.parsing import parse_batch
from tests.factories import auth, blood_pressure, glucose, new_gateway
from tests.fuzzing import SHARED_FIXTURES, counted, examples

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "device_serial",
    "measured_at",
    "unit",
    "systolic",
    "diastolic",
    "mean_arterial",
    "pulse",
    "user_index",
    "sequence_number",
    "status",
    "concentration",
    "meal",
    "sample_type",
    "sensor_status",
]
# Readings that are good but for one field, which gets any JSON value (or a near miss).
near_misses = st.builds(
    lambda base, field, value: {**base, field: value},
    st.sampled_from([blood_pressure(), glucose(sequence=5)]),
    st.sampled_from(FIELDS),
    json_values
    | st.floats(min_value=-1e308, max_value=1e308)
    | st.text()
    | st.datetimes().map(lambda d: d.isoformat())
    | st.integers(min_value=-(2**63), max_value=2**64 - 1),
)


class TestParseBatch:
    @counted
    @examples(400, 4000)
    @given(document=json_values)
    def test_any_json_document_is_refused_or_answered(self, document: Any) -> None:
        try:
            batch = parse_batch(orjson.dumps(document), max_readings=1000)
        except LinliError as exc:
            refused = exc.status_code
        else:
            refused = None
        if refused is not None:
            assert 400 <= refused < 500
            return
        answered = [i for i, _ in batch.readings] + [r.index for r in batch.rejected]
        assert sorted(answered) == list(range(batch.size))

    @counted
    @examples(400, 4000)
    @given(readings=st.lists(near_misses | json_values, max_size=8))
    def test_every_reading_is_kept_or_rejected_with_a_reason(self, readings: list[Any]) -> None:
        batch = parse_batch(orjson.dumps({"readings": readings}), max_readings=1000)
        answered = [i for i, _ in batch.readings] + [r.index for r in batch.rejected]
        assert sorted(answered) == list(range(len(readings)))
        assert all(r.reason for r in batch.rejected)

    @pytest.mark.parametrize(
        "body", [b"\xff\xfe{", b'{"readings": ["\xed\xa0\x80"]}', b"", b"NaN", b"1e999"]
    )
    def test_broken_encodings_are_bad_requests(self, body: bytes) -> None:
        with pytest.raises(LinliError) as caught:
            parse_batch(body, max_readings=1000)
        assert 400 <= caught.value.status_code < 500


@pytest.fixture
def token(database_url: str) -> str:
    return new_gateway(database_url)[1]


@counted
@examples(60, 600, suppress_health_check=SHARED_FIXTURES)
@given(readings=st.lists(near_misses, min_size=1, max_size=6))
def test_near_miss_readings_never_break_the_service(
    api: httpx.Client, token: str, readings: list[dict[str, Any]]
) -> None:
    response = api.post("/v1/readings", json={"readings": readings}, headers=auth(token))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(readings)))
    for result in results:
        assert result["status"] in {"accepted", "duplicate"} or result["reason"]
