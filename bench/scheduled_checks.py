"""Scheduled detection checks benchmark: the worker's daily check over a city of residents.

    .venv/bin/python -m bench.scheduled_checks [--residents 100000] [--days 60] [--sample 2000]
                                               [--seed 2026] [--compare] [--concurrency 4]
                                               [--json PATH]

1. A fresh, migrated scratch database (an embedded PostgreSQL in a temporary directory, or on
   LINLI_DATABASE_URL's server) gets the residents in two communities, a gateway per 50
   homes, a BP monitor, a glucose meter and a family contact each, and `--days` days of
   readings up to now, COPYed (bench/_dashboard_data.py).
2. Every resident's detection state as the live service has it just before a daily check
   (bench/_city_states.py): the readings of `--sample` residents (everyone, when fewer) are
   checked by the service's `check_resident`; everyone else gets the state and open alerts
   of a sample resident with the same conditions. The weekly control check falls due today
   for a seventh of the residents. Gateways were heard from five minutes ago, one in a
   hundred three days ago.
3. Everyone is due at the next 09:00 (China Standard Time). Timed: the worker's code as the
   minute's tick runs it, `run_due(pool, 09:00)` again and again until nothing is due, on a
   pool of the service's default size: wall seconds, and this process's CPU seconds (the
   worker's own, PostgreSQL's apart). `--concurrency 2,4,8` times run_due at each setting,
   each on a copy of the database; `--compare` also times `check_resident` for one due
   resident after another on a copy, and checks that every path leaves the same states,
   findings, alerts and messages (md5 over each).
Target (city scale): 100,000 residents in <= 60 s; a smaller run's figure for 100,000 is
extrapolated from its rate, and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from rich.console import Console
from rich.table import Table

from bench import _main
from bench._city_states import City, build_city, database_copy
from bench._servers import bench_databases, migrated_scratch
from service.detection import queries
from service.detection.service import check_resident, run_due
from service.settings import Settings

TARGET_RESIDENTS = 100_000
TARGET_SECONDS = 60.0
POOL_SIZE: int = Settings.model_fields["pool_max_size"].default
RUN_DUE_CONCURRENCY: int = inspect.signature(run_due).parameters["concurrency"].default
_DESCRIPTION = "The worker's scheduled detection checks (the daily check) over N residents."
_DIGESTS = {
    "states": """SELECT md5(string_agg(resident_id || ' ' || state::text, ',' ORDER BY
                                     resident_id)) FROM detection_states""",
    "findings": """SELECT md5(string_agg(t, ',' ORDER BY t)) FROM (
                       SELECT concat_ws('|', resident_id, rule, severity, status, at, reading_at,
                                        audience, message, evidence, alert_id IS NULL) AS t
                       FROM findings WHERE id > %(findings)s) f""",
    "alerts": """SELECT md5(string_agg(t, ',' ORDER BY t)) FROM (
                     SELECT concat_ws('|', resident_id, rule, severity, state, audience,
                                      message, evidence, reading_at, opened_at, updated_at,
                                      resolved_at) AS t FROM alerts) a""",
    "messages": """SELECT md5(string_agg(t, ',' ORDER BY t)) FROM (
                       SELECT concat_ws('|', resident_id, rule, purpose, severity, contact_id,
                                        user_id, channel, address, body, contact_rank, due_at,
                                        status) AS t
                       FROM notifications WHERE id > %(messages)s) n""",
}

Advance = Callable[[AsyncConnectionPool, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Timed:
    """One way of advancing everyone through the daily check, and what it left."""

    path: str
    seconds: float
    cpu_seconds: float  # of this process (the worker's code), not of PostgreSQL
    advanced: int  # residents, as the calls reported them
    calls: int  # calls that advanced someone (run_due: minute ticks' worth)
    left_due: int  # residents still due afterwards (0 when done)
    at_check: int  # states whose clock stands at the check
    findings: dict[str, int]  # by rule
    messages: int  # written to the outbox
    digests: dict[str, str]

    @property
    def rate(self) -> float:
        """Residents per second."""
        return self.advanced / self.seconds if self.seconds else 0.0

    def target_seconds(self) -> float:
        """Seconds for TARGET_RESIDENTS: measured at that size, else extrapolated."""
        return TARGET_RESIDENTS / self.rate if self.rate else float("inf")


async def one_by_one(pool: AsyncConnectionPool, now: datetime, limit: int = 1000) -> int:
    """`check_resident` for each resident due by `now` (at most `limit`), one after another."""
    async with pool.connection() as conn:
        residents = [due.id for due in await queries.due_residents(conn, now, limit)]
    for resident_id in residents:
        await check_resident(pool, resident_id, now)
    return len(residents)


def _marks(conn: psycopg.Connection[Any]) -> dict[str, int]:
    row = conn.execute(
        """SELECT (SELECT coalesce(max(id), 0) FROM findings),
                  (SELECT coalesce(max(id), 0) FROM notifications)"""
    ).fetchone()
    assert row is not None
    return {"findings": int(row[0]), "messages": int(row[1])}


def _outcome(
    conninfo: str,
    path: str,
    check_at: datetime,
    marks: dict[str, int],
    run: tuple[float, float, int, int],
) -> Timed:
    """What the run left in the database."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            """SELECT count(*) FILTER (WHERE due_at <= %(at)s),
                      count(*) FILTER (WHERE (state ->> 'clock')::timestamptz = %(at)s),
                      (SELECT count(*) FROM notifications WHERE id > %(messages)s)
               FROM detection_states""",
            {"at": check_at, **marks},
        ).fetchone()
        assert row is not None
        findings = conn.execute(
            "SELECT rule, count(*) FROM findings WHERE id > %s GROUP BY rule ORDER BY 2 DESC",
            (marks["findings"],),
        ).fetchall()
        digests = {}
        for name, query in _DIGESTS.items():
            found = conn.execute(query, marks).fetchone()
            digests[name] = str(found[0] if found else None)
    seconds, cpu, advanced, calls = run
    return Timed(
        path=path,
        seconds=round(seconds, 2),
        cpu_seconds=round(cpu, 2),
        advanced=advanced,
        calls=calls,
        left_due=int(row[0]),
        at_check=int(row[1]),
        findings={rule: int(n) for rule, n in findings},
        messages=int(row[2]),
        digests=digests,
    )


def advance_everyone(conninfo: str, check_at: datetime, path: str, advance: Advance) -> Timed:
    """Call `advance(pool, check_at)` until it advances nobody; timed, with what it left."""
    with psycopg.connect(conninfo) as conn:
        marks = _marks(conn)

    async def main() -> tuple[float, float, int, int]:
        async with AsyncConnectionPool(conninfo, min_size=POOL_SIZE, max_size=POOL_SIZE) as pool:
            await pool.wait()
            started, cpu = time.perf_counter(), time.process_time()
            advanced = calls = 0
            while n := await advance(pool, check_at):
                advanced, calls = advanced + n, calls + 1
            return time.perf_counter() - started, time.process_time() - cpu, advanced, calls

    return _outcome(conninfo, path, check_at, marks, asyncio.run(main()))


@dataclass(frozen=True)
class Figures:
    """What one run measured, and on what."""

    date: str
    residents: int
    days: int
    seed: int
    sample: int
    rows: dict[str, int]
    load_seconds: float
    sample_readings: int
    detection_seconds: float
    copied: int
    due: int
    check_at: str
    pool_size: int
    python: str
    database_version: str
    database_server: str
    cpus: int | None
    timings: list[Timed]

    def same_decisions(self) -> bool | None:
        """Whether every path left the same states, findings, alerts and messages."""
        if len(self.timings) < 2:
            return None
        return all(t.digests == self.timings[0].digests for t in self.timings)

    def as_json(self) -> dict[str, Any]:
        """The figures, with each path's rate and its figure for the target, for --json."""
        paths = {
            t.path: {
                **asdict(t),
                "residents_per_second": round(t.rate, 1),
                "seconds_for_target": round(t.target_seconds(), 1),
                "extrapolated": t.advanced != TARGET_RESIDENTS,
                "ratio_to_target": round(t.target_seconds() / TARGET_SECONDS, 3),
            }
            for t in self.timings
        }
        document = {k: v for k, v in asdict(self).items() if k != "timings"}
        target = {"residents": TARGET_RESIDENTS, "seconds": TARGET_SECONDS}
        service = self.timings[-1]  # run_due, as the worker runs it
        return {
            **document,
            "paths": paths,
            "same_decisions": self.same_decisions(),
            "target": target,
            "scheduled_checks_seconds": service.seconds,
            "scheduled_checks_residents": service.advanced,
        }


