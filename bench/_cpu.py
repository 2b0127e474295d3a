"""Where a stretch of a benchmark spent the machine's CPU: the API server, PostgreSQL, the
benchmark itself (its HTTP or COPY client) and the rest, read from /proc before and after.

A process's CPU time is what the kernel charged it (user and system); one that started
during the stretch counts from zero, one that ended during it is missed. Without /proc (not
Linux) nothing is measured and the figures are empty.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bench._memory import role_of

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _role(pid: int, command: list[str]) -> str:
    if pid == os.getpid():
        return "bench"
    if command and command[0].startswith("postgres"):
        return "postgres"  # the server and its backends ("postgres: user db [local] ...")
    return role_of(command) or "other"


def _process_ticks() -> dict[int, tuple[str, int]]:
    """Every process's role and CPU ticks so far."""
    found = {}
    for entry in _PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        found[int(entry.name)] = (
            _role(int(entry.name), command),
            int(fields[11]) + int(fields[12]),
        )
    return found


def _machine_ticks() -> tuple[int, int]:
    """All CPUs' ticks so far: busy, and in all."""
    values = [int(v) for v in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


@dataclass
class CpuWindow:
    """`with CpuWindow() as cpu: ...`; then `cpu.cores` (average CPUs used by each role over
    the stretch) and `cpu.busy` (the fraction of the machine's CPUs busy)."""

    seconds: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    busy: float | None = None
    _start: tuple[float, dict[int, tuple[str, int]], tuple[int, int]] | None = None

    def __enter__(self) -> CpuWindow:
        if _PROC.joinpath("stat").exists():
            self._start = (time.monotonic(), _process_ticks(), _machine_ticks())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._start is None:
            return
        started, before, (busy_before, all_before) = self._start
        self.seconds = time.monotonic() - started
        busy_after, all_after = _machine_ticks()
        self.busy = (busy_after - busy_before) / max(1, all_after - all_before)
        used: dict[str, int] = {}
        for pid, (role, ticks) in _process_ticks().items():
            earlier = before.get(pid)
            used[role] = used.get(role, 0) + ticks - (earlier[1] if earlier else 0)
        self.cores = {role: ticks / _TICKS / self.seconds for role, ticks in used.items() if ticks}


def mean_cores(windows: list[CpuWindow]) -> dict[str, float]:
    """Average CPUs used by each role over several stretches, weighted by their lengths."""
    total = sum(w.seconds for w in windows)
    roles = {role for w in windows for role in w.cores}
    return (
        {
            role: round(sum(w.cores.get(role, 0.0) * w.seconds for w in windows) / total, 2)
            for role in sorted(roles)
        }
        if total
        else {}
    )


def mean_busy(windows: list[CpuWindow]) -> float | None:
    """The fraction of the machine busy over several stretches, weighted by their lengths."""
    timed = [w for w in windows if w.busy is not None]
    total = sum(w.seconds for w in timed)
    return round(sum((w.busy or 0.0) * w.seconds for w in timed) / total, 2) if total else None
