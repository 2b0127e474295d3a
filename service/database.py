"""Where the database is, which mode it runs in, and the connection pool."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from procrastinate.exceptions import ConnectorException
from psycopg_pool import AsyncConnectionPool

from service.embedded import embedded_server
from service.errors import DatabaseUnavailable
from service.settings import Settings


class DatabaseMode(enum.StrEnum):
    """How readings are stored: TimescaleDB hypertables, or plain PostgreSQL tables."""

    TIMESCALEDB = "timescaledb"
    POSTGRESQL = "postgresql"


def database_away(exc: BaseException) -> bool:
    """True when `exc` is PostgreSQL being away (unreachable, restarting, no connection free
    in time), as psycopg reports it or the job queue, procrastinate, wrapped it."""
    return isinstance(_unwrapped(exc), psycopg.OperationalError)


def first_line(exc: BaseException) -> str:
    """The first line of what went wrong, looking through procrastinate's wrapper."""
    cause = _unwrapped(exc)
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _unwrapped(exc: BaseException) -> BaseException:
    if isinstance(exc, ConnectorException) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


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


# How long the pool retries one failed connection (1, 2, 4 ... seconds apart) before it
# gives up on it; the next request then asks for a fresh one at once. psycopg_pool's default
# of five minutes would let its backoff grow past a minute during a long outage, and the
# service would stay away that long after PostgreSQL came back.
RECONNECT_SECONDS = 5.0


@asynccontextmanager
async def open_pool(conninfo: str, settings: Settings) -> AsyncIterator[AsyncConnectionPool]:
    """Open the connection pool the service uses for its whole life; close it after.

    Every connection is checked as it leaves the pool (one empty query): after PostgreSQL
    restarted, the pool's connections are all dead, and without the check each would fail
    one request before the pool noticed. A request waits `pool_wait_seconds` at most for a
    connection (then it is answered 503: `service.operations.answer_database_away`), less than a
    gateway waits for its answer, so that while PostgreSQL is away the gateway hears why.
    """
    pool = AsyncConnectionPool(
        conninfo,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        open=False,
        name="linli",
        check=AsyncConnectionPool.check_connection,
        timeout=settings.pool_wait_seconds,
        reconnect_timeout=RECONNECT_SECONDS,
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
