"""The benchmarks as one suite, at one scale, ending with one summary table.

    .venv/bin/python -m bench [--scale small|medium|city] [--only PART,...] [--json PATH]

Each part runs its benchmark in this process with the arguments its scale gives (through the
benchmark's own parse_args, so defaults stay there), prints the benchmark's own tables, and
adds rows to the summary. Only the gateway runs as a child process, so that its peak RSS is
its own and not the suite's. The parts on a database use an embedded PostgreSQL in a
temporary directory each, or LINLI_DATABASE_URL's server when it is set.

Scales:
  small   about a minute in all on 2 cores: a smoke run (CI), not figures to compare
  medium  a few minutes (5-10 on 2 cores): each benchmark's own defaults (the default)
  city    the issue's full size: dashboards 100,000 residents x 365 days (about 16 GB of
          database) and detection 100,000 residents x 90 days; hours, run by hand

Parts: ingest (API against COPY), latency (reading to SMS under load), dashboards (panel,
resident and community pages), detection (`linli analyze` on a labelled cohort), checks (the
worker's daily checks of every resident), gateway
(one meter's download), memory (peak RSS of the API, worker and gateway processes the other
parts start; it needs at least one of them).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from rich.console import Console
from rich.table import Table

from bench import _main, alert_latency, dashboard, detection, ingest, scheduled_checks
from bench import _suite_rows as rows
from bench._memory import PeakSampler
from bench._servers import PROJECT_ROOT, BenchError
from bench._suite_rows import Row
from service.embedded import embedded_server
from service.errors import DatabaseUnavailable

PARTS = ("ingest", "latency", "dashboards", "detection", "checks", "gateway", "memory")
MODULES = {
    "ingest": "bench.ingest",
    "latency": "bench.alert_latency",
    "dashboards": "bench.dashboard",
    "detection": "bench.detection",
    "checks": "bench.scheduled_checks",
    "gateway": "bench.gateway",
}
# The processes memory measures are started by these parts.
MEMORY_SOURCES = ("ingest", "latency", "dashboards", "detection", "gateway")
ON_DATABASE = ("ingest", "latency", "dashboards", "checks")
# Arguments per scale and part, as on each benchmark's command line; empty: its defaults.
SCALES: dict[str, dict[str, str]] = {
    "small": {
        "ingest": "--readings 2000 --rounds 1",
        "latency": "--residents 20 --load-homes 10 --load-rate 50",
        "dashboards": "--residents 200 --days 30 --requests 10 --long-requests 3 --repeat 3",
        "detection": "--residents 200 --days 30",
        "checks": "--residents 500 --days 20 --sample 50",
        "gateway": "--records 200",
    },
    # Each benchmark's own defaults, but the scheduled checks of a tenth of a city.
    "medium": dict.fromkeys(MODULES, "") | {"checks": "--residents 10000"},
    "city": {
        # About a day of a 100,000-resident city's readings, 200 from each home.
        "ingest": "--readings 200000 --devices 2000 --rounds 3",
        "latency": "--load-homes 200 --load-rate 1000",
        "dashboards": "--residents 100000 --days 365",
        "detection": "--residents 100000 --days 90",
        "checks": "--residents 100000",
        "gateway": "",  # one home's meter: a city changes nothing there
    },
}
_FAILURES = (
    BenchError,
    detection.DetectionBenchError,
    psycopg.Error,
    httpx.HTTPError,
    OSError,
    ValueError,
    subprocess.SubprocessError,
)

Figures = dict[str, Any]
Runner = Callable[[list[str], Console], tuple[Figures, list[Row]]]


@dataclass
class PartResult:
    """One part's run: its arguments, seconds, the benchmark's own figures, its summary rows."""

    part: str
    argv: list[str]
    seconds: float = 0.0
    figures: Figures | None = None
    rows: list[Row] = field(default_factory=list)
    error: str | None = None


# -- the parts -------------------------------------------------------------------------------


def run_ingest(argv: list[str], console: Console) -> tuple[Figures, list[Row]]:
    """bench.ingest: the HTTP API against raw COPY."""
    figures = ingest.run(ingest.parse_args(argv))
    console.print(ingest.render_table(figures), highlight=False)
    return figures.as_json(), rows.ingest_rows(figures)


def run_latency(argv: list[str], console: Console) -> tuple[Figures, list[Row]]:
    """bench.alert_latency: from a crisis reading to its SMS, under load."""
    figures = alert_latency.run(alert_latency.parse_args(argv))
    alert_latency.print_figures(console, figures)
    document = {**asdict(figures), "target_p99_ms": alert_latency.TARGET_P99_MS}
    return document, rows.latency_rows(figures)


def run_dashboards(argv: list[str], console: Console) -> tuple[Figures, list[Row]]:
    """bench.dashboard: the panel, resident, today and community pages."""
    figures = dashboard.run(dashboard.parse_args(argv), console)
    dashboard.print_figures(console, figures)
    return figures.as_json(), rows.dashboard_rows(figures)


def run_detection(argv: list[str], console: Console) -> tuple[Figures, list[Row]]:
    """bench.detection: a labelled cohort through `linli analyze`."""
    figures = detection.run(detection.parse_args(argv), console)
    return figures, rows.detection_rows(figures)


def run_checks(argv: list[str], console: Console) -> tuple[Figures, list[Row]]:
    """bench.scheduled_checks: the daily checks of every resident, as the worker runs them."""
    figures = scheduled_checks.run(scheduled_checks.parse_args(argv), console)
    return figures, [rows.scheduled_checks_row(figures)]


def run_gateway(argv: list[str], console: Console) -> tuple[Figures, list[Row]]:
    """bench.gateway in a child process of its own, so that its peak RSS is the gateway's."""
    with tempfile.TemporaryDirectory(prefix="linli-suite-gw-") as scratch:
        out = Path(scratch) / "gateway.json"
        command = [sys.executable, "-m", MODULES["gateway"], *argv, "--json", str(out)]
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        console.print(done.stdout.rstrip(), highlight=False)
        if done.returncode != 0:
            last = (done.stderr.strip() or "no output").splitlines()[-1]
            raise BenchError(f"bench.gateway exited with {done.returncode}: {last}")
        figures: Figures = orjson.loads(out.read_bytes())
    return figures, rows.gateway_rows(figures)


