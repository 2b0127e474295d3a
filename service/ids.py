"""Ids as the API takes them: whole numbers a PostgreSQL bigint holds.

JSON and URLs carry integers of any size, and an id past the bigint range would reach
PostgreSQL and fail there ("bigint out of range") as a server error. Declared with this type,
such an id is refused up front with a 422 naming the field, and the OpenAPI schema states
the range.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1

Id = Annotated[int, Interval(ge=BIGINT_MIN, le=BIGINT_MAX)]
