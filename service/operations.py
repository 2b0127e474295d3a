"""The operations endpoints: /health (the process answers), /ready (it can serve: database
reachable, schema current) and /metrics (for Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import psycopg
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from service.database import DatabaseMode, detect_mode
from service.deps import MetricsDep, PoolDep, SettingsDep
from service.migrate import pending_migrations

router = APIRouter(tags=["operations"])

# How long /ready waits for a connection and its two queries before saying unavailable.
READY_TIMEOUT_SECONDS = 5.0


class Liveness(BaseModel):
    """The process answers."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the service can serve: its database, the mode it runs in, the schema."""

    status: Literal["ready", "unavailable"]
    database: DatabaseMode | None
    embedded: bool
    pending_migrations: list[str]
    reason: str | None = None


async def database_state(conn: psycopg.AsyncConnection[Any]) -> tuple[DatabaseMode, list[str]]:
    """The database mode and the migrations not yet applied."""
    return await detect_mode(conn), await pending_migrations(conn)


@router.get("/health", response_model=Liveness)
async def health() -> Liveness:
    """Liveness: answers 200 while the process runs, without touching the database."""
    return Liveness()


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(pool: PoolDep, settings: SettingsDep) -> Any:
    """Readiness: 200 when the database answers and no migration is pending, with the
    database mode (timescaledb or postgresql); 503 with the reason otherwise."""
    try:
        async with (
            asyncio.timeout(READY_TIMEOUT_SECONDS),
            pool.connection(timeout=READY_TIMEOUT_SECONDS) as conn,
        ):
            mode, pending = await database_state(conn)
    except (TimeoutError, psycopg.OperationalError) as exc:  # PoolTimeout included
        reason = f"database unreachable: {type(exc).__name__}"
        return _unavailable(
            Readiness(
                status="unavailable",
                database=None,
                embedded=settings.embedded,
                pending_migrations=[],
                reason=reason,
            )
        )
    answer = Readiness(
        status="ready", database=mode, embedded=settings.embedded, pending_migrations=pending
    )
    if pending:
        answer.status = "unavailable"
        answer.reason = f"migrations pending ({', '.join(pending)}): run `linli migrate`"
        return _unavailable(answer)
    return answer


def _unavailable(body: Readiness) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def prometheus_metrics(metrics: MetricsDep, pool: PoolDep) -> Response:
    """Prometheus metrics: readings ingested, upload latency, the outbox, open alerts, message
    outcomes, the process; `linli_database_up 0` when the database did not answer in time."""
    return Response(await metrics.exposition(pool), media_type=CONTENT_TYPE_LATEST)
