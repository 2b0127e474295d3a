"""Ingest benchmark: readings per second through POST /v1/readings against raw COPY, one run.

    .venv/bin/python -m bench.ingest [--readings N] [--batch 500] [--concurrency C]
                                     [--rounds 5] [--json PATH]

Both paths load the same generated readings into fresh, migrated databases on the same server
(an embedded PostgreSQL in a temporary directory, or LINLI_DATABASE_URL's), then the two
databases are compared row for row. The paths take turns for --rounds rounds (the readings
tables emptied before each), so that a slow stretch of the shared machine falls on both; the
ratio is the median of the rounds' ratios, and each rate the median of its rounds: a COPY
lasts about a second, and one second on a shared machine is noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from psycopg import sql

from bench import _main
from bench._cpu import CpuWindow, mean_busy, mean_cores
from bench._data import BenchDevice, Sample, batches, copy_row, encode_body
from bench._data import make_devices_and_samples as make_data
from bench._servers import BenchError, Databases, api_server, bench_databases
from service.admin.gateways import create_gateway
from service.ingest.queries import TABLES
from service.migrate import migrate
from service.tokens import GATEWAY_TOKEN_PREFIX, new_token, token_hash

TARGET_RATIO = 0.3
_KEY_COLUMNS = ("device_id", "user_index", "sequence_number", "measured_at")
_MAX_BATCH = 1000  # the service's default LINLI_MAX_BATCH_READINGS
_DESCRIPTION = "Readings per second through POST /v1/readings against raw COPY."


@dataclass(frozen=True)
class Figures:
    """What one run measured, and on what."""

    date: str
    readings: int
    batch: int
    concurrency: int
    devices: int
    python: str
    database_version: str
    database_mode: str
    database_server: str
    cpus: int | None
    api_seconds: list[float]
    copy_seconds: list[float]
    rows: dict[str, int] = field(default_factory=dict)
    # Average CPUs used during each path's rounds, by process (api, postgres, bench: the
    # HTTP or COPY client), and the fraction of the machine busy.
    api_cpu: dict[str, float] = field(default_factory=dict)
    copy_cpu: dict[str, float] = field(default_factory=dict)
    api_busy: float | None = None
    copy_busy: float | None = None

    @property
    def api_rate(self) -> float:
        """Readings per second through the HTTP API (median over the rounds)."""
        return self.readings / statistics.median(self.api_seconds)

    @property
    def copy_rate(self) -> float:
        """Readings per second through raw COPY (median over the rounds)."""
        return self.readings / statistics.median(self.copy_seconds)

    @property
    def ratios(self) -> list[float]:
        """Each round's API rate as a fraction of the COPY rate of the same round."""
        return [c / a for a, c in zip(self.api_seconds, self.copy_seconds, strict=True)]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios."""
        return statistics.median(self.ratios)

    def as_json(self) -> dict[str, Any]:
        """The figures, derived ones included, for --json."""
        return {
            **asdict(self),
            "api_readings_per_second": round(self.api_rate, 1),
            "copy_readings_per_second": round(self.copy_rate, 1),
            "ratio_api_to_copy": round(self.ratio, 4),
            "ratio_by_round": [round(r, 4) for r in self.ratios],
            "target_ratio": TARGET_RATIO,
            "meets_target": self.ratio >= TARGET_RATIO,
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=_DESCRIPTION)
    parser.add_argument("--readings", type=int, default=50_000, help="readings to load (50000)")
    parser.add_argument("--batch", type=int, default=500, help="readings per POST (500)")
    parser.add_argument("--concurrency", type=int, default=3, help="concurrent HTTP clients (3)")
    parser.add_argument("--devices", type=int, default=200, help="devices the readings come from")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per path; medians (5)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the generated readings")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if min(args.readings, args.devices, args.concurrency, args.rounds) < 1:
        parser.error("--readings, --devices, --concurrency and --rounds must be at least 1")
    if not 1 <= args.batch <= _MAX_BATCH:
        parser.error(f"--batch must be between 1 and {_MAX_BATCH} (the service's limit)")
    return args


async def prepare(databases: Databases) -> tuple[str, str]:
    """Migrate both databases; return the database mode and the server's version."""
    try:
        report = await migrate(databases.api)
        await migrate(databases.copy)
        async with await psycopg.AsyncConnection.connect(databases.api) as conn:
            cur = await conn.execute("SHOW server_version")
            row = await cur.fetchone()
    except psycopg.Error as exc:
        raise BenchError(f"could not migrate the scratch databases: {exc}") from exc
    return str(report.mode), str(row[0]) if row else "unknown"


