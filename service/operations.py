"""The operations endpoints: /health (the process answers), /ready (it can serve: database
reachable, schema current) and /metrics (for Prometheus)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from procrastinate.exceptions import ConnectorException
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from service.database import DatabaseMode, database_away, detect_mode, first_line
from service.deps import MetricsDep, PoolDep, SettingsDep
from service.migrate import pending_migrations

log = logging.getLogger(__name__)
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


async def answer_database_away(request: Request, exc: Exception) -> JSONResponse:
    """503 for a request PostgreSQL could not serve: unreachable, restarting, or no
    connection free within the pool's wait. Nothing the caller sent is wrong; a gateway
    keeps its readings in its outbox and sends them again. The reason names the error's
    kind only (its text names the server's address); the log has it whole, in one line.

    Any other error of the job queue stays a 500: a fault of Linli's own."""
    if not database_away(exc):
        raise exc
    log.warning(
        "%s %s: database unavailable: %s", request.method, request.url.path, first_line(exc)
    )
    kind = type(exc.__cause__ if isinstance(exc, ConnectorException) else exc).__name__
    return JSONResponse(
        {"detail": f"database unavailable ({kind}), try again later"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def answer_503_while_the_database_is_away(app: FastAPI) -> None:
    """Render the database being away (psycopg's OperationalError, PoolTimeout among them,
    directly or through the job queue) as 503 with the reason, never as a 500."""
    app.add_exception_handler(psycopg.OperationalError, answer_database_away)
    app.add_exception_handler(ConnectorException, answer_database_away)
