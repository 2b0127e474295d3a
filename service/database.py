"""Where the database is, which mode it runs in, and the connection pool."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from service.embedded import embedded_server
from service.errors import DatabaseUnavailable
from service.settings import Settings


class DatabaseMode(enum.StrEnum):
    """How readings are stored: TimescaleDB hypertables, or plain PostgreSQL tables."""

    TIMESCALEDB = "timescaledb"
    POSTGRESQL = "postgresql"


@contextmanager
def database_conninfo(settings: Settings) -> Iterator[str]:
    """Yield the conninfo to use: LINLI_DATABASE_URL, or the embedded server's (started here)."""
    if settings.database_url is not None:
        yield str(settings.database_url)
        return
    with embedded_server(settings.data_dir, settings.database_name) as conninfo:
        yield conninfo


async def detect_mode(conn: psycopg.AsyncConnection[Any]) -> DatabaseMode:
    """TimescaleDB when its extension is installed in this database, else plain PostgreSQL."""
    cur = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    return DatabaseMode.TIMESCALEDB if await cur.fetchone() else DatabaseMode.POSTGRESQL


@asynccontextmanager
async def open_pool(conninfo: str, settings: Settings) -> AsyncIterator[AsyncConnectionPool]:
    """Open the connection pool the service uses for its whole life; close it after."""
    pool = AsyncConnectionPool(
        conninfo,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        open=False,
        name="linli",
    )
    try:
        await pool.open(wait=True, timeout=30)
    except psycopg.OperationalError as exc:  # pragma: no cover - reported as one line
        raise DatabaseUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
    except TimeoutError as exc:
        raise DatabaseUnavailable("cannot reach PostgreSQL within 30 s") from exc
    try:
        yield pool
    finally:
        await pool.close()
