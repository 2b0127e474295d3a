"""Alert latency benchmark: from a crisis reading's upload to the SMS reaching Twilio, one run.

    .venv/bin/python -m bench.alert_latency [--residents 120] [--workers 1] [--load-homes 50]
                                            [--load-rate 200] [--pause 0.2] [--json PATH]

`linli serve` and `--workers` `linli worker` processes run on a fresh, migrated scratch database
(an embedded PostgreSQL in a temporary directory, or on LINLI_DATABASE_URL's server), sending
through a fake Twilio in this process. While background homes upload ordinary readings at
`--load-rate` readings/s, each measured resident in turn uploads one crisis reading (205-215/
125 mmHg); the latency is from the POST /v1/readings answer to the fake receiving the POST of
the SMS to that resident's family contact. Target: p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import _main
from bench._alert_homes import Pace, create_homes, measure_under_load
from bench._servers import (
    PROJECT_ROOT,
    BenchError,
    _free_port,
    _stop,
    _wait_until_ready,
    bench_databases,
    migrated_scratch,
)
from tests.fake_twilio import FakeTwilio

TARGET_P99_MS = 1000.0
SENDER = "+15005550006"
_READY_SECONDS = 60.0
_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")
_DESCRIPTION = "Seconds from a crisis reading's upload to its SMS at (a fake) Twilio, under load."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=_DESCRIPTION)
    add = parser.add_argument
    add("--residents", type=int, default=120, help="measured residents, one alert each (120)")
    add("--workers", type=int, default=1, help="`linli worker` processes (1)")
    add("--load-homes", type=int, default=50, help="homes uploading the background load (50)")
    add("--load-rate", type=float, default=200, help="background readings per second (200)")
    add("--pause", type=float, default=0.2, help="mean seconds between measurements (0.2)")
    add("--wait", type=float, default=10, help="seconds to wait for an SMS at most (10)")
    add("--seed", type=int, default=2026, help="seed of readings and pauses (2026)")
    add("--logs", type=Path, help="keep the processes' logs in this directory")
    add("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if min(args.residents, args.workers, args.load_homes) < 1:
        parser.error("--residents, --workers and --load-homes must be at least 1")
    if args.load_rate <= 0 or args.wait <= 0 or args.pause < 0:
        parser.error("--load-rate and --wait must be positive, --pause not negative")
    return args


# -- the processes ---------------------------------------------------------------------------


def child_env(conninfo: str, fake: FakeTwilio, port: int) -> dict[str, str]:
    """This environment without the caller's LINLI_ settings, plus the service's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        LINLI_DATABASE_URL=conninfo,
        LINLI_PORT=str(port),
        LINLI_RUN_WORKER="false",
        LINLI_MIGRATE_ON_START="false",
        LINLI_TWILIO_ACCOUNT_SID=fake.account_sid,
        LINLI_TWILIO_AUTH_TOKEN=fake.auth_token,
        LINLI_TWILIO_FROM=SENDER,
        LINLI_TWILIO_BASE_URL=fake.url,
        LINLI_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    return env


@contextmanager
def linli_process(
    command: str, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`linli COMMAND` in its own session (Ctrl-C reaches only the bench), output to `log`."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", command],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        _stop(process)


def last_line(log: Path) -> str:
    """The last non-empty line of a log, to say why a process failed."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def wait_for_line(log: Path, process: subprocess.Popen[bytes], text: str) -> None:
    """Wait until `text` shows in the process's log; fail if it exits or time runs out."""
    deadline = time.monotonic() + _READY_SECONDS
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise BenchError(f"{log.stem} exited with code {process.returncode}: {last_line(log)}")
        if time.monotonic() > deadline:
            raise BenchError(f"{log.stem} did not say {text!r} within {_READY_SECONDS:.0f} s")
        time.sleep(0.1)


@contextmanager
def running_service(conninfo: str, fake: FakeTwilio, workers: int, logs: Path) -> Iterator[str]:
    """`linli serve` and `workers` `linli worker` processes, ready; yield the API's URL."""
    port = _free_port()
    env = child_env(conninfo, fake, port)
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        serve = stack.enter_context(linli_process("serve", env, logs / "serve.log"))
        try:
            _wait_until_ready(url, serve)
        except BenchError as exc:
            raise BenchError(f"{exc}: {last_line(logs / 'serve.log')}") from exc
        started = {
            log: stack.enter_context(linli_process("worker", env, log))
            for log in (logs / f"worker-{n}.log" for n in range(1, workers + 1))
        }
        for log, worker in started.items():
            wait_for_line(log, worker, "worker ready")
        yield url


