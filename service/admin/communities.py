"""Communities (社区) and their grids (网格): create, list, look up, change, delete."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.rows import class_row

from service.admin.schemas import (
    CommunityCreate,
    CommunityUpdate,
    GridCreate,
    GridUpdate,
    StoredAlertingOverrides,
    StoredOverrides,
    as_parameters,
    set_clause,
)
from service.errors import Conflict, Invalid, NotFound


@dataclass(frozen=True)
class Community:
    """A community served by Linli."""

    id: int
    name: str
    name_en: str | None
    district: str
    subdistrict: str | None
    detection_overrides: StoredOverrides
    alerting_overrides: StoredAlertingOverrides
    created_at: datetime


@dataclass(frozen=True)
class Grid:
    """A grid: the part of a community one grid worker looks after."""

    id: int
    community_id: int
    name: str
    created_at: datetime


_COMMUNITY = sql.SQL(
    """id, name, name_en, district, subdistrict, detection_overrides, alerting_overrides,
       created_at"""
)
_GRID = sql.SQL("id, community_id, name, created_at")


@contextmanager
def _community_errors(name: str | None) -> Iterator[None]:
    try:
        yield
    except errors.UniqueViolation:
        raise Conflict(f"a community named {name!r} already exists") from None
    except errors.CheckViolation as exc:
        raise Invalid(f"community rejected by rule {exc.diag.constraint_name}") from None


@contextmanager
def _grid_errors(community_id: int, name: str | None) -> Iterator[None]:
    try:
        yield
    except errors.UniqueViolation:
        raise Conflict(f"community {community_id} already has a grid named {name!r}") from None
    except errors.ForeignKeyViolation:
        raise NotFound(f"no community {community_id}") from None
    except errors.CheckViolation as exc:
        raise Invalid(f"grid rejected by rule {exc.diag.constraint_name}") from None


async def create_community(conn: AsyncConnection[Any], data: CommunityCreate) -> Community:
    """Add a community; its name must be unused."""
    query = sql.SQL(
        """INSERT INTO communities (name, name_en, district, subdistrict, detection_overrides,
                                    alerting_overrides)
           VALUES (%(name)s, %(name_en)s, %(district)s, %(subdistrict)s,
                   %(detection_overrides)s, %(alerting_overrides)s)
           RETURNING {}"""
    ).format(_COMMUNITY)
    async with conn.cursor(row_factory=class_row(Community)) as cur:
        with _community_errors(data.name):
            await cur.execute(query, as_parameters(data.model_dump()))
        community = await cur.fetchone()
    assert community is not None
    return community


async def list_communities(conn: AsyncConnection[Any]) -> list[Community]:
    """Every community, by name."""
    query = sql.SQL("SELECT {} FROM communities ORDER BY name, id").format(_COMMUNITY)
    async with conn.cursor(row_factory=class_row(Community)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def get_community(conn: AsyncConnection[Any], community_id: int) -> Community:
    """One community by id."""
    query = sql.SQL("SELECT {} FROM communities WHERE id = %s").format(_COMMUNITY)
    async with conn.cursor(row_factory=class_row(Community)) as cur:
        await cur.execute(query, (community_id,))
        community = await cur.fetchone()
    if community is None:
        raise NotFound(f"no community {community_id}")
    return community


async def update_community(
    conn: AsyncConnection[Any], community_id: int, data: CommunityUpdate
) -> Community:
    """Change the fields that were set; the others stay."""
    changes = data.changes()
    if not changes:
        return await get_community(conn, community_id)
    query = sql.SQL("UPDATE communities SET {} WHERE id = %(id)s RETURNING {}").format(
        set_clause(changes), _COMMUNITY
    )
    async with conn.cursor(row_factory=class_row(Community)) as cur:
        with _community_errors(changes.get("name")):
            await cur.execute(query, {**as_parameters(changes), "id": community_id})
        community = await cur.fetchone()
    if community is None:
        raise NotFound(f"no community {community_id}")
    return community


async def delete_community(conn: AsyncConnection[Any], community_id: int) -> None:
    """Delete a community and its grids; refused while residents live in it."""
    try:
        cur = await conn.execute("DELETE FROM communities WHERE id = %s", (community_id,))
    except errors.ForeignKeyViolation:
        raise Conflict(
            f"community {community_id} still has residents; move or delete them first"
        ) from None
    if cur.rowcount == 0:
        raise NotFound(f"no community {community_id}")


async def create_grid(conn: AsyncConnection[Any], community_id: int, data: GridCreate) -> Grid:
    """Add a grid to a community; grid names are unique within their community."""
    query = sql.SQL("INSERT INTO grids (community_id, name) VALUES (%s, %s) RETURNING {}").format(
        _GRID
    )
    async with conn.cursor(row_factory=class_row(Grid)) as cur:
        with _grid_errors(community_id, data.name):
            await cur.execute(query, (community_id, data.name))
        grid = await cur.fetchone()
    assert grid is not None
    return grid


async def list_grids(conn: AsyncConnection[Any], community_id: int) -> list[Grid]:
    """The grids of a community, by name."""
    await get_community(conn, community_id)
    query = sql.SQL("SELECT {} FROM grids WHERE community_id = %s ORDER BY name, id").format(_GRID)
    async with conn.cursor(row_factory=class_row(Grid)) as cur:
        await cur.execute(query, (community_id,))
        return await cur.fetchall()


async def get_grid(conn: AsyncConnection[Any], grid_id: int) -> Grid:
    """One grid by id."""
    query = sql.SQL("SELECT {} FROM grids WHERE id = %s").format(_GRID)
    async with conn.cursor(row_factory=class_row(Grid)) as cur:
        await cur.execute(query, (grid_id,))
        grid = await cur.fetchone()
    if grid is None:
        raise NotFound(f"no grid {grid_id}")
    return grid


async def update_grid(conn: AsyncConnection[Any], grid_id: int, data: GridUpdate) -> Grid:
    """Rename a grid."""
    grid = await get_grid(conn, grid_id)
    changes = data.changes()
    if not changes:
        return grid
    query = sql.SQL("UPDATE grids SET {} WHERE id = %(id)s RETURNING {}").format(
        set_clause(changes), _GRID
    )
    async with conn.cursor(row_factory=class_row(Grid)) as cur:
        with _grid_errors(grid.community_id, changes.get("name")):
            await cur.execute(query, {**changes, "id": grid_id})
        updated = await cur.fetchone()
    assert updated is not None
    return updated


async def delete_grid(conn: AsyncConnection[Any], grid_id: int) -> None:
    """Delete a grid; refused while residents are in it."""
    try:
        cur = await conn.execute("DELETE FROM grids WHERE id = %s", (grid_id,))
    except errors.ForeignKeyViolation:
        raise Conflict(f"grid {grid_id} still has residents; move them first") from None
    if cur.rowcount == 0:
        raise NotFound(f"no grid {grid_id}")
