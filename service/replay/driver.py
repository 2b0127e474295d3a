"""`linli analyze` as a whole: check the files, run the parts, merge their findings into --out."""

from __future__ import annotations

import heapq
import multiprocessing
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import BinaryIO

from service.errors import Invalid
from service.replay.partition import FIELDS, Counters, Job, init_worker, run_part, work
from service.replay.progress import ProgressBar
from service.replay.runs import DEFAULT_CHUNK_RECORDS, read_blocks
from service.replay.sources import PROFILE_COLUMNS, READING_COLUMNS, open_table
from service.replay.tally import Tally

POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Options:
    """What `linli analyze` was asked to do."""

    readings: Path
    out: Path
    residents: Path | None = None
    until: datetime | None = None
    workers: int = 1  # 1: in this process
    chunk_records: int = DEFAULT_CHUNK_RECORDS  # readings sorted in memory at once, per worker
    temp_dir: Path | None = None  # for the sorted runs; the system's temporary directory if None
    progress: bool = False  # show a progress bar on stderr


def analyze(options: Options) -> Tally:
    """Replay detection over the CSV files into `options.out`; what was read and found.

    Bad files raise `Invalid` before anything is written; `options.out` appears only once it
    is complete (it is written under a temporary name and renamed).
    """
    readings = open_table(options.readings, READING_COLUMNS)
    residents = None
    if options.residents is not None:
        residents = open_table(options.residents, PROFILE_COLUMNS)
    with _replacing(options.out) as out, _temporary_directory(options.temp_dir) as temp:
        jobs = [
            Job(
                readings,
                residents,
                options.until,
                part,
                options.workers,
                temp / f"part-{part}",
                options.chunk_records,
            )
            for part in range(options.workers)
        ]
        tallies = _run(jobs, options.progress)
        for _resident_id, lines in heapq.merge(*(read_blocks(job.output) for job in jobs)):
            out.write(lines)
    total = tallies[0]
    for tally in tallies[1:]:
        total.merge(tally)
    return total


def _run(jobs: Sequence[Job], progress: bool) -> list[Tally]:
    """Run the parts: in this process when there is one, else one worker process each."""
    parts = len(jobs)
    if parts == 1:
        counters: list[int] = [0] * FIELDS
        with _progress_bar(progress, counters, jobs):
            return [run_part(jobs[0], counters)]
    # spawn, not fork: the progress bar runs a thread, and forking a threaded process is unsafe.
    context = multiprocessing.get_context("spawn")
    shared = context.Array("q", parts * FIELDS, lock=False)
    with (
        context.Pool(parts, initializer=init_worker, initargs=(shared,)) as pool,
        _progress_bar(progress, shared, jobs),
    ):
        results = [pool.apply_async(work, (job,)) for job in jobs]
        return _results(results)  # leaving the block terminates the workers, even on error


def _results(results: list[AsyncResult[Tally]]) -> list[Tally]:
    """Every part's tally; the first failure is raised at once, without waiting for the rest."""
    while pending := [result for result in results if not result.ready()]:
        for result in results:
            if result.ready() and not result.successful():
                result.get()
        pending[0].wait(POLL_SECONDS)
    return [result.get() for result in results]


def _progress_bar(
    wanted: bool, counters: Counters, jobs: Sequence[Job]
) -> AbstractContextManager[object]:
    if not wanted:
        return nullcontext()
    return ProgressBar(counters, len(jobs), jobs[0].readings.size)


@contextmanager
def _replacing(path: Path) -> Iterator[BinaryIO]:
    """A new file that becomes `path` if the block ends without error, and is removed if not."""
    if path.is_dir():
        raise Invalid(f"{path}: is a directory")
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        file = temporary.open("xb")
    except OSError as exc:
        raise Invalid(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with file:
            yield file
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def _temporary_directory(parent: Path | None) -> Iterator[Path]:
    """A directory for the sorted runs, removed with everything in it at the end."""
    try:
        directory = tempfile.TemporaryDirectory(prefix="linli-analyze-", dir=parent)
    except OSError as exc:
        raise Invalid(
            f"{parent}: cannot make a temporary directory: {exc.strerror or exc}"
        ) from None
    with directory as name:
        yield Path(name)
