"""One part of `linli analyze`: the residents one worker owns, read, sorted and replayed.

Every worker reads the whole of each file but parses only the rows of its own residents
(a stable hash of resident_id picks the part), so parsing, sorting and replaying all run in
parallel and no rows travel between processes. A row whose resident cannot be told (a CSV
error) belongs to the part of the empty id, like a row with an empty resident_id.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Protocol, TypeVar

import orjson

from analytics.readings import Profile
from analytics.replay import replay_resident
from analytics.rows import RowError, parse_profile, parse_reading
from service.replay.records import Record, from_record, to_record
from service.replay.runs import DEFAULT_CHUNK_RECORDS, DEFAULT_FAN_IN, ExternalSort, write_blocks
from service.replay.sources import Table, owner, rows
from service.replay.tally import BadRows, Tally

FINDINGS_FILE = "findings.bin"  # (resident_id, JSON lines) blocks, in resident order
FIELDS = 4  # progress counters per part:
BYTES_READ, RECORDS_KEPT, RECORDS_REPLAYED, READ_DONE = range(FIELDS)
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


class Counters(Protocol):
    """Integers the driver polls for progress (a shared array, or a list in-process)."""

    def __getitem__(self, index: int, /) -> int: ...
    def __setitem__(self, index: int, value: int, /) -> None: ...


@dataclass(frozen=True, slots=True)
class Job:
    """What one part is to do, and where its files go."""

    readings: Table
    residents: Table | None
    until: datetime | None
    part: int
    parts: int
    directory: Path
    chunk_records: int = DEFAULT_CHUNK_RECORDS
    fan_in: int = DEFAULT_FAN_IN

    @property
    def output(self) -> Path:
        """The part's findings file."""
        return self.directory / FINDINGS_FILE

    def owns(self, resident_id: str) -> bool:
        """True when the resident's rows are this part's to parse."""
        return self.parts == 1 or owner(resident_id, self.parts) == self.part


_counters: Counters | None = None
T = TypeVar("T")


def _ignore(position: int) -> None:
    pass


def _ignore_error(line: int, reason: str) -> None:
    pass


def _nothing() -> None:
    pass


def init_worker(counters: Counters) -> None:
    """Keep the shared progress counters in a worker process (its pool initializer)."""
    global _counters
    _counters = counters
    # Ctrl-C reaches the whole process group: the parent answers it and ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def work(job: Job) -> Tally:
    """Run one part in a worker process started with `init_worker`."""
    assert _counters is not None, "init_worker was not called"
    return run_part(job, _counters)


def run_part(job: Job, counters: Counters) -> Tally:
    """Read, sort and replay the part's residents; write their findings to `job.output`."""
    job.directory.mkdir(parents=True, exist_ok=True)
    tally = Tally(BadRows(job.readings.name))
    profiles = _profiles(job, tally) if job.residents is not None else {}
    sorter = _sorted_readings(job, tally, counters)
    counters[job.part * FIELDS + RECORDS_KEPT] = sorter.count
    counters[job.part * FIELDS + READ_DONE] = 1
    records = _counted(sorter.sorted(), counters, job.part * FIELDS + RECORDS_REPLAYED)
    write_blocks(job.output, _findings(job, profiles, records, tally), block_records=64)
    return tally


def _owned_rows(
    job: Job,
    table: Table,
    bad: BadRows,
    parse: Callable[[dict[str, str]], T],
    refused: Callable[[int, str], None],
    progress: Callable[[int], None] = _ignore,
    owned: Callable[[], None] = _nothing,
) -> Iterator[tuple[int, T]]:
    """The part's rows of `table`, parsed: (line, value); bad rows go to `bad` with a reason.

    `owned` hears of every row of the part, good or bad; `refused` of every CSV error.
    """
    columns, width = table.columns, len(table.columns)
    at = columns.index("resident_id")
    for line, fields in rows(table, refused, progress):
        if not job.owns(fields[at].strip() if at < len(fields) else ""):
            continue
        owned()
        if len(fields) > width:
            bad.add(line, f"{len(fields)} fields where the header has {width}")
            continue
        try:
            value = parse(dict(zip(columns, fields, strict=False)))
        except RowError as exc:
            bad.add(line, str(exc))
            continue
        yield line, value


def _profiles(job: Job, tally: Tally) -> dict[str, Profile]:
    assert job.residents is not None
    table = job.residents
    bad = tally.bad_residents = BadRows(table.name)
    first_line: dict[str, int] = {}
    profiles: dict[str, Profile] = {}
    for line, profile in _owned_rows(job, table, bad, parse_profile, _errors_of(job, bad)):
        seen = first_line.setdefault(profile.resident_id, line)
        if seen != line:
            bad.add(line, f"resident_id {profile.resident_id!r} already on line {seen}")
            continue
        profiles[profile.resident_id] = profile
    return profiles


def _sorted_readings(job: Job, tally: Tally, counters: Counters) -> ExternalSort:
    bad = tally.bad_readings
    sorter = ExternalSort(job.directory, job.chunk_records, job.fan_in)
    slot = job.part * FIELDS + BYTES_READ

    def progress(position: int) -> None:
        counters[slot] = position

    def refused(line: int, reason: str) -> None:  # a CSV error: the part of "" counts it
        if job.owns(""):
            tally.rows += 1
            bad.add(line, reason)

    def owned() -> None:
        tally.rows += 1

    for _, reading in _owned_rows(job, job.readings, bad, parse_reading, refused, progress, owned):
        sorter.add(to_record(reading))
    return sorter


def _errors_of(job: Job, bad: BadRows) -> Callable[[int, str], None]:
    """Where CSV errors go: to the part of the empty resident_id, once over all parts."""
    return bad.add if job.owns("") else _ignore_error


def _counted(records: Iterator[Record], counters: Counters, slot: int) -> Iterator[Record]:
    """The records, counting them into `counters[slot]` every few thousand."""
    count = 0
    for record in records:
        count += 1
        if not count & 0xFFF:
            counters[slot] = count
        yield record
    counters[slot] = count


def _residents(
    records: Iterator[Record], profiled: list[str]
) -> Iterator[tuple[str, Iterator[Record]]]:
    """Every resident in id order with its records: those with readings, and profiled ones."""
    i = 0
    for resident_id, group in groupby(records, key=itemgetter(0)):
        while i < len(profiled) and profiled[i] < resident_id:
            yield profiled[i], iter(())
            i += 1
        if i < len(profiled) and profiled[i] == resident_id:
            i += 1
        yield resident_id, group
    for resident_id in profiled[i:]:
        yield resident_id, iter(())


def _findings(
    job: Job, profiles: dict[str, Profile], records: Iterator[Record], tally: Tally
) -> Iterator[tuple[str, bytes]]:
    """`(resident_id, JSON lines)` for every resident with findings, in resident order."""
    for resident_id, group in _residents(records, sorted(profiles)):
        profile = profiles.get(resident_id)
        if profile is None:
            profile = Profile(resident_id)
            tally.without_profile += 1
        readings = (from_record(record) for record in group)
        found = sorted(replay_resident(profile, readings, until=job.until), key=attrgetter("at"))
        tally.residents += 1
        for finding in found:
            label = finding.severity.label
            tally.findings[label] = tally.findings.get(label, 0) + 1
        if found:
            yield (
                resident_id,
                b"".join(orjson.dumps(f.to_json(), option=_JSON_OPTIONS) for f in found),
            )
