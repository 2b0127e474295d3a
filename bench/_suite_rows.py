"""The suite's summary rows: each benchmark's headline figures beside the issue's targets.

A row's verdict is PASS or MISS where a target applies, "–" where none does (or where the
figure was not measured). The targets come from the benchmarks themselves where they keep one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench import alert_latency, dashboard, ingest
from bench._memory import ProcessPeak
from bench.gateway import TARGET_RSS_MB

NONE = "–"
# The target for the scheduled checks: every resident of a city checked within 60 s.
SCHEDULED_CHECKS_TARGET_SECONDS = 60.0
SCHEDULED_CHECKS_RESIDENTS = 100_000
# The figures bench.detection will name when it measures the scheduled checks.
SCHEDULED_CHECKS_KEY = "scheduled_checks_seconds"
SCHEDULED_CHECKS_RESIDENTS_KEY = "scheduled_checks_residents"
DASHBOARD_PAGES = (
    ("panel", "panel p95 (ms)"),
    ("resident, 7 days", "resident page (7 days) p95 (ms)"),
    ("community", "community page p95 (ms)"),
)
MEMORY_ROLES = (
    ("api", "service (API) peak RSS (MB)"),
    ("worker", "worker peak RSS (MB)"),
    ("gateway", "gateway peak RSS (MB)"),
    ("analyze", "linli analyze peak RSS (MB)"),
)


@dataclass(frozen=True)
class Row:
    """One line of the summary: what was measured, as shown, against which target."""

    part: str
    figure: str
    shown: str
    target: str = NONE
    verdict: str = NONE
    value: float | None = None


def verdict(met: bool) -> str:
    """PASS or MISS."""
    return "PASS" if met else "MISS"


def not_measured(part: str, figure: str, target: str = NONE, why: str = "") -> Row:
    """A row for a figure this run has no value for."""
    return Row(part, figure, "not measured" + (f" ({why})" if why else ""), target)


def ingest_rows(f: ingest.Figures) -> list[Row]:
    """API and COPY rates, and their ratio against >= 0.3."""
    target = ingest.TARGET_RATIO
    return [
        Row("ingest", "API readings/s", f"{f.api_rate:,.0f}", value=round(f.api_rate, 1)),
        Row("ingest", "COPY readings/s", f"{f.copy_rate:,.0f}", value=round(f.copy_rate, 1)),
        Row(
            "ingest",
            "ratio API/COPY",
            f"{f.ratio:.3f}",
            f">= {target:.2f}",
            verdict(f.ratio >= target),
            round(f.ratio, 4),
        ),
    ]


def latency_rows(f: alert_latency.Figures) -> list[Row]:
    """Reading-to-SMS p50 and p99 (against <= 1,000 ms), and timeouts."""
    late = f"> {f.wait_seconds * 1000:,.0f}"
    p50, p99 = f.quantiles_ms["p50"], f.quantiles_ms["p99"]
    p50_shown = late if p50 is None else f"{p50:,.0f}"
    p99_shown = late if p99 is None else f"{p99:,.0f}"
    target = f"<= {alert_latency.TARGET_P99_MS:,.0f}"
    return [
        Row("latency", "reading-to-SMS p50 (ms)", p50_shown, value=p50),
        Row("latency", "reading-to-SMS p99 (ms)", p99_shown, target, verdict(f.meets_target), p99),
        Row("latency", "alerts without an SMS in time", f"{f.timeouts} of {f.residents}"),
    ]


def dashboard_rows(f: dashboard.Figures) -> list[Row]:
    """p95 of the panel, the 7-day resident page and the community page against their targets."""
    verdicts = f.verdicts()
    rows = []
    for kind, figure in DASHBOARD_PAGES:
        target = f"<= {dashboard.TARGETS_MS[kind]:,.0f}"
        if kind not in f.timings:
            rows.append(not_measured("dashboards", figure, target))
            continue
        p95 = f.timings[kind].quantiles()["p95"]
        shown = f"> {f.timeout_seconds * 1000:,.0f}" if p95 is None else f"{p95:,.0f}"
        rows.append(Row("dashboards", figure, shown, target, verdict(verdicts[kind]), p95))
    return rows


def scheduled_checks_row(figures: Mapping[str, Any]) -> Row:
    """The scheduled checks over every resident (bench.scheduled_checks) against <= 60 s for
    100,000 residents. The verdict needs a city's residents: fewer say nothing about it."""
    figure = "scheduled checks (s)"
    target = f"<= {SCHEDULED_CHECKS_TARGET_SECONDS:.0f} at {SCHEDULED_CHECKS_RESIDENTS:,}"
    seconds = figures.get(SCHEDULED_CHECKS_KEY)
    if seconds is None:
        return not_measured("checks", figure, target, "no figure")
    residents = int(figures.get(SCHEDULED_CHECKS_RESIDENTS_KEY, figures.get("residents", 0)))
    shown = f"{seconds:,.1f} for {residents:,} residents"
    if residents < SCHEDULED_CHECKS_RESIDENTS:
        return Row("checks", figure, shown, target, NONE, float(seconds))
    met = float(seconds) <= SCHEDULED_CHECKS_TARGET_SECONDS
    return Row("checks", figure, shown, target, verdict(met), float(seconds))


def detection_rows(figures: Mapping[str, Any]) -> list[Row]:
    """`linli analyze` throughput."""
    rate = float(figures["rows_per_second"])
    return [Row("detection", "linli analyze (readings/s)", f"{rate:,.0f}", value=rate)]


def gateway_rows(figures: Mapping[str, Any]) -> list[Row]:
    """Records per second of one meter's download."""
    rate = float(figures["records_per_second"])
    return [Row("gateway", "records downloaded/s", f"{rate:,.0f}", value=rate)]


def memory_rows(peaks: Sequence[ProcessPeak], gateway: Mapping[str, Any] | None) -> list[Row]:
    """The largest peak RSS per kind of process, with the part that started it; the gateway's
    from its own figures (its whole process) against < 80 MB."""
    rows = []
    for role, figure in MEMORY_ROLES:
        mine = [p for p in peaks if p.role == role]
        target = f"< {TARGET_RSS_MB}" if role == "gateway" else NONE
        if role == "gateway" and gateway is not None:
            mb = float(gateway["peak_rss_mb"])
            met = verdict(mb < TARGET_RSS_MB)
            rows.append(Row("memory", figure, f"{mb:,.1f} (gateway)", target, met, mb))
        elif mine:
            top = max(mine, key=lambda p: p.peak_kib)
            mb = round(top.peak_mb, 1)
            met = NONE if role != "gateway" else verdict(mb < TARGET_RSS_MB)
            rows.append(Row("memory", figure, f"{mb:,.1f} ({top.part})", target, met, mb))
        elif role != "analyze":
            rows.append(not_measured("memory", figure, target, "no part started one"))
    return rows


def failed_row(part: str, error: str) -> Row:
    """The one row of a part that did not finish."""
    return Row(part, "failed", error[:200])