RUNNERS: dict[str, Runner] = {
    "ingest": run_ingest,
    "latency": run_latency,
    "dashboards": run_dashboards,
    "detection": run_detection,
    "checks": run_checks,
    "gateway": run_gateway,
}


def run_part(part: str, argv: list[str], console: Console) -> PartResult:
    """Run one part; a failure ends the part, not the suite."""
    command = " ".join(["python -m", MODULES[part], *argv])
    console.rule(f"[bold]{part}[/bold]: {command}")
    result = PartResult(part, argv)
    started = time.monotonic()
    try:
        result.figures, result.rows = RUNNERS[part](argv, console)
    except _FAILURES as exc:
        result.error = " ".join(str(exc).split()) or repr(exc)
        result.rows = [rows.failed_row(part, result.error)]
        console.print(f"{part} failed: {result.error}", highlight=False)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def memory_part(sampler: PeakSampler, gateway: Figures | None) -> PartResult:
    """The peaks the sampler saw while the other parts ran."""
    peaks = sampler.peaks()
    figures = {
        "method": "each process's VmHWM (/proc/PID/status), read every 50 ms; the gateway's"
        " as bench.gateway reports its own",
        "processes": [p.as_json() for p in peaks],
        "gateway_peak_rss_mb": None if gateway is None else gateway.get("peak_rss_mb"),
    }
    return PartResult("memory", [], figures=figures, rows=rows.memory_rows(peaks, gateway))


# -- the machine -----------------------------------------------------------------------------


def database_info(external: str | None) -> dict[str, str]:
    """The server the parts use: its version, and the mode migrate picks on it (TimescaleDB
    when the server offers the extension, else plain PostgreSQL)."""
    with ExitStack() as stack:
        if external:
            conninfo, server = external, "LINLI_DATABASE_URL"
        else:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="linli-suite-"))
            try:
                conninfo = stack.enter_context(embedded_server(Path(data_dir), "postgres"))
            except DatabaseUnavailable as exc:
                raise BenchError(exc.message) from exc
            server = "embedded"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            timescale = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
    return {
        "version": str(version[0]) if version else "unknown",
        "mode": "timescaledb" if timescale else "postgresql",
        "server": server,
    }


