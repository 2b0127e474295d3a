"""POST /v1/readings: the gateway's upload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from service.deps import GatewayDep, MetricsDep, PoolDep, SettingsDep
from service.errors import PayloadTooLarge, UnsupportedMediaType
from service.ingest.parsing import parse_batch
from service.ingest.schemas import BatchResult, ReadingBatch
from service.ingest.service import ingest_batch, outcome_counts

router = APIRouter(tags=["ingest"])


async def timed_upload(metrics: MetricsDep) -> AsyncIterator[None]:
    """Time the upload, refused ones too, into linli_ingest_duration_seconds."""
    with metrics.ingest_seconds.time():
        yield


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {limit} are accepted")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/v1/readings",
    response_model=BatchResult,
    # Listed here, the timer starts before the token is checked and stops when the route ends.
    dependencies=[Depends(timed_upload, scope="function")],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ReadingBatch"}}
            },
        }
    },
    responses={
        401: {"description": "Unknown or revoked gateway token"},
        413: {"description": "Body or batch too large"},
        415: {"description": "Body is not JSON"},
        422: {"description": "The body is not a batch of readings"},
    },
)
async def post_readings(
    request: Request,
    gateway: GatewayDep,
    pool: PoolDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> Response:
    """Upload a batch of readings. Each is answered: accepted, duplicate, or rejected with a reason.

    Sending the same reading again is safe: it is stored once and answered `duplicate`.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("send the batch as application/json")
    body = await read_limited_body(request, settings.max_body_bytes)
    batch = parse_batch(body, settings.max_batch_readings)
    skew = timedelta(seconds=settings.clock_skew_seconds)
    # Already in BatchResult's shape: serialised directly, not validated again.
    detection = request.app.state.detection
    answer = await ingest_batch(pool, gateway.id, batch, skew, stored_for=detection.wake)
    metrics.count_readings(outcome_counts(batch, answer))
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post(
    "/v1/heartbeat",
    status_code=204,
    responses={401: {"description": "Unknown or revoked gateway token"}},
)
async def post_heartbeat(gateway: GatewayDep) -> Response:
    """Say the gateway is alive though it has nothing to upload.

    Detection tells a resident who stopped measuring from a home whose gateway is offline by
    when the gateway was last heard from: any request with the gateway's token counts.
    """
    return Response(status_code=204)


# The body is read by hand (to answer per reading); its schema still belongs in OpenAPI.
EXTRA_SCHEMAS = [ReadingBatch]
