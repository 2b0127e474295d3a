"""Dashboard benchmark: server time of the doctor's panel and of a resident's page, one run.

    .venv/bin/python -m bench.dashboard [--residents 5000] [--days 365] [--requests 100]
                                        [--long-requests 30] [--repeat 15] [--timeout 10]
                                        [--seed 2026] [--explain] [--json PATH]

A fresh, migrated scratch database (an embedded PostgreSQL in a temporary directory, or on
LINLI_DATABASE_URL's server) gets two communities of residents with a BP monitor and a glucose
meter each, `--days` days of readings, open alerts and findings (bench/_dashboard_data.py).
Every resident's summary is then computed, as the worker's round after midnight does, and
timed. The API runs as its own uvicorn process (no worker); one signed-in doctor GETs /panel
with varied filters, sorts and pages, /residents/{id} for random residents, /today, /community,
plain /panel again and again, and last /panel with every summary thrown away (a day with no
worker), one request at a time. Targets: panel p95 <= 300 ms, resident page (7 days) p95
<= 150 ms, community page p95 <= 500 ms (the city-scale target). Times are the client's wall
time over loopback, request sent to body read: the service sends no Server-Timing header.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from rich.console import Console
from rich.table import Table

from bench import _main
from bench._dashboard_data import DOCTOR, PASSWORD, Loaded, load
from bench._servers import BenchError, api_server, bench_databases, migrated_scratch
from service.readings import summaries

REPEATED = "panel, one view again and again"
STALE = "panel, every summary stale"
# Panel and resident page: this benchmark's issue; community: the city-scale suite's target.
TARGETS_MS = {"panel": 300.0, "resident, 7 days": 150.0, REPEATED: 300.0, "community": 500.0}
_SORTS = ("name", "alerts", "systolic", "adherence", "last_reading")
_WARM_UP = 3
_DESCRIPTION = "Server time of the doctor's panel and of a resident's page, 5,000 residents."

Params = dict[str, str | int]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=_DESCRIPTION)
    add = parser.add_argument
    add("--residents", type=int, default=5000, help="residents in the two communities (5000)")
    add("--days", type=int, default=365, help="days of readings, ending now (365)")
    add("--requests", type=int, default=100, help="panel and 7-day resident requests (100)")
    add("--long-requests", type=int, default=30, help="30- and 365-day resident requests (30)")
    add("--repeat", type=int, default=15, help="GETs of the unfiltered /panel in a row (15)")
    add("--timeout", type=float, default=10, help="seconds a request may take at most (10)")
    add("--seed", type=int, default=2026, help="seed of the data and the requests (2026)")
    add("--explain", action="store_true", help="print EXPLAIN ANALYZE of the panel's query")
    add("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if min(args.residents, args.days, args.requests, args.timeout) <= 0:
        parser.error("--residents, --days, --requests and --timeout must be positive")
    if min(args.long_requests, args.repeat) < 0:
        parser.error("--long-requests and --repeat must not be negative")
    return args


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timings:
    """One kind of page: each answered request's milliseconds, the server's own where it said,
    and the requests that got no answer within the timeout (they end their series)."""

    path: str
    client_ms: list[float]
    server_ms: list[float] = field(default_factory=list)
    timeouts: int = 0

    def quantiles(self) -> dict[str, float | None]:
        """p50, p95 and max of the client times (linear between neighbours); None where it
        falls among the timeouts."""
        ordered = sorted(self.client_ms) + [math.inf] * self.timeouts
        found: dict[str, float | None] = {}
        for name, q in {"p50": 0.5, "p95": 0.95, "max": 1.0}.items():
            position = (len(ordered) - 1) * q
            low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
            value = low + (high - low) * (position - math.floor(position)) if high > low else low
            found[name] = None if math.isinf(value) else round(value, 1)
        return found


@dataclass(frozen=True)
class Figures:
    """What one run measured, and on what."""

    date: str
    residents: int
    days: int
    seed: int
    rows: dict[str, int]
    copy_seconds: float
    load_seconds: float
    summaries_seconds: float
    database_bytes: int
    python: str
    database_version: str
    database_server: str
    cpus: int | None
    timeout_seconds: float
    timings: dict[str, Timings]

    def verdicts(self) -> dict[str, bool]:
        """Page kind -> p95 within its target (a timeout never is)."""
        found = {}
        for kind, target in TARGETS_MS.items():
            if kind in self.timings:
                p95 = self.timings[kind].quantiles()["p95"]
                found[kind] = p95 is not None and p95 <= target
        return found

    def as_json(self) -> dict[str, Any]:
        """The figures with the quantiles and the targets, for --json."""
        quantiles = {kind: t.quantiles() for kind, t in self.timings.items()}
        return {**asdict(self), "quantiles_ms": quantiles, "targets_p95_ms": TARGETS_MS}


def render_table(f: Figures) -> Table:
    """The figures as a table."""
    table = Table(title=f"Linli dashboard pages, {f.date}", title_justify="left")
    columns = ("page", "answered", "timeouts", "p50 ms", "p95 ms", "max ms", "target p95")
    for name in columns:
        table.add_column(name, justify="left" if name == "page" else "right")
    verdicts = f.verdicts()
    late = f"> {f.timeout_seconds * 1000:,.0f}"
    for kind, t in f.timings.items():
        shown = [late if v is None else f"{v:,.0f}" for v in t.quantiles().values()]
        target = "–"
        if kind in verdicts:
            verdict = "PASS" if verdicts[kind] else "MISS"
            target = f"<= {TARGETS_MS[kind]:.0f} [bold]{verdict}[/bold]"
        table.add_row(t.path, str(len(t.client_ms)), str(t.timeouts), *shown, target)
    return table


def print_figures(console: Console, f: Figures) -> None:
    """The setting, the table, and what the times are."""
    rows = ", ".join(f"{table} {n:,}" for table, n in f.rows.items())
    readings = f.rows["blood_pressure_readings"] + f.rows["glucose_readings"]
    console.print(
        f"PostgreSQL {f.database_version} ({f.database_server}), Python {f.python}, {f.cpus}"
        f" CPUs; {f.residents:,} residents x {f.days} days; rows: {rows}\nreadings COPYed and"
        f" indexed in {f.copy_seconds:.1f} s"
        f" ({readings / max(f.copy_seconds, 1e-3):,.0f} rows/s); all data written and"
        f" analysed in {f.load_seconds:.1f} s; database"
        f" {f.database_bytes / 2**20:,.0f} MiB; every resident's summary computed (the"
        f" worker's round after midnight) in {f.summaries_seconds:.1f} s"
    )
    console.print(render_table(f))
    server = [t for t in f.timings.values() if t.server_ms]
    console.print(
        "Times: client wall time over loopback, request sent to body read, one at a time."
        + ("" if server else " The service sends no Server-Timing or X-Process-Time header.")
    )


# -- the requests ----------------------------------------------------------------------------


def panel_plan(loaded: Loaded, n: int, rng: np.random.Generator) -> list[Params]:
    """`n` panel queries: every sort, with and without community, condition, status filters."""
    a, b = loaded.community_ids[:2]  # the doctor's
    filters: list[Params] = [
        {},
        {"community": a},
        {"community": b},
        {"condition": "diabetes"},
        {"condition": "hypertension", "community": b},
        {"status": "uncontrolled"},
        {"status": "alerts"},
        {"status": "not_measuring"},
    ]
    pages = max(1, math.ceil(int(loaded.population.doctors.sum()) / 50))
    plan = []
    for i in range(n):
        chosen = filters[i % len(filters)]
        most = 2 if "status" in chosen else max(1, pages // (2 if chosen else 1))
        page = 1 if rng.random() < 0.4 else int(rng.integers(1, most + 1))
        plan.append({**chosen, "sort": _SORTS[int(rng.integers(len(_SORTS)))], "page": page})
    return plan


def _server_ms(response: httpx.Response) -> float | None:
    """The server's own time, if it said: Server-Timing `dur` (ms) or X-Process-Time (s)."""
    if timing := response.headers.get("server-timing"):
        durations = [
            float(part.split("=", 1)[1])
            for part in timing.replace(",", ";").split(";")
            if part.strip().startswith("dur=")
        ]
        return max(durations) if durations else None
    process = response.headers.get("x-process-time")
    return float(process) * 1000 if process else None


