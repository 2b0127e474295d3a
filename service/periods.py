"""The period a read route covers: its `since`/`until` query parameters and their defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime

from service.errors import Invalid

SinceQuery = Annotated[AwareDatetime | None, Query(description="From (inclusive), with offset.")]
UntilQuery = Annotated[AwareDatetime | None, Query(description="Until (exclusive); default now.")]


def period(since: datetime | None, until: datetime | None, days: int) -> tuple[datetime, datetime]:
    """`since` to `until`; until defaults to now, since to `days` before until (422 if empty)."""
    until = until or datetime.now(UTC)
    if since is None:
        try:
            since = until - timedelta(days=days)
        except OverflowError:  # `until` in the first days of year 1: no date before it
            message = f"'until' is too early for the default 'since' ({days} days before it)"
            raise Invalid(message) from None
    if since >= until:
        raise Invalid("'since' must be before 'until'")
    return since, until