def log_problems(logs: Path) -> list[str]:
    """Warning and error lines of the processes' logs, each with its log's name."""
    return [
        f"{log.stem}: {line.strip()}"
        for log in sorted(logs.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if _PROBLEM.search(line)
    ]


# -- figures ---------------------------------------------------------------------------------


def percentile(latencies: Sequence[float | None], q: float) -> float | None:
    """The q-quantile (linear between neighbours); None when it falls among the timeouts."""
    ordered = sorted(math.inf if v is None else v for v in latencies)
    position = (len(ordered) - 1) * q
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    fraction = position - math.floor(position)
    value = low if fraction == 0 or low == high else low + (high - low) * fraction
    return None if math.isinf(value) else round(value, 1)


@dataclass(frozen=True)
class Figures:
    """What one run measured, and on what; latencies in ms, None for a timeout."""

    date: str
    residents: int
    workers: int
    load_homes: int
    load_rate_target: float
    load_rate_achieved: float
    load_readings: int
    wait_seconds: float
    python: str
    database_version: str
    database_server: str
    cpus: int | None
    seconds: float
    latencies_ms: list[float | None]
    log_problems: list[str]
    timeouts: int = field(init=False)
    quantiles_ms: dict[str, float | None] = field(init=False)  # p50, p90, p99, max
    meets_target: bool = field(init=False)

    def __post_init__(self) -> None:
        qs = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "max": 1.0}
        quantiles = {name: percentile(self.latencies_ms, q) for name, q in qs.items()}
        p99 = quantiles["p99"]
        object.__setattr__(self, "timeouts", self.latencies_ms.count(None))
        object.__setattr__(self, "quantiles_ms", quantiles)
        object.__setattr__(self, "meets_target", p99 is not None and p99 <= TARGET_P99_MS)


def render_table(f: Figures) -> Table:
    """The figures as a table."""
    table = Table(title=f"Linli alert latency, {f.date}", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("alerts measured", f"{len(f.latencies_ms) - f.timeouts} of {f.residents}")
    for name, value in f.quantiles_ms.items():
        shown = f"> {f.wait_seconds * 1000:,.0f}" if value is None else f"{value:,.0f}"
        table.add_row(f"{name} (ms)", shown)
    table.add_row(f"timeouts (> {f.wait_seconds:g} s)", str(f.timeouts))
    achieved = f"{f.load_rate_achieved:,.0f} of {f.load_rate_target:,.0f}"
    table.add_row("background ingest (readings/s)", achieved)
    verdict = "PASS" if f.meets_target else "MISS"
    table.add_row(f"target p99 <= {TARGET_P99_MS:,.0f} ms", f"[bold]{verdict}[/bold]")
    return table


def print_figures(console: Console, f: Figures) -> None:
    """The setting, the table, and the problems the processes logged."""
    console.print(
        f"PostgreSQL {f.database_version} ({f.database_server}), Python {f.python}, {f.cpus} CPUs;"
        f" 1 `linli serve`, {f.workers} `linli worker`; {f.residents} residents,"
        f" {f.load_homes} background homes; the run took {f.seconds:.0f} s"
    )
    console.print(render_table(f))
    if f.log_problems:
        first = f.log_problems[0]
        console.print(f"{len(f.log_problems)} warning/error lines in the logs; first: {first}")


# -- the run ---------------------------------------------------------------------------------


def logs_dir(stack: ExitStack, keep: Path | None) -> Path:
    """Where the processes log: --logs, or a temporary directory."""
    if keep is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="linli-alert-")))
    keep.mkdir(parents=True, exist_ok=True)
    return keep


def run(args: argparse.Namespace) -> Figures:
    """Set everything up, measure, tear everything down."""
    started = time.monotonic()
    pace = Pace(args.load_rate, args.pause, args.wait, args.seed)
    with ExitStack() as stack:
        databases = stack.enter_context(bench_databases(os.environ.get("LINLI_DATABASE_URL")))
        version = asyncio.run(migrated_scratch(databases.api))
        homes = create_homes(databases.api, args.residents, args.load_homes)
        logs = logs_dir(stack, args.logs)
        fake = stack.enter_context(FakeTwilio())
        url = stack.enter_context(running_service(databases.api, fake, args.workers, logs))
        latencies, load = measure_under_load(url, fake, homes, pace)
        return Figures(
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            residents=args.residents,
            workers=args.workers,
            load_homes=args.load_homes,
            load_rate_target=args.load_rate,
            load_rate_achieved=round(load.rate, 1),
            load_readings=load.accepted,
            wait_seconds=args.wait,
            python=platform.python_version(),
            database_version=version,
            database_server=databases.server,
            cpus=os.cpu_count(),
            seconds=round(time.monotonic() - started, 1),
            latencies_ms=[None if v is None else round(v, 2) for v in latencies],
            log_problems=log_problems(logs),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table; exit 1 with one line on failure, 130 on Ctrl-C."""
    args = parse_args(argv)
    console = _main.console(120)

    def work() -> dict[str, object]:
        figures = run(args)
        print_figures(console, figures)
        return {**asdict(figures), "target_p99_ms": TARGET_P99_MS}

    return _main.run_main("bench.alert_latency", work, args.json)


if __name__ == "__main__":
    sys.exit(main())