def measure(
    client: httpx.Client, path: str, queries: Sequence[Params], shown: str | None = None
) -> Timings:
    """GET `path` with each query in turn; every answer must be the page itself. A request
    without an answer within the client's timeout ends the series (its connection is stuck)."""
    client_ms: list[float] = []
    server_ms: list[float] = []
    for params in queries:
        url = path.format(**params)
        started = time.perf_counter()
        try:
            response = client.get(url, params={k: v for k, v in params.items() if k != "id"})
        except httpx.TimeoutException:
            return Timings(shown or path, client_ms, server_ms, timeouts=1)
        client_ms.append(round((time.perf_counter() - started) * 1000, 2))
        if response.status_code != 200:
            raise BenchError(f"GET {response.url}: {response.status_code} {response.text[:200]}")
        if (server := _server_ms(response)) is not None:
            server_ms.append(round(server, 2))
    return Timings(shown or path, client_ms, server_ms)


def sign_in(client: httpx.Client) -> None:
    """Sign in as the doctor the way a browser does: the login form's CSRF cookie, then POST."""
    client.get("/login")
    form = {"username": DOCTOR, "password": PASSWORD, "csrf": client.cookies["linli_login_csrf"]}
    response = client.post("/login", data=form)
    if response.status_code != 303 or "linli_session" not in client.cookies:
        raise BenchError(f"signing in failed: {response.status_code} {response.headers}")