def fresh_round(conninfo: str) -> None:
    """Empty the readings tables and flush dirty buffers: each round starts from the same state."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE blood_pressure_readings, glucose_readings")
        # A non-superuser on LINLI_DATABASE_URL may not: a little more noise, same figures.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")


async def gateway_tokens(conninfo: str, homes: set[int]) -> dict[int, str]:
    """Register one gateway per home through Linli's own function; return tokens by home."""
    tokens = {}
    async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
        for home in sorted(homes):
            _, tokens[home] = await create_gateway(conn, f"bench home {home}")
    return tokens


def _check_answer(response: httpx.Response, sent: int) -> None:
    """Every reading of the batch must come back accepted."""
    if response.status_code != 200:
        raise BenchError(f"POST /v1/readings: {response.status_code} {response.text[:300]}")
    answer = orjson.loads(response.content)
    results = answer["results"]
    if answer["accepted"] != sent or len(results) != sent:
        bad = next((r for r in results if r["status"] != "accepted"), None)
        raise BenchError(f"{answer['accepted']} of {sent} readings accepted; first other: {bad}")


Upload = tuple[bytes, int, str]  # body, readings in it, the home gateway's token


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def upload(url: str, bodies: list[Upload], concurrency: int) -> float:
    """POST every body with `concurrency` clients; return the wall time of the uploads alone."""
    pending: Iterator[Upload] = iter(bodies)

    async def client_loop(client: httpx.AsyncClient) -> None:
        # One event loop: next() on the shared iterator never interleaves.
        for body, sent, token in pending:
            response = await client.post("/v1/readings", content=body, headers=_headers(token))
            _check_answer(response, sent)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        # Warm-up: open the connections (HTTP and the server's pool) with empty batches.
        token = bodies[0][2]
        warm = [
            http.post("/v1/readings", content=b'{"readings": []}', headers=_headers(token))
            for _ in range(concurrency)
        ]
        for response in await asyncio.gather(*warm):
            _check_answer(response, 0)
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(http) for _ in range(concurrency)))
        return time.perf_counter() - started


def api_bodies(conninfo: str, samples: list[Sample], batch: int) -> list[Upload]:
    """The uploads: a gateway registered per home, and the bodies encoded before any clock
    starts (a gateway's JSON encoding is not the service's)."""
    tokens = asyncio.run(gateway_tokens(conninfo, {s.device.home for s in samples}))
    return [(encode_body(b), len(b), tokens[b[0].device.home]) for b in batches(samples, batch)]


def api_round(url: str, bodies: list[Upload], concurrency: int) -> float:
    """Load the readings through the HTTP API once; its seconds."""
    try:
        return asyncio.run(upload(url, bodies, concurrency))
    except httpx.HTTPError as exc:
        raise BenchError(f"the upload failed: {exc!r}") from exc


def register_devices(conn: psycopg.Connection[Any], devices: list[BenchDevice]) -> dict[str, int]:
    """Insert the homes' gateways and their devices as ingest would have; return device ids."""
    gateways = {}
    for home in sorted({d.home for d in devices}):
        row = conn.execute(
            "INSERT INTO gateways (name, token_hash) VALUES (%s, %s) RETURNING id",
            (f"bench home {home}", token_hash(new_token(GATEWAY_TOKEN_PREFIX))),
        ).fetchone()
        assert row is not None
        gateways[home] = row[0]
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO devices (serial, kind, model, manufacturer, battery_percent, gateway_id)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            [
                (d.serial, d.kind, d.model, d.manufacturer, d.battery_percent, gateways[d.home])
                for d in devices
            ],
        )
    return {serial: id_ for serial, id_ in conn.execute("SELECT serial, id FROM devices")}


def copy_rows(
    conn: psycopg.Connection[Any], devices: list[BenchDevice], samples: list[Sample]
) -> dict[str, list[tuple[Any, ...]]]:
    """Register the devices; the rows COPY loads, by kind."""
    with conn.transaction():
        ids = register_devices(conn, devices)
    rows: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in TABLES}
    for sample in samples:
        rows[sample.device.kind].append(copy_row(sample, ids[sample.device.serial]))
    return rows


def copy_once(conn: psycopg.Connection[Any], rows: dict[str, list[tuple[Any, ...]]]) -> float:
    """One COPY per table in one transaction; return its seconds."""
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        for kind, (table, columns) in TABLES.items():
            names = _KEY_COLUMNS + tuple(name for name, _ in columns)
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
            )
            with cur.copy(statement) as copy:
                for values in rows[kind]:
                    copy.write_row(values)
    return time.perf_counter() - started


