"""How hard the reliability tests try, and what they report.

CI runs the quick variant of each (a few rounds of kills, some hundreds of fuzz examples).
`pytest --long` runs the long one. With LINLI_TEST_FIGURES naming a file, every test that
counts what it tried (rounds survived, examples run, cells checked) adds a JSON line to it:
docs/reliability.md reports them.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

LONG_ENV = "LINLI_TEST_LONG"
FIGURES_ENV = "LINLI_TEST_FIGURES"


def long_run() -> bool:
    """True under `pytest --long`."""
    return os.environ.get(LONG_ENV) == "1"


def tries(quick: int, long: int) -> int:
    """`quick` in CI, `long` under `pytest --long`."""
    return long if long_run() else quick


def record(test: str, figure: str, value: float) -> None:
    """Note a figure of a test (appended; pytest-xdist's workers write lines of their own)."""
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    line = orjson.dumps({"test": test, "figure": figure, "value": value, "long": long_run()})
    with Path(path).open("ab") as out:
        out.write(line + b"\n")