def measure_pages(
    url: str, conninfo: str, args: argparse.Namespace, loaded: Loaded
) -> dict[str, Timings]:
    """Warm up, then the panel, the resident's page for 7, 30 and 365 days, Today, the
    community page, the same panel view again, and a panel with its summaries to compute."""
    rng = np.random.default_rng(args.seed + 2)
    panels = panel_plan(loaded, args.requests, rng)
    resident = "/residents/{id}"

    served = loaded.population.ids[loaded.population.doctors]

    def residents(n: int, days: int) -> list[Params]:
        return [{"id": int(i), "days": days} for i in rng.choice(served, n)]

    with httpx.Client(base_url=url, timeout=args.timeout) as client:
        sign_in(client)
        measure(client, "/panel", panels[:_WARM_UP])
        measure(client, resident, residents(_WARM_UP, 7) + residents(_WARM_UP, 365))
        found = {
            "panel": measure(client, "/panel", panels, "/panel, varied queries"),
        }
        for days, n in ((7, args.requests), (30, args.long_requests), (365, args.long_requests)):
            if n:
                shown = f"{resident}?days={days}"
                found[f"resident, {days} days"] = measure(
                    client, resident, residents(n, days), shown
                )
        a, b = loaded.community_ids[:2]
        views: list[Params] = [{}, {"community": a}, {"community": b}]
        found["today"] = measure(client, "/today", [{}] * max(3, args.long_requests // 3))
        found["community"] = measure(
            client, "/community", views * max(1, args.long_requests // 3), "/community, varied"
        )
        # The doctor's own first page (sort by alerts, no filter) reloaded, as it is all day
        # long; the same statement again and again on the same pooled connection.
        if args.repeat:
            found[REPEATED] = measure(
                client, "/panel", [{}] * args.repeat, "/panel, one view again"
            )
        # Last: the first view of a day with no worker running, every summary to compute.
        stale = Timings("/panel, every summary stale", [])
        for _ in range(3):
            forget_summaries(conninfo)
            one = measure(client, "/panel", [{}])
            stale.client_ms.extend(one.client_ms)
        found[STALE] = stale
        return found


# -- the run ---------------------------------------------------------------------------------


def end_leftover_queries(conninfo: str) -> None:
    """End what the stopped API left running (a query past a request's timeout goes on)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND backend_type = 'client backend' AND usename = current_user"""
        )


def forget_summaries(conninfo: str) -> None:
    """Throw the resident summaries away, as if no worker had run today."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("DELETE FROM resident_summaries")


def refresh_summaries(conninfo: str) -> float:
    """Every resident's summary, as the worker's round after midnight makes them, and their
    months of readings; seconds."""

    async def main() -> None:
        async with AsyncConnectionPool(conninfo, min_size=1, max_size=1) as pool:
            await summaries.refresh_everyone(pool, datetime.now(UTC), limit=10**9)
            # The bulk load bypassed the checks that keep each resident's months.
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT id FROM residents ORDER BY id")
                residents = [int(row[0]) for row in await cur.fetchall()]
                for start in range(0, len(residents), 500):
                    await summaries.rebuild_months(conn, residents[start : start + 500])
                    await conn.commit()

    started = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - started


def database_bytes(conninfo: str) -> int:
    """The scratch database's size on disk."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


def explain_panel(console: Console, conninfo: str) -> None:
    """EXPLAIN ANALYZE of the panel's query as the doctor's first page (sort by alerts) runs it."""
    from service.access import VISIBLE_RESIDENT
    from service.web.panel import _ORDER, _PANEL, _STATUS  # the very query, private as it is
    from service.web.targets import bp_controlled, target_parameters

    statement = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) " + _PANEL).format(
        visible=VISIBLE_RESIDENT,
        controlled=bp_controlled("s.systolic_30d", "s.diastolic_30d"),
        status=sql.SQL(_STATUS[None]),
        order=sql.SQL(_ORDER["alerts"]),
    )
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT id FROM users WHERE username = %s", (DOCTOR,)).fetchone()
        assert row is not None
        params = {"viewer_role": "doctor", "viewer_id": row[0], "community": None, "grid": None}
        params |= {"condition": None, "now": datetime.now(UTC), "limit": 50, "offset": 0}
        params |= target_parameters()
        plan = "\n".join(r[0] for r in conn.execute(statement, params))
    console.print("EXPLAIN (ANALYZE, BUFFERS) of the panel's query, page 1, sort=alerts:")
    print(plan)