def fingerprints(conninfo: str) -> dict[str, tuple[int, str]]:
    """Per readings table: its row count and an md5 over every row, device serials for ids."""
    found: dict[str, tuple[int, str]] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table, columns in TABLES.values():
            names = ("user_index", "sequence_number", "measured_at", "resident_id", "time_problem")
            values = [sql.Identifier("r", n) for n in names + tuple(n for n, _ in columns)]
            query = sql.SQL(
                """SELECT count(*), md5(coalesce(string_agg(ROW(d.serial, {values})::text, ','
                          ORDER BY d.serial, r.user_index, r.sequence_number, r.measured_at), ''))
                   FROM {table} r JOIN devices d ON d.id = r.device_id"""
            ).format(values=sql.SQL(", ").join(values), table=sql.Identifier(table))
            row = conn.execute(query).fetchone()
            assert row is not None
            found[table] = (int(row[0]), str(row[1]))
    return found


def verify(databases: Databases, readings: int) -> dict[str, int]:
    """Both databases must hold the same readings, all of them; return rows per table."""
    api, copy = fingerprints(databases.api), fingerprints(databases.copy)
    counts = {table: count for table, (count, _) in api.items()}
    if {t: c for t, (c, _) in copy.items()} != counts or sum(counts.values()) != readings:
        raise BenchError(f"row counts differ: API {api}, COPY {copy}, expected {readings} in all")
    if api != copy:
        raise BenchError(f"same counts but different contents: API {api}, COPY {copy}")
    return counts


def _seconds(rounds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in rounds) + " s"


def render_table(f: Figures) -> str:
    """The figures as a small text table."""
    verdict = "met" if f.ratio >= TARGET_RATIO else "NOT met"
    lines = [
        f"Linli ingest benchmark, {f.date}",
        f"PostgreSQL {f.database_version} ({f.database_mode}, {f.database_server}),"
        f" Python {f.python}, {f.cpus} CPUs",
        f"batches of {f.batch}, {f.concurrency} HTTP clients, {f.devices} devices; rows: "
        + ", ".join(f"{table} {count:,}" for table, count in f.rows.items()),
        "",
        f"{'readings':<22}{f.readings:>12,}",
        f"{'API  readings/s':<22}{f.api_rate:>12,.0f}   (median of {_seconds(f.api_seconds)})",
        f"{'COPY readings/s':<22}{f.copy_rate:>12,.0f}   (median of {_seconds(f.copy_seconds)})",
        f"{'ratio API/COPY':<22}{f.ratio:>12.3f}   (median of the rounds' "
        + ", ".join(f"{r:.3f}" for r in f.ratios)
        + ")",
        f"{'target':<22}{'>= ' + format(TARGET_RATIO, '.2f'):>12}   {verdict}",
    ]
    for path, cores, busy in (("API", f.api_cpu, f.api_busy), ("COPY", f.copy_cpu, f.copy_busy)):
        if cores:
            used = ", ".join(f"{role} {n:.2f}" for role, n in cores.items() if n >= 0.01)
            lines.append(f"{'CPUs used, ' + path:<22}{used}; machine {busy or 0:.0%} busy")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> Figures:
    """Set everything up, measure both paths, verify, tear everything down."""
    devices, samples = make_data(args.readings, args.devices, args.seed)
    with bench_databases(os.environ.get("LINLI_DATABASE_URL")) as databases:
        mode, version = asyncio.run(prepare(databases))
        bodies = api_bodies(databases.api, samples, args.batch)
        api_seconds, copy_seconds = [], []
        api_cpu, copy_cpu = [], []
        with (
            api_server(databases.api) as url,
            psycopg.connect(databases.copy, autocommit=True) as copy,
        ):
            rows_to_copy = copy_rows(copy, devices, samples)
            # The paths take turns, a round each: a slow stretch of the shared machine falls
            # on both, and each round's pair gives a ratio.
            for _ in range(args.rounds):
                fresh_round(databases.api)
                with CpuWindow() as cpu:
                    api_seconds.append(api_round(url, bodies, args.concurrency))
                api_cpu.append(cpu)
                fresh_round(databases.copy)
                with CpuWindow() as cpu:
                    copy_seconds.append(copy_once(copy, rows_to_copy))
                copy_cpu.append(cpu)
        rows = verify(databases, args.readings)
        return Figures(
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            readings=args.readings,
            batch=args.batch,
            concurrency=args.concurrency,
            devices=len({s.device.serial for s in samples}),
            python=platform.python_version(),
            database_version=version,
            database_mode=mode,
            database_server=databases.server,
            cpus=os.cpu_count(),
            api_seconds=api_seconds,
            copy_seconds=copy_seconds,
            rows=rows,
            api_cpu=mean_cores(api_cpu),
            copy_cpu=mean_cores(copy_cpu),
            api_busy=mean_busy(api_cpu),
            copy_busy=mean_busy(copy_cpu),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table; exit 1 with one line on failure, 130 on Ctrl-C."""
    args = parse_args(argv)

    def work() -> dict[str, Any]:
        figures = run(args)
        print(render_table(figures))
        return figures.as_json()

    return _main.run_main("bench.ingest", work, args.json)


if __name__ == "__main__":
    sys.exit(main())
