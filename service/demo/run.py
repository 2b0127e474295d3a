"""Running the demo: the database (embedded, or LINLI_DATABASE_URL), the district seeded once,
then the API with its pages and worker, and the live homes read by a gateway over an emulated
radio, until Ctrl-C or the end of `--duration`.

Everything is checked before anything starts (the port, the data directory, the database),
and everything started is stopped on the way out, whatever went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import uvicorn
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from devices.bumble_backend import virtual_radio
from devices.config import GatewayConfig
from devices.emulation import EmulatedHome
from devices.gateway import BleakOptions, run_gateway
from service.app import create_app
from service.database import database_conninfo
from service.demo import seed as seeding
from service.demo.homes import live_homes, measure, schedule
from service.errors import LinliError
from service.settings import Settings

log = logging.getLogger(__name__)
DEMO_DATABASE = "linli_demo"
ZONE = ZoneInfo("Asia/Shanghai")
STARTUP_SECONDS = 60


class DemoError(LinliError):
    """Something stops the demo before or while it starts: one line saying what to do."""

    status_code = 500


@dataclass(frozen=True)
class DemoOptions:
    """What `linli demo` was asked for."""

    residents: int = 300
    homes: int = 3
    speed: float = 1440.0
    seed: int = 2026
    reset: bool = False
    headless: bool = False
    duration: float | None = None


@dataclass(frozen=True)
class Produced:
    """What the live part produced since it started."""

    readings: int
    alerts: int
    messages: int

    def missing(self) -> list[str]:
        """What a working demo should have produced and did not."""
        return [
            what
            for what, n in (
                ("no reading", self.readings),
                ("no alert", self.alerts),
                ("no message", self.messages),
            )
            if n == 0
        ]


# -- checks before anything starts ----------------------------------------------------------


def check_port(host: str, port: int) -> None:
    """The API's port must be free (else one line saying so, nothing started)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DemoError(
                    f"port {port} on {host} is already in use: stop what uses it, or choose"
                    " another with LINLI_PORT"
                ) from None
            raise DemoError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def check_data_dir(path: Path) -> None:
    """The data directory must be writable (the embedded database and the gateway live there)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".linli-demo-write-check"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise DemoError(
            f"the data directory {path} is not writable ({exc.strerror}): choose another with"
            " LINLI_DATA_DIR"
        ) from None


def check_database(conninfo: str) -> None:
    """The database must answer (LINLI_DATABASE_URL may point anywhere)."""
    try:
        with psycopg.connect(conninfo, connect_timeout=10):
            pass
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DemoError(
            f"cannot reach the database of LINLI_DATABASE_URL ({first}): start it, or unset"
            " LINLI_DATABASE_URL to use the embedded one"
        ) from None


# -- the database ---------------------------------------------------------------------------


def demo_settings(settings: Settings) -> Settings:
    """The settings the demo runs with: its own database on the embedded server."""
    return settings.model_copy(update={"database_name": DEMO_DATABASE})


@contextlib.contextmanager
def demo_database(settings: Settings, reset: bool) -> Iterator[str]:
    """The demo's database, started if embedded, emptied first with `reset`."""
    if settings.database_url is not None:
        check_database(str(settings.database_url))
    with database_conninfo(demo_settings(settings)) as conninfo:
        if reset:
            _reset(conninfo, embedded=settings.database_url is None)
        yield conninfo


def _reset(conninfo: str, embedded: bool) -> None:
    """Start over: the embedded demo database is dropped and made again; a database of
    LINLI_DATABASE_URL is emptied only when it holds nothing but the demo."""
    if embedded:
        name = conninfo_to_dict(conninfo)["dbname"]
        server = make_conninfo(conninfo, dbname="postgres")
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
        return
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT to_regclass('linli_demo') IS NOT NULL, to_regclass('residents') IS NOT NULL"
        ).fetchone()
        demo, linli = row if row else (False, False)
        if linli and not demo:
            raise DemoError(
                "--reset would empty the database of LINLI_DATABASE_URL, which holds data the"
                " demo did not seed: point LINLI_DATABASE_URL at a database for the demo"
            )
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


