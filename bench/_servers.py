"""What the benchmark starts and stops: a PostgreSQL with two scratch databases, the API process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from service.embedded import embedded_server
from service.errors import DatabaseUnavailable
from service.migrate import migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_READY_SECONDS = 60.0
_STOP_SECONDS = 15.0


class BenchError(Exception):
    """Something the benchmark cannot go on from; reported as one line."""


@dataclass(frozen=True)
class Databases:
    """The two fresh databases: one behind the API, one loaded by COPY."""

    api: str
    copy: str
    server: str  # "embedded" or "LINLI_DATABASE_URL"


@contextmanager
def _scratch_database(admin_conninfo: str, prefix: str) -> Iterator[str]:
    """Create a uniquely named empty database; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin_conninfo, dbname=name)
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def bench_databases(external_conninfo: str | None) -> Iterator[Databases]:
    """Two scratch databases on LINLI_DATABASE_URL's server, or on an embedded one in a temp dir."""
    with ExitStack() as stack:
        if external_conninfo:
            admin, server = external_conninfo, "LINLI_DATABASE_URL"
        else:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="linli-bench-"))
            try:
                admin = stack.enter_context(embedded_server(Path(data_dir), "postgres"))
            except DatabaseUnavailable as exc:
                raise BenchError(exc.message) from exc
            server = "embedded"
        try:
            api = stack.enter_context(_scratch_database(admin, "linli_bench_api"))
            copy = stack.enter_context(_scratch_database(admin, "linli_bench_copy"))
        except psycopg.Error as exc:
            raise BenchError(f"could not create the scratch databases: {exc}") from exc
        yield Databases(api=api, copy=copy, server=server)


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll GET /health until the API answers 200; fail if the process dies or time runs out."""
    deadline = time.monotonic() + _READY_SECONDS
    with httpx.Client(base_url=url, timeout=5) as client:
        while True:
            if process.poll() is not None:
                raise BenchError(f"the API server exited with code {process.returncode}")
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise BenchError(f"the API server did not answer within {_READY_SECONDS:.0f} s")
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down (SIGTERM); kill it if it does not."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def api_server(conninfo: str, extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run the Linli API with uvicorn in its own process on `conninfo` (more LINLI_ settings in
    `extra_env`); yield its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": conninfo,
        "LINLI_MIGRATE_ON_START": "false",
        **(extra_env or {}),
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    # Its own session: Ctrl-C reaches only the benchmark, which stops the server in order.
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_ready(url, process)
        yield url
    finally:
        _stop(process)


async def migrated_scratch(conninfo: str) -> str:
    """Migrate the scratch database; return the server's version."""
    try:
        await migrate(conninfo)
        async with await psycopg.AsyncConnection.connect(conninfo) as conn:
            row = await (await conn.execute("SHOW server_version")).fetchone()
    except psycopg.Error as exc:
        raise BenchError(f"could not migrate the scratch database: {exc}") from exc
    return str(row[0]) if row else "unknown"
