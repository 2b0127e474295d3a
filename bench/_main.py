"""What every benchmark's `main` does around its run: a console as wide as the tables when
the output goes to a file, SIGTERM unwinding like Ctrl-C (so that every server and scratch
database a run started is stopped), the figures written as JSON, and one line on stderr with
exit 1 on failure, 130 on an interruption."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import httpx
import orjson
import psycopg
from rich.console import Console

from bench._servers import BenchError

# What a benchmark may fail with that is not a bug in it: a setting, a server, a file.
FAILURES: tuple[type[Exception], ...] = (BenchError, psycopg.Error, httpx.HTTPError, OSError)


def console(width: int = 132) -> Console:
    """A console for a terminal, or `width` columns wide for a file or a pipe."""
    return Console(width=None if sys.stdout.isatty() else width)


def run_main(
    name: str,
    work: Callable[[], Any],
    json_path: Path | None,
    failures: tuple[type[Exception], ...] = FAILURES,
    succeeded: Callable[[Any], bool] = lambda _: True,
) -> int:
    """Call `work` and write the document it returns to `json_path` (when given); the exit
    code: 0, or 1 when it failed (one line on stderr) or `succeeded` says the document shows
    a failure, 130 on Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        document = work()
        if json_path is not None:
            json_path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    except failures as exc:
        print(f"{name}: {' '.join(str(exc).split()) or repr(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    return 0 if succeeded(document) else 1


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGTERM: unwind like Ctrl-C."""
    raise KeyboardInterrupt
