"""A progress bar on stderr for `linli analyze`, fed by polling the parts' counters."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from service.replay.partition import (
    BYTES_READ,
    FIELDS,
    READ_DONE,
    RECORDS_KEPT,
    RECORDS_REPLAYED,
    Counters,
)

POLL_SECONDS = 0.25


class ProgressBar:
    """Two bars, reading and replaying, updated from a thread while the parts work."""

    def __init__(self, counters: Counters, parts: int, file_size: int) -> None:
        self.counters = counters
        self.parts = parts
        self.file_size = max(file_size, 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="analyze-progress", daemon=True)
        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._reading = self._progress.add_task("reading", total=self.file_size, detail="")
        self._replaying = self._progress.add_task("replaying", total=None, detail="")

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._update()
        self._progress.stop()

    def _sum(self, field: int) -> int:
        return sum(self.counters[part * FIELDS + field] for part in range(self.parts))

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._update()

    def _update(self) -> None:
        read = self._sum(BYTES_READ) // self.parts
        self._progress.update(self._reading, completed=read)
        # Until every part has read its rows, the number to replay is not known.
        total = self._sum(RECORDS_KEPT) if self._sum(READ_DONE) == self.parts else None
        done = self._sum(RECORDS_REPLAYED)
        self._progress.update(
            self._replaying, total=total, completed=done, detail=f"{done:,} readings"
        )


def wanted() -> bool:
    """True when stderr is a terminal a person watches."""
    return Console(stderr=True).is_terminal
