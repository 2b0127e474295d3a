"""`linli analyze`: replay detection over CSV files, offline, into a FINDINGS.jsonl file.

Bad rows are reported on stderr as `FILE:LINE: reason` (the first few of each file, then a
count), skipped and counted; bad files end the command with one line and exit code 2.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import fail, one_line_errors
from service.replay.driver import Options
from service.replay.driver import analyze as run_analysis
from service.replay.progress import wanted as progress_wanted
from service.replay.runs import DEFAULT_CHUNK_RECORDS
from service.replay.tally import Tally


def cpu_count() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_until(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset, or one line on stderr and exit 2."""
    try:
        until = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--until {text!r} is not an ISO 8601 time such as 2024-06-30T00:00+08:00", 2)
    if until.utcoffset() is None:
        fail(f"--until {text!r} has no UTC offset (such as +08:00 or Z)", 2)
    return until


@one_line_errors
def analyze(
    readings: Annotated[
        Path,
        typer.Argument(help="READINGS.csv: one reading per row, in any order.", show_default=False),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="FINDINGS.jsonl", help="Where the findings go."),
    ],
    residents: Annotated[
        Path | None,
        typer.Option(
            "--residents", metavar="RESIDENTS.csv", help="Birth dates and conditions of residents."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME", help="Stop the clock here (ISO 8601 with a UTC offset)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: one per CPU; 1: no child process)."),
    ] = None,
    chunk_rows: Annotated[
        int,
        typer.Option(
            "--chunk-rows", min=1, help="Readings a worker sorts in memory before using disk."
        ),
    ] = DEFAULT_CHUNK_RECORDS,
    temp_dir: Annotated[
        Path | None,
        typer.Option("--temp-dir", help="Where sorted runs go (default: the system's temp dir)."),
    ] = None,
) -> None:
    """Replay detection over READINGS.csv on a simulated clock and write the findings."""
    options = Options(
        readings=readings,
        out=out,
        residents=residents,
        until=None if until is None else parse_until(until),
        workers=workers or cpu_count(),
        chunk_records=chunk_rows,
        temp_dir=temp_dir,
        progress=progress_wanted(),
    )
    start = time.perf_counter()
    try:
        tally = run_analysis(options)
    except KeyboardInterrupt:
        fail("interrupted: no findings written", 130)
    except OSError as exc:  # a file gone or unreadable mid-run, a full disk for the sorted runs
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}: no findings written")
    for bad in (tally.bad_residents, tally.bad_readings):
        for line in [] if bad is None else bad.lines():
            print(line, file=sys.stderr)
    typer.echo(summary(tally, options, time.perf_counter() - start))


def summary(tally: Tally, options: Options, seconds: float) -> str:
    """The line printed at the end: rows, bad rows, residents, findings by severity."""
    rows = f"{_count(tally.rows, 'row')} ({tally.bad_readings.count:,} bad)"
    residents = _count(tally.residents, "resident")
    if tally.bad_residents is not None:
        residents += f" ({tally.without_profile:,} not in {options.residents}"
        if tally.bad_residents.count:
            residents += f", which has {_count(tally.bad_residents.count, 'bad row')}"
        residents += ")"
    return (
        f"{options.readings}: {rows}; {residents}; {tally.findings_text()}"
        f" in {options.out}; {seconds:.1f} s"
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'s' * (number != 1)}"
