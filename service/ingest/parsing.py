"""Turn the bytes of a POST /v1/readings body into validated readings and per-item rejections."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from service.errors import BadRequest, Invalid, PayloadTooLarge
from service.ingest.schemas import (
    BloodPressureIn,
    DeviceReport,
    GlucoseIn,
    ItemResult,
    devices_adapter,
    reading_adapter,
    readings_adapter,
)

_ENVELOPE_KEYS = {"readings", "devices"}
_KIND_TAGS = {"blood_pressure", "glucose"}


@dataclass
class ParsedBatch:
    """A batch whose envelope is sound: good readings by index, and the items rejected."""

    readings: list[tuple[int, BloodPressureIn | GlucoseIn]] = field(default_factory=list)
    rejected: list[ItemResult] = field(default_factory=list)
    devices: list[DeviceReport] = field(default_factory=list)
    size: int = 0
    # The kind each rejected item named, when it named one Linli knows (for the metrics).
    rejected_kinds: dict[int, str] = field(default_factory=dict)


def describe(error: ValidationError) -> str:
    """One readable line from a pydantic error: 'systolic: Input should be a valid number'."""
    parts = []
    for item in error.errors(include_url=False)[:3]:
        # The union's tag ('blood_pressure', 'glucose') leads the location; it adds nothing.
        location = ".".join(str(p) for p in item["loc"] if p not in _KIND_TAGS)
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def parse_batch(body: bytes, max_readings: int) -> ParsedBatch:
    """Validate the envelope as a whole (else raise), then each reading on its own."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object with a 'readings' list")
    unknown = set(document) - _ENVELOPE_KEYS
    if unknown:
        raise Invalid(f"unknown field(s) in the body: {', '.join(sorted(unknown))}")
    items = document.get("readings")
    if not isinstance(items, list):
        raise Invalid("'readings' must be a list of readings")
    if len(items) > max_readings:
        raise PayloadTooLarge(
            f"the batch has {len(items)} readings; at most {max_readings} are accepted at once"
        )
    batch = ParsedBatch(size=len(items))
    try:
        batch.devices = devices_adapter.validate_json(orjson.dumps(document.get("devices", [])))
    except ValidationError as exc:
        raise Invalid(f"devices.{describe(exc)}") from None
    # Validating the JSON text (not the decoded objects) keeps pydantic's strict JSON rules:
    # ISO times with offsets, numbers as numbers. The whole list at once is the fast path;
    # only a batch with a bad reading is validated reading by reading, to say which.
    try:
        good = readings_adapter.validate_json(orjson.dumps(items))
    except ValidationError:
        pass
    else:
        batch.readings = list(enumerate(good))
        return batch
    for index, item in enumerate(items):
        try:
            reading = reading_adapter.validate_json(orjson.dumps(item))
        except ValidationError as exc:
            batch.rejected.append(ItemResult(index=index, status="rejected", reason=describe(exc)))
            kind = item.get("kind") if isinstance(item, dict) else None
            if isinstance(kind, str) and kind in _KIND_TAGS:
                batch.rejected_kinds[index] = kind
            continue
        batch.readings.append((index, reading))
    return batch
