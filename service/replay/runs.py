"""External sort in bounded memory: sorted runs on disk, merged with `heapq.merge`.

Records are buffered up to `chunk_records`, sorted, and spilled to a run file as
length-prefixed `marshal` blocks. Merging reads every run one block at a time; when there are
more runs than `fan_in`, runs are first merged into longer ones, so that no more than `fan_in`
files are ever open at once.
"""

from __future__ import annotations

import heapq
import marshal
import struct
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

BLOCK_RECORDS = 2048  # records per marshal block: the read buffer of a run while merging
DEFAULT_CHUNK_RECORDS = 200_000
DEFAULT_FAN_IN = 64
_LENGTH = struct.Struct("<I")


def write_blocks(path: Path, records: Iterable[Any], block_records: int = BLOCK_RECORDS) -> None:
    """Write `records` to `path` as length-prefixed marshal blocks."""
    iterator = iter(records)
    with path.open("wb") as file:
        while block := list(islice(iterator, block_records)):
            data = marshal.dumps(block)
            file.write(_LENGTH.pack(len(data)))
            file.write(data)


def read_blocks(path: Path, delete: bool = False) -> Iterator[Any]:
    """The records written by `write_blocks`, one block in memory at a time."""
    with path.open("rb") as file:
        while header := file.read(_LENGTH.size):
            (length,) = _LENGTH.unpack(header)
            # Only files this process or its workers wrote are read back: no untrusted data.
            yield from marshal.loads(file.read(length))  # noqa: S302
    if delete:
        path.unlink()


class ExternalSort:
    """Records added in any order, given back sorted; memory holds one chunk at most."""

    def __init__(
        self,
        directory: Path,
        chunk_records: int = DEFAULT_CHUNK_RECORDS,
        fan_in: int = DEFAULT_FAN_IN,
    ) -> None:
        if chunk_records < 1 or fan_in < 2:
            raise ValueError("chunk_records must be at least 1 and fan_in at least 2")
        self.directory = directory
        self.chunk_records = chunk_records
        self.fan_in = fan_in
        self.runs: list[Path] = []
        self.count = 0
        self._buffer: list[Any] = []
        self._made = 0

    def add(self, record: Any) -> None:
        """Take one record (spilling a sorted run to disk when the chunk is full)."""
        self._buffer.append(record)
        self.count += 1
        if len(self._buffer) >= self.chunk_records:
            self._spill()

    def sorted(self) -> Iterator[Any]:
        """Every record added, in sorted order (run files are deleted as they are read)."""
        if not self.runs:
            self._buffer.sort()
            records, self._buffer = self._buffer, []
            return iter(records)
        if self._buffer:
            self._spill()
        while len(self.runs) > self.fan_in:
            group, self.runs = self.runs[: self.fan_in], self.runs[self.fan_in :]
            self.runs.append(self._new_run(heapq.merge(*(read_blocks(p, True) for p in group))))
        runs, self.runs = self.runs, []
        return heapq.merge(*(read_blocks(path, delete=True) for path in runs))

    def _spill(self) -> None:
        self._buffer.sort()
        self.runs.append(self._new_run(self._buffer))
        self._buffer = []

    def _new_run(self, records: Iterable[Any]) -> Path:
        path = self.directory / f"run-{self._made:06d}.bin"
        self._made += 1
        write_blocks(path, records)
        return path
