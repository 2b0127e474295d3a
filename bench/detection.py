"""Detection benchmark: a labelled synthetic cohort through `linli analyze`, judged by its labels.

    .venv/bin/python -m bench.detection [--residents 2000] [--days 90] [--seed 7]
                                        [--workers N] [--keep DIR] [--json PATH]

1. Generates a cohort (`bench.cohort`: readings, residents, labelled events) into a temporary
   directory, or into --keep DIR to look at afterwards.
2. Runs `linli analyze READINGS.csv --residents RESIDENTS.csv --until END --out FINDINGS.jsonl`
   as a subprocess, END being the end of the last day, and times it (rows per second).
3. Judges the findings against the labels (`bench.evaluate`) and prints, per event type, the
   share detected and the median delay; alerts per resident-month by severity and audience,
   the unexplained ones apart; and the issue's targets, each PASS or MISS.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import _main
from bench._evaluate_rules import EVENT_RULES
from bench.cohort import CST, CohortConfig, CohortSummary, generate
from bench.evaluate import SEVERITIES, Detection, Evaluation, evaluate_files

TYPE_ORDER = (
    "bp_crisis",
    "bp_urgent",
    "bp_urgent_unconfirmed",
    "hypo_level2",
    "hypo_level1",
    "hyper_severe",
    "bp_low",
    "pulse_abnormal",
    "bp_drift",
    "silence",
    "gateway_offline",
    "device_error",
    "bp_uncontrolled",
    "glucose_uncontrolled",
    "irregular_pulse",
)
NOTES = {"gateway_offline": "not visible: READINGS.csv has no receipt times"}


class DetectionBenchError(Exception):
    """The benchmark cannot go on; the message is one line."""


def analyze_command() -> list[str]:
    """`linli` next to this Python, or `python -m service.cli` without one."""
    linli = Path(sys.executable).with_name("linli")
    return [str(linli)] if linli.exists() else [sys.executable, "-m", "service.cli"]


def run_analyze(directory: Path, config: CohortConfig, workers: int | None) -> float:
    """Run `linli analyze` over the cohort in `directory`; return its wall seconds."""
    until = datetime(config.start.year, config.start.month, config.start.day, tzinfo=CST)
    until += timedelta(days=config.days)
    command = [
        *analyze_command(),
        "analyze",
        str(directory / "READINGS.csv"),
        "--residents",
        str(directory / "RESIDENTS.csv"),
        "--until",
        until.isoformat(),
        "--out",
        str(directory / "FINDINGS.jsonl"),
    ]
    if workers:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise DetectionBenchError(f"linli analyze exited with {done.returncode}: {last}")
    return seconds


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def detection_table(evaluation: Evaluation) -> Table:
    """Per event type (and split): events, share detected, within 7 days, median delay."""
    table = Table(title="Detection by labelled event type", title_justify="left")
    for name in ("event", "events", "detected", "<= 7 d", "median delay h", "rules detecting"):
        table.add_column(name, justify="left" if name in ("event", "rules detecting") else "right")
    splits: dict[str, list[tuple[str, Detection]]] = {}
    for (kind, split), found in evaluation.detection.items():
        splits.setdefault(kind, []).append((split, found))
    for kind in TYPE_ORDER:
        rows = sorted(splits.get(kind, []), key=lambda r: (r[0] != "all", r[0] != "injected", r[0]))
        everything = rows[0][1].events if rows else 0
        for split, found in rows:
            if split == "injected" and found.events == everything:
                continue  # the same events as the "all" row
            label = kind if split == "all" else f"  {split}"
            if split == "all" and kind in NOTES:
                label += f" ({NOTES[kind]})"
            rules = " ".join(sorted(EVENT_RULES[kind].detect)) if split == "all" else ""
            table.add_row(
                label,
                f"{found.events:,}",
                _share(found.share),
                _share(found.within(7 * 24)),
                _hours(found.median_delay_h),
                rules,
            )
    return table


def alerts_table(evaluation: Evaluation) -> Table:
    """Alerts per resident-month by severity and audience; unexplained ones apart."""
    f = evaluation.false
    title = f"Alerts per resident-month ({f.resident_months:,.0f} resident-months)"
    table = Table(title=title, title_justify="left")
    columns = ("family", "doctor", "none")
    table.add_column("severity")
    for audience in columns:
        table.add_column(f"to {audience}", justify="right")
    for audience in columns:
        table.add_column(f"unexplained to {audience}", justify="right")
    for severity in (*SEVERITIES, "total"):
        sev = SEVERITIES if severity == "total" else (severity,)
        every = [f.rate(sum(f.alerts[s, a] for s in sev)) for a in columns]
        false = [f.rate(sum(f.false[s, a] for s in sev)) for a in columns]
        table.add_row(severity, *(f"{x:.3f}" for x in every + false))
    return table


def false_rules_table(evaluation: Evaluation) -> Table:
    """Unexplained alerts by rule, most first."""
    f = evaluation.false
    table = Table(title="Unexplained alerts by rule", title_justify="left")
    table.add_column("rule")
    table.add_column("alerts", justify="right")
    table.add_column("per resident-month", justify="right")
    for rule, count in f.false_by_rule.most_common():
        table.add_row(rule, f"{count:,}", f"{f.rate(count):.3f}")
    table.caption = f"alerts naming a flagged or implausible reading: {f.on_artefacts:,}"
    return table


def targets_table(evaluation: Evaluation) -> Table:
    """The issue's targets, PASS or MISS."""
    table = Table(title="Targets", title_justify="left")
    table.add_column("target")
    table.add_column("measured", justify="right")
    table.add_column("", justify="center")
    for target, value, met in evaluation.targets():
        table.add_row(target, value, "[green]PASS[/]" if met else "[red]MISS[/]")
    missed = evaluation.coverage.missed[:5]
    if missed:
        table.caption = "first urgent readings not covered: " + "; ".join(
            f"{r} {datetime.fromtimestamp(t, CST).isoformat()} ({c})" for r, t, c in missed
        )
    return table