def render_table(f: Figures) -> Table:
    """The timings as a table."""
    title = f"Scheduled detection checks, {f.residents:,} residents due at {f.check_at}"
    table = Table(title=title, title_justify="left")
    columns = (
        "path", "residents", "seconds", "CPU s", "residents/s", "calls", "findings", "messages",
    )  # fmt: skip
    for name in (*columns, f"s for {TARGET_RESIDENTS:,}", f"ratio to {TARGET_SECONDS:.0f} s"):
        table.add_column(name, justify="left" if name == "path" else "right")
    for t in f.timings:
        shown = f"{t.target_seconds():,.1f}" + (
            " (extrapolated)" if t.advanced != TARGET_RESIDENTS else ""
        )
        ratio = t.target_seconds() / TARGET_SECONDS
        verdict = "met" if ratio <= 1 else "missed"
        table.add_row(
            t.path, f"{t.advanced:,}", f"{t.seconds:,.2f}", f"{t.cpu_seconds:,.2f}",
            f"{t.rate:,.0f}", str(t.calls),
            f"{sum(t.findings.values()):,}", f"{t.messages:,}", shown, f"{ratio:.2f} ({verdict})",
        )  # fmt: skip
    return table


def print_figures(console: Console, f: Figures, city_seconds: float) -> None:
    """The setting, the table, and what the decisions were."""
    readings = f.rows["blood_pressure_readings"] + f.rows["glucose_readings"]
    console.print(
        f"PostgreSQL {f.database_version} ({f.database_server}), Python {f.python}, {f.cpus}"
        f" CPUs; {f.residents:,} residents x {f.days} days, {readings:,} readings (loaded in"
        f" {f.load_seconds:.1f} s). States: detection (check_resident) over the readings of"
        f" {f.sample:,} residents ({f.sample_readings:,} readings, {f.detection_seconds:.1f} s),"
        f" copied to {f.copied:,} more; city ready in {city_seconds:.1f} s; {f.due:,} due."
        f" Pool: {f.pool_size} connections."
    )
    console.print(render_table(f))
    for t in f.timings:
        top = ", ".join(f"{rule} {n:,}" for rule, n in t.findings.items())
        console.print(
            f"{t.path}: still due {t.left_due:,}, clock at the check {t.at_check:,};"
            f" findings: {top or 'none'}"
        )
    same = f.same_decisions()
    if same is not None:
        console.print(
            "Same states, findings, alerts and messages on every path: "
            + ("yes" if same else "[bold red]NO[/bold red]")
        )


