"""Residents: the people Linli watches over. Create, list, look up, change, delete."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.rows import class_row

from service.admin.schemas import (
    ResidentCreate,
    ResidentUpdate,
    StoredOverrides,
    as_parameters,
    set_clause,
)
from service.errors import Invalid, NotFound
from service.privacy import audit
from service.privacy.audit import SYSTEM, Actor

_RULES = {
    "residents_birth_date_check": "the birth date must be after 1900-01-01",
    "residents_conditions_check": "conditions may only be hypertension and diabetes",
}


@dataclass(frozen=True)
class Resident:
    """A resident with their conditions, place and personal targets (None: guideline default)."""

    id: int
    name: str
    sex: str
    birth_date: date
    conditions: list[str]
    community_id: int
    grid_id: int | None
    language: str
    time_zone: str
    target_systolic: int | None
    target_diastolic: int | None
    target_fasting_glucose: float | None
    detection_overrides: StoredOverrides
    doctor_id: int | None
    created_at: datetime
    updated_at: datetime


_COLUMNS = sql.SQL(
    """id, name, sex, birth_date, conditions, community_id, grid_id, language, time_zone,
       target_systolic, target_diastolic, target_fasting_glucose, detection_overrides,
       doctor_id, created_at, updated_at"""
)


def check_time_zone(name: str) -> None:
    """Refuse (Invalid) a time zone the IANA database does not know."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory of the zone database, like "Asia".
        raise Invalid(f"unknown time zone {name!r}; use an IANA name like Asia/Shanghai") from None


async def check_doctor(conn: AsyncConnection[Any], user_id: int) -> None:
    """Refuse (Invalid) a doctor_id that does not name an enabled user with role doctor.

    The user's row stays locked (FOR SHARE) until the transaction ends, so nobody changes
    their role or disables them in between.
    """
    cur = await conn.execute(
        "SELECT role, disabled_at IS NOT NULL FROM users WHERE id = %s FOR SHARE", (user_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise Invalid(f"no user {user_id}")
    role, disabled = row
    if role != "doctor":
        raise Invalid(f"user {user_id} is not a doctor (role {role})")
    if disabled:
        raise Invalid(f"user {user_id} is disabled")


@contextmanager
def _resident_errors(
    community_id: int, grid_id: int | None, doctor_id: int | None = None
) -> Iterator[None]:
    try:
        yield
    except errors.ForeignKeyViolation as exc:
        if exc.diag.constraint_name == "residents_community_id_fkey":
            raise Invalid(f"no community {community_id}") from None
        if exc.diag.constraint_name == "residents_doctor_id_fkey":
            raise Invalid(f"no user {doctor_id}") from None
        raise Invalid(f"grid {grid_id} is not a grid of community {community_id}") from None
    except errors.CheckViolation as exc:
        rule = exc.diag.constraint_name or ""
        raise Invalid(_RULES.get(rule, f"resident rejected by rule {rule}")) from None


async def create_resident(
    conn: AsyncConnection[Any], data: ResidentCreate, *, actor: Actor = SYSTEM
) -> Resident:
    """Add a resident to a community (and, optionally, to one of its grids); audited."""
    check_time_zone(data.time_zone)
    if data.doctor_id is not None:
        await check_doctor(conn, data.doctor_id)
    values = as_parameters(data.model_dump())
    query = sql.SQL("INSERT INTO residents ({}) VALUES ({}) RETURNING {}").format(
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(map(sql.Placeholder, values)),
        _COLUMNS,
    )
    async with conn.cursor(row_factory=class_row(Resident)) as cur:
        with _resident_errors(data.community_id, data.grid_id, data.doctor_id):
            await cur.execute(query, values)
        resident = await cur.fetchone()
    assert resident is not None
    await audit.record(conn, actor, "create resident", resident.id, fields=audit.fields(data))
    return resident


async def list_residents(
    conn: AsyncConnection[Any],
    *,
    community_id: int | None = None,
    grid_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Resident]:
    """Residents in id order, optionally only those of one community and/or grid; one page."""
    query = sql.SQL(
        """SELECT {} FROM residents
           WHERE (%(community_id)s::bigint IS NULL OR community_id = %(community_id)s)
             AND (%(grid_id)s::bigint IS NULL OR grid_id = %(grid_id)s)
           ORDER BY id LIMIT %(limit)s OFFSET %(offset)s"""
    ).format(_COLUMNS)
    params = {"community_id": community_id, "grid_id": grid_id, "limit": limit, "offset": offset}
    async with conn.cursor(row_factory=class_row(Resident)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def get_resident(conn: AsyncConnection[Any], resident_id: int) -> Resident:
    """One resident by id."""
    query = sql.SQL("SELECT {} FROM residents WHERE id = %s").format(_COLUMNS)
    async with conn.cursor(row_factory=class_row(Resident)) as cur:
        await cur.execute(query, (resident_id,))
        resident = await cur.fetchone()
    if resident is None:
        raise NotFound(f"no resident {resident_id}")
    return resident


async def update_resident(
    conn: AsyncConnection[Any], resident_id: int, data: ResidentUpdate, *, actor: Actor = SYSTEM
) -> Resident:
    """Change the fields that were set; the others stay. A new community needs a fitting grid.
    Audited with the names of the fields changed."""
    current = await get_resident(conn, resident_id)
    changes = data.changes()
    if not changes:
        return current
    if "time_zone" in changes:
        check_time_zone(changes["time_zone"])
    if changes.get("doctor_id") is not None:
        await check_doctor(conn, changes["doctor_id"])
    query = sql.SQL(
        "UPDATE residents SET {}, updated_at = now() WHERE id = %(id)s RETURNING {}"
    ).format(set_clause(changes), _COLUMNS)
    community_id = changes.get("community_id", current.community_id)
    grid_id = changes.get("grid_id", current.grid_id)
    async with conn.cursor(row_factory=class_row(Resident)) as cur:
        with _resident_errors(community_id, grid_id, changes.get("doctor_id")):
            await cur.execute(query, {**as_parameters(changes), "id": resident_id})
        resident = await cur.fetchone()
    assert resident is not None
    await audit.record(conn, actor, "update resident", resident_id, fields=sorted(changes))
    return resident
