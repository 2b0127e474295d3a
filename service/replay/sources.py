"""The CSV files of `linli analyze`: checked as a whole up front, then read row by row.

Files are read as UTF-8 (a byte-order mark is skipped). Bytes that are not UTF-8 are kept as
surrogates instead of stopping the read, so they make one bad row, not a bad file.
"""

from __future__ import annotations

import csv
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from service.errors import Invalid

READING_COLUMNS = (
    "resident_id",
    "measured_at",
    "kind",
    "systolic",
    "diastolic",
    "pulse",
    "glucose_mmol_l",
    "meal",
)
PROFILE_COLUMNS = ("resident_id", "birth_date", "conditions")
PROGRESS_EVERY = 1 << 14  # rows between two progress reports

OnError = Callable[[int, str], None]
OnProgress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file whose header has been checked: its columns (stripped, lower case), its size."""

    path: Path
    columns: tuple[str, ...]
    size: int

    @property
    def name(self) -> str:
        """The file as the user named it, for messages."""
        return str(self.path)


def open_text(path: Path) -> TextIO:
    """The file opened for the csv module: UTF-8, BOM skipped, undecodable bytes kept."""
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def open_table(path: Path, required: tuple[str, ...]) -> Table:
    """The checked header of a CSV file, or `Invalid` with one line saying what is wrong."""
    try:
        status = path.stat()
        if stat.S_ISDIR(status.st_mode):
            raise Invalid(f"{path}: is a directory, not a CSV file")
        if not stat.S_ISREG(status.st_mode):  # a pipe cannot be read once per worker
            raise Invalid(f"{path}: not a regular file (it is read more than once)")
        with open_text(path) as file:
            header = next(csv.reader(file), None)
    except FileNotFoundError:
        raise Invalid(f"{path}: no such file") from None
    except OSError as exc:
        raise Invalid(f"{path}: cannot read: {exc.strerror or exc}") from None
    except csv.Error as exc:
        raise Invalid(f"{path}: line 1: the header is not CSV ({exc})") from None
    if header is None:
        raise Invalid(f"{path}: the file is empty (no header row)")
    columns = tuple(name.strip().lower() for name in header)
    twice = sorted({name for name in columns if name and columns.count(name) > 1})
    if twice:
        raise Invalid(f"{path}: column(s) named twice in the header: {', '.join(twice)}")
    missing = [name for name in required if name not in columns]
    if len(missing) == len(required):
        expected = ", ".join(required)
        raise Invalid(f"{path}: no header row: line 1 should name the columns {expected}")
    if missing:
        raise Invalid(f"{path}: missing column(s) {', '.join(missing)}")
    return Table(path, columns, status.st_size)


def rows(
    table: Table, on_error: OnError, on_progress: OnProgress
) -> Iterator[tuple[int, list[str]]]:
    """`(line, fields)` of every data row; blank lines are skipped.

    A row the csv module refuses (a field over its size limit after a stray quote) goes to
    `on_error(line, reason)`; `on_progress(bytes_read)` is called every few thousand rows.
    """
    with open_text(table.path) as file:
        reader = csv.reader(file)
        next(reader, None)  # the header, checked by open_table
        last = reader.line_num
        count = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                on_error(last + 1, f"not CSV: {exc}")
                last = reader.line_num
                continue
            line, last = last + 1, reader.line_num
            count += 1
            if count % PROGRESS_EVERY == 0:
                on_progress(file.buffer.tell())
            if fields:
                yield line, fields
        on_progress(table.size)


def owner(resident_id: str, parts: int) -> int:
    """The part (0 to parts - 1) a resident belongs to, the same in every process and run."""
    return zlib.crc32(resident_id.encode("utf-8", "surrogateescape")) % parts