def memory_total_mb() -> float | None:
    """The machine's memory, from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass  # not Linux
    return None


def machine(database: dict[str, str] | None) -> dict[str, Any]:
    """What the suite ran on."""
    return {
        "cpus": os.cpu_count(),
        "memory_mb": memory_total_mb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": database,
    }


# -- output ----------------------------------------------------------------------------------


def summary_table(results: Sequence[PartResult], title: str) -> Table:
    """One table: part, figure, value, target, verdict."""
    table = Table(title=title, title_justify="left")
    for name in ("part", "figure", "value", "target", "verdict"):
        table.add_column(name, justify="right" if name in ("value", "target") else "left")
    for result in results:
        for row in result.rows:
            table.add_row(row.part, row.figure, row.shown, row.target, row.verdict)
    table.caption = "seconds per part: " + ", ".join(
        f"{r.part} {r.seconds:.0f}" for r in results if r.part != "memory"
    )
    return table


def document(
    scale: str, info: dict[str, Any], results: Sequence[PartResult], date: str, seconds: float
) -> dict[str, Any]:
    """Everything for --json: the machine, the scale, every part's figures, the summary."""
    return {
        "date": date,
        "scale": scale,
        "seconds": seconds,
        "machine": info,
        "parts": {
            r.part: {"arguments": r.argv, "seconds": r.seconds, "error": r.error}
            | {"figures": r.figures}
            for r in results
        },
        "summary": [asdict(row) for r in results for row in r.rows],
    }


# -- the command line ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--scale", choices=tuple(SCALES), default="medium", help="how big a run (medium)")
    add("--only", metavar="PARTS", help="comma-separated, of: " + ",".join(PARTS) + " (all)")
    add("--json", type=Path, metavar="PATH", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    chosen = PARTS if args.only is None else [p.strip() for p in args.only.split(",") if p]
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown or not chosen:
        parser.error(f"--only takes some of {','.join(PARTS)}; not {','.join(unknown)}")
    if "memory" in chosen and not set(chosen) & set(MEMORY_SOURCES):
        parser.error("memory measures the processes other parts start: add latency, dashboards,"
                     " ingest, detection or gateway to --only")  # fmt: skip
    args.parts = [p for p in PARTS if p in chosen]
    return args


def run_suite(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Run the chosen parts; return the JSON document (a part that failed has its error)."""
    started = time.monotonic()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    uses_database = set(args.parts) & set(ON_DATABASE)
    database = database_info(os.environ.get("LINLI_DATABASE_URL")) if uses_database else None
    info = machine(database)
    setting = f"{info['cpus']} CPUs, Python {info['python']}"
    if database:
        setting += f", PostgreSQL {database['version']} ({database['mode']}, {database['server']})"
    console.print(f"Linli benchmark suite, scale {args.scale}: {', '.join(args.parts)}; {setting}")
    results = []
    sampler = PeakSampler()
    with ExitStack() as stack:
        if "memory" in args.parts:
            stack.enter_context(sampler)
        for part in args.parts:
            if part != "memory":
                sampler.part = part
                results.append(run_part(part, SCALES[args.scale][part].split(), console))
    if "memory" in args.parts:
        gateway = next((r.figures for r in results if r.part == "gateway"), None)
        results.append(memory_part(sampler, gateway))
    seconds = round(time.monotonic() - started, 1)
    title = f"Linli benchmark suite, scale {args.scale}, {date}: {seconds:.0f} s in all"
    console.rule()
    console.print(summary_table(results, title))
    return document(args.scale, info, results, date, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; exit 1 when a part failed (the others still run), 130 on Ctrl-C."""
    args = parse_args(argv)
    return _main.run_main(
        "bench",
        lambda: run_suite(args, _main.console()),
        args.json,
        succeeded=lambda found: all(p["error"] is None for p in found["parts"].values()),
    )
