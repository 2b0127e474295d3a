"""Hypothesis as the fuzz tests use it: how many examples (tests.effort's quick and long
counts), and a record of how many each test ran."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

from tests.effort import record, tries

F = TypeVar("F", bound=Callable[..., Any])


def examples(quick: int, long: int, **more: Any) -> settings:
    """Hypothesis settings running `quick` examples in CI, `long` under `pytest --long`.

    No deadline: the machines that run the suite are shared, and an example that waits for a
    database or a process now and then is slow without being wrong.
    """
    return settings(max_examples=tries(quick, long), deadline=None, **more)


# For @given tests that take a function-scoped fixture on purpose: every example runs against
# the same service and database, which is what the fuzzing means to stress.
SHARED_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def current_test() -> str:
    """The running test's pytest id (parameters included)."""
    return os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]


def counted(test: F) -> F:
    """Record (tests.effort.record) how many examples a @given test ran, under its pytest id."""
    inner = test.hypothesis.inner_test  # type: ignore[attr-defined]
    ran = 0

    @functools.wraps(inner)
    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal ran
        ran += 1
        return inner(*args, **kwargs)

    test.hypothesis.inner_test = counting  # type: ignore[attr-defined]

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        nonlocal ran
        ran = 0
        try:
            return test(*args, **kwargs)
        finally:
            record(current_test(), "examples", ran)

    return run  # type: ignore[return-value]
