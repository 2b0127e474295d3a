"""Who may see which resident: admins everyone, doctors their communities, family their own."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

from service.auth import User
from service.errors import NotFound

# True when the viewer (parameters from `viewer_parameters`) may see the residents row `r`.
# Checks of one resident and lists of many use this one rule.
VISIBLE_RESIDENT = sql.SQL("""(
    %(viewer_role)s = 'admin'
    OR (%(viewer_role)s = 'doctor' AND EXISTS (
            SELECT 1 FROM user_communities uc
            WHERE uc.user_id = %(viewer_id)s AND uc.community_id = r.community_id))
    OR (%(viewer_role)s = 'family' AND EXISTS (
            SELECT 1 FROM user_residents ur
            WHERE ur.user_id = %(viewer_id)s AND ur.resident_id = r.id)))""")

# VISIBLE_RESIDENT within the communities in view, named outright (%(communities)s, ids):
# PostgreSQL then reaches their residents by index instead of testing every resident of the
# city against the rule, which stays as the access check.
VISIBLE_IN_COMMUNITIES = sql.SQL("({} AND r.community_id = ANY(%(communities)s))").format(
    VISIBLE_RESIDENT
)

# True when the alert or finding `a` is meant for the viewer: a family member sees what
# detection addressed to families (not, say, a drift only the doctor follows up); doctors and
# admins see everything of the residents they may see.
MEANT_FOR_VIEWER = sql.SQL("(%(viewer_role)s <> 'family' OR 'family' = ANY(a.audience))")


def viewer_parameters(user: User) -> dict[str, Any]:
    """The query parameters VISIBLE_RESIDENT needs for this user."""
    return {"viewer_role": user.role, "viewer_id": user.id}


async def can_see_resident(conn: AsyncConnection[Any], user: User, resident_id: int) -> bool:
    """True when the resident exists and the user may see their data."""
    query = sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM residents r WHERE r.id = %(resident)s AND {})"
    ).format(VISIBLE_RESIDENT)
    cur = await conn.execute(query, {"resident": resident_id, **viewer_parameters(user)})
    row = await cur.fetchone()
    return bool(row and row[0])


async def ensure_can_see_resident(conn: AsyncConnection[Any], user: User, resident_id: int) -> None:
    """Raise NotFound (404) unless the user may see the resident: others' residents do not exist."""
    if not await can_see_resident(conn, user, resident_id):
        raise NotFound(f"no resident {resident_id}")