def run(args: argparse.Namespace, console: Console | None = None) -> dict[str, Any]:
    """Build the city, time the daily check; print and return the figures."""
    console = console or Console()
    with bench_databases(os.environ.get("LINLI_DATABASE_URL")) as databases:
        conninfo = databases.api
        version = asyncio.run(migrated_scratch(conninfo))
        console.print(f"building {args.residents:,} residents x {args.days} days ...")
        city = build_city(conninfo, args.residents, args.days, args.sample, args.seed)
        paths = [("one_by_one", one_by_one)] if args.compare else []
        for n in args.concurrency:
            paths.append((f"run_due, {n} at a time", functools.partial(run_due, concurrency=n)))
        timings = []
        for name, advance in paths[:-1]:  # each on a copy of the city, the last on the city
            with database_copy(conninfo) as copy:
                timings.append(advance_everyone(copy, city.check_at, name, advance))
        name, advance = paths[-1]
        timings.append(advance_everyone(conninfo, city.check_at, name, advance))
    figures = _figures(args, city, version, databases.server, timings)
    print_figures(console, figures, city.seconds)
    return figures.as_json()


def _figures(
    args: argparse.Namespace, city: City, version: str, server: str, timings: list[Timed]
) -> Figures:
    return Figures(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        residents=args.residents,
        days=args.days,
        seed=args.seed,
        sample=city.sample,
        rows=city.loaded.rows,
        load_seconds=round(city.loaded.seconds, 1),
        sample_readings=city.sample_readings,
        detection_seconds=round(city.detection_seconds, 1),
        copied=city.copied,
        due=city.due,
        check_at=city.check_at.isoformat(),
        pool_size=POOL_SIZE,
        python=platform.python_version(),
        database_version=version,
        database_server=server,
        cpus=os.cpu_count(),
        timings=timings,
    )


def _counts(text: str) -> list[int]:
    """A comma-separated list of positive integers."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("at least 1 each")
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scheduled_checks", description=_DESCRIPTION
    )
    add = parser.add_argument
    add("--residents", type=int, default=TARGET_RESIDENTS, help="residents (100000)")
    add("--days", type=int, default=60, help="days of readings, ending now (60)")
    add("--sample", type=int, default=2000, help="residents whose state detection computes (2000)")
    add("--seed", type=int, default=2026, help="seed of the data (2026)")
    add("--compare", action="store_true", help="also time check_resident one resident at a time")
    add(
        "--concurrency",
        type=_counts,
        default=[RUN_DUE_CONCURRENCY],
        help="residents run_due advances at a time; a list (2,4,8) times each on a copy"
        f" ({RUN_DUE_CONCURRENCY})",
    )
    add("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if min(args.residents, args.days, args.sample) < 1:
        parser.error("--residents, --days and --sample must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 1 with one line on failure, 130 on Ctrl-C."""
    args = parse_args(argv)
    return _main.run_main("bench.scheduled_checks", lambda: run(args, _main.console()), args.json)


if __name__ == "__main__":
    sys.exit(main())
