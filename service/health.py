"""GET /health: is the service up, which database mode runs, is the schema current."""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

from service.database import DatabaseMode, detect_mode
from service.deps import PoolDep, SettingsDep
from service.migrate import pending_migrations

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """The service's state."""

    status: Literal["ok", "unavailable"]
    database: DatabaseMode | None
    embedded: bool
    pending_migrations: list[str]
    detail: str | None = None


async def database_state(conn: psycopg.AsyncConnection[Any]) -> tuple[DatabaseMode, list[str]]:
    """The database mode and the migrations not yet applied."""
    return await detect_mode(conn), await pending_migrations(conn)


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request, pool: PoolDep, settings: SettingsDep) -> Any:
    """Whether the service can reach its database, and in which mode (timescaledb or postgresql)."""
    try:
        async with pool.connection(timeout=5) as conn:
            mode, pending = await database_state(conn)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        body = Health(
            status="unavailable",
            database=None,
            embedded=settings.embedded,
            pending_migrations=[],
            detail=f"database unreachable: {type(exc).__name__}",
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return Health(
        status="ok", database=mode, embedded=settings.embedded, pending_migrations=pending
    )