# -- the live part --------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the demo stops it with everything else."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def api_server(settings: Settings, conninfo: str) -> AsyncIterator[str]:
    """The API with its pages and its worker, on the demo's database; yields its URL."""
    app_settings = demo_settings(settings).model_copy(
        update={"database_url": conninfo, "run_worker": True, "migrate_on_start": True}
    )
    config = uvicorn.Config(
        create_app(app_settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(STARTUP_SECONDS * 10):
            if server.started or serving.done():
                break
            await asyncio.sleep(0.1)
        if not server.started:
            problem = "it took too long"
            if serving.done() and not serving.cancelled() and serving.exception() is not None:
                problem = str(serving.exception()) or type(serving.exception()).__name__
            raise DemoError(f"the API did not start on {settings.host}:{settings.port}: {problem}")
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
        yield f"http://{host}:{settings.port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await serving


async def _next_sequences(
    pool: AsyncConnectionPool, homes: tuple[seeding.Home, ...]
) -> dict[str, int]:
    """Where each home's meter goes on counting (it remembers across runs, as meters do)."""
    serials = [h.glucose_serial for h in homes]
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT d.serial, max(g.sequence_number) FROM devices d
               JOIN glucose_readings g ON g.device_id = d.id
               WHERE d.serial = ANY(%s) GROUP BY d.serial""",
            (serials,),
        )
        return {serial: int(top) + 1 for serial, top in await cur.fetchall() if top is not None}


async def crisis_home(pool: AsyncConnectionPool, homes: tuple[seeding.Home, ...]) -> int:
    """The home whose resident's family heard of a blood-pressure crisis longest ago (or
    never): the policy would not tell them again within the hour."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT resident_id, max(created_at) FROM notifications
               WHERE rule = 'bp.crisis' AND resident_id = ANY(%s) GROUP BY resident_id""",
            ([h.resident_id for h in homes],),
        )
        told: dict[int, dt.datetime] = dict(await cur.fetchall())
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    order = sorted(range(len(homes)), key=lambda i: (told.get(homes[i].resident_id) or never, i))
    return order[0] if order else 0


async def produced_since(pool: AsyncConnectionPool, since: dt.datetime) -> Produced:
    """Readings stored, alerts opened and messages sent since `since`."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT (SELECT count(*) FROM blood_pressure_readings WHERE received_at >= %(s)s)
                    + (SELECT count(*) FROM glucose_readings WHERE received_at >= %(s)s),
                      (SELECT count(*) FROM alerts WHERE opened_at >= %(s)s),
                      (SELECT count(*) FROM notifications
                       WHERE created_at >= %(s)s AND status IN ('sent', 'delivered'))""",
            {"s": since},
        )
        row = await cur.fetchone()
    assert row is not None
    return Produced(int(row[0]), int(row[1]), int(row[2]))


@dataclass(frozen=True)
class Live:
    """What the live part needs."""

    settings: Settings
    conninfo: str
    district: seeding.Seeded
    options: DemoOptions
    said: Callable[[str], None]
    started: Callable[[str, seeding.Seeded], None]


async def run_live(live: Live, stop: asyncio.Event) -> Produced:
    """The API, worker, gateway and homes until `stop`; what they produced."""
    start = dt.datetime.now(dt.UTC)
    async with AsyncConnectionPool(live.conninfo, min_size=1, max_size=2, open=False) as pool:
        async with pool.connection() as conn:
            token = await seeding.new_gateway_token(conn, live.district.gateway_id)
        homes = live_homes(
            live.district.homes, ZONE, await _next_sequences(pool, live.district.homes)
        )
        devices = [device for home in homes for device in home.devices]
        async with api_server(live.settings, live.conninfo) as url:
            gateway = GatewayConfig(
                service_url=url,
                token=token,
                data_dir=live.settings.data_dir / "demo-gateway",
                scan_seconds=1.0,
                sync_interval_seconds=2.0,
            )
            async with (
                EmulatedHome(*devices) as air,
                virtual_radio(link=air.link) as radio,
            ):
                options = BleakOptions(scanner=radio.scanner_options, client=radio.client_options)
                collecting = asyncio.create_task(
                    run_gateway(gateway, zone=ZONE, stop=stop, options=options)
                )
                readings = schedule(
                    live.district.homes,
                    live.district.seed,
                    start,
                    live.options.speed,
                    await crisis_home(pool, live.district.homes),
                )
                measuring = asyncio.create_task(measure(homes, readings, stop, live.said))
                live.started(url, live.district)
                await stop.wait()
                await measuring
                await collecting
            # The last uploads' alerts and messages: a moment for the worker to send them.
            await asyncio.sleep(2)
        return await produced_since(pool, start)


def stop_on_signals(stop: asyncio.Event, duration: float | None) -> None:
    """Ctrl-C and SIGTERM stop the demo; so does the end of `duration` seconds."""
    loop = asyncio.get_running_loop()
    for sign in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sign, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