def run(args: argparse.Namespace, console: Console) -> Figures:
    """Set everything up, measure, tear everything down."""
    with bench_databases(os.environ.get("LINLI_DATABASE_URL")) as databases:
        version = asyncio.run(migrated_scratch(databases.api))
        console.print(f"loading {args.residents:,} residents x {args.days} days of readings ...")
        loaded = load(databases.api, args.residents, args.days, args.seed)
        summaries_seconds = refresh_summaries(databases.api)
        with api_server(databases.api, {"LINLI_RUN_WORKER": "false"}) as url:
            timings = measure_pages(url, databases.api, args, loaded)
        end_leftover_queries(databases.api)
        if args.explain:
            explain_panel(console, databases.api)
        return Figures(
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            residents=args.residents,
            days=args.days,
            seed=args.seed,
            rows=loaded.rows,
            copy_seconds=round(loaded.readings_seconds, 1),
            load_seconds=round(loaded.seconds, 1),
            summaries_seconds=round(summaries_seconds, 1),
            database_bytes=database_bytes(databases.api),
            python=platform.python_version(),
            database_version=version,
            database_server=databases.server,
            cpus=os.cpu_count(),
            timeout_seconds=args.timeout,
            timings=timings,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table; exit 1 with one line on failure, 130 on Ctrl-C."""
    args = parse_args(argv)
    console = _main.console(120)

    def work() -> dict[str, Any]:
        figures = run(args, console)
        print_figures(console, figures)
        return figures.as_json()

    return _main.run_main("bench.dashboard", work, args.json)


if __name__ == "__main__":
    sys.exit(main())