def report(
    console: Console, summary: CohortSummary, evaluation: Evaluation, seconds: float, gen: float
) -> None:
    """Print the run's figures and the tables."""
    console.print(
        f"Cohort: {summary.residents:,} residents x {summary.days} days,"
        f" {summary.readings:,} readings, {summary.urgent_readings:,} guideline-urgent readings,"
        f" {sum(summary.labels.values()):,} labels (generated in {gen:.1f} s)"
    )
    console.print(
        f"linli analyze: {seconds:.1f} s, {summary.readings / seconds:,.0f} rows/s"
        f" ({sum(evaluation.false.alerts.values()):,} alert-audience pairs)"
    )
    for table in (detection_table, alerts_table, false_rules_table, targets_table):
        console.print()
        console.print(table(evaluation))


def run(args: argparse.Namespace, console: Console) -> dict[str, object]:
    """Generate, analyze, evaluate and print; return the figures for --json."""
    config = CohortConfig(args.residents, args.days, args.seed)
    with tempfile.TemporaryDirectory(prefix="linli-detection-") as scratch:
        directory = args.keep or Path(scratch)
        started = time.perf_counter()
        summary = generate(config, directory)
        gen = time.perf_counter() - started
        seconds = run_analyze(directory, config, args.workers)
        evaluation = evaluate_files(
            directory / "LABELS.jsonl", directory / "FINDINGS.jsonl", config.residents, config.days
        )
    report(console, summary, evaluation, seconds, gen)
    return {
        "date": datetime.now(CST).isoformat(timespec="seconds"),
        "residents": config.residents,
        "days": config.days,
        "seed": config.seed,
        "readings": summary.readings,
        "analyze_seconds": round(seconds, 2),
        "rows_per_second": round(summary.readings / seconds, 1),
        **evaluation.as_json(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__)
    parser.add_argument("--residents", type=int, default=2_000, help="residents (2000)")
    parser.add_argument("--days", type=int, default=90, help="days (90)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the cohort (7)")
    parser.add_argument("--workers", type=int, help="linli analyze --workers (its default)")
    parser.add_argument("--keep", type=Path, help="write the cohort and findings here, and keep")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.residents < 1 or args.days < 1:
        parser.error("--residents and --days must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 1 with one line on failure, 130 on Ctrl-C."""
    args = parse_args(argv)
    failures = (DetectionBenchError, OSError, ValueError)
    return _main.run_main(
        "bench.detection", lambda: run(args, _main.console()), args.json, failures
    )


if __name__ == "__main__":
    sys.exit(main())
