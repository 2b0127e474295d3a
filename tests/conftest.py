"""Shared fixtures: a real PostgreSQL, a fresh migrated database per test, a live API server.

The server is the embedded one, started once per session in a temporary directory. Every
test gets its own database cloned from a migrated template, so no test sees another's rows.
Tests of the TimescaleDB mode use the server LINLI_TEST_DATABASE_URL points at, and are
skipped when it is unset.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from hypothesis import settings as hypothesis_settings
from psycopg import sql
from psycopg.conninfo import make_conninfo

from service.app import create_app
from service.embedded import embedded_server
from service.migrate import migrate
from service.settings import Settings
from tests.effort import LONG_ENV

TEMPLATE = "linli_test_template"

# CI replays the same examples every run (a red CI must be reproducible); a developer's runs
# explore new ones each time.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="run the long variants of the reliability tests (more kills, more fuzz examples)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Read by tests/effort.py; set here so that pytest-xdist's workers, which are configured
    # with the same options, see it too.
    if config.getoption("long"):
        os.environ[LONG_ENV] = "1"


@pytest.fixture(scope="session")
def server_conninfo() -> Iterator[str]:
    """Conninfo of a maintenance database on the embedded test server."""
    # Not under pytest's basetemp: another pytest run on the machine prunes old basetemps,
    # and would delete a running server's data directory with them.
    with (
        tempfile.TemporaryDirectory(prefix="linli-test-pg-") as data_dir,
        embedded_server(Path(data_dir), "postgres") as conninfo,
    ):
        yield conninfo


def _drop(admin: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_conninfo(server_conninfo: str) -> str:
    """A database with every migration applied, cloned for each test."""
    with psycopg.connect(server_conninfo, autocommit=True) as admin:
        _drop(admin, TEMPLATE)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    conninfo = make_conninfo(server_conninfo, dbname=TEMPLATE)
    asyncio.run(migrate(conninfo))
    return conninfo


@pytest.fixture
def database_url(server_conninfo: str, template_conninfo: str) -> Iterator[str]:
    """Conninfo of a fresh, migrated database of this test's own."""
    name = f"linli_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_conninfo, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)
            )
        )
    yield make_conninfo(server_conninfo, dbname=name)
    with psycopg.connect(server_conninfo, autocommit=True) as admin:
        _drop(admin, name)


@pytest.fixture
def empty_database_url(server_conninfo: str) -> Iterator[str]:
    """Conninfo of a new database with no schema at all."""
    name = f"linli_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(server_conninfo, dbname=name)
    with psycopg.connect(server_conninfo, autocommit=True) as admin:
        _drop(admin, name)


@pytest.fixture
def timescale_url() -> Iterator[str]:
    """A fresh, empty database on the TimescaleDB server of LINLI_TEST_DATABASE_URL."""
    server = os.environ.get("LINLI_TEST_DATABASE_URL")
    if not server:
        pytest.skip("LINLI_TEST_DATABASE_URL does not point at a TimescaleDB server")
    with psycopg.connect(server, autocommit=True) as admin:
        offered = admin.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        if offered is None:
            pytest.fail("LINLI_TEST_DATABASE_URL is set but its server has no TimescaleDB")
        name = f"linli_ts_{uuid.uuid4().hex[:12]}"
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(server, dbname=name)
    with psycopg.connect(server, autocommit=True) as admin:
        _drop(admin, name)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A plain autocommit connection to the test's database, to look at what was stored."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a service on the test's database."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", pool_max_size=4)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """The Linli API served by uvicorn in a thread, on a real socket."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Linli API did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """A running Linli API on the test's database."""
    with LiveServer(settings) as server:
        yield server


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client for the running API."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client
