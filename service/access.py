"""Who may see which resident: admins everyone, doctors their communities, family their own."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from service.auth import User
from service.errors import NotFound


async def can_see_resident(conn: AsyncConnection[Any], user: User, resident_id: int) -> bool:
    """True when the resident exists and the user may see their data."""
    cur = await conn.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM residents r
            WHERE r.id = %(resident)s AND (
                %(role)s = 'admin'
                OR (%(role)s = 'doctor' AND EXISTS (
                        SELECT 1 FROM user_communities uc
                        WHERE uc.user_id = %(user)s AND uc.community_id = r.community_id))
                OR (%(role)s = 'family' AND EXISTS (
                        SELECT 1 FROM user_residents ur
                        WHERE ur.user_id = %(user)s AND ur.resident_id = r.id))))
        """,
        {"resident": resident_id, "role": user.role, "user": user.id},
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def ensure_can_see_resident(conn: AsyncConnection[Any], user: User, resident_id: int) -> None:
    """Raise NotFound (404) unless the user may see the resident: others' residents do not exist."""
    if not await can_see_resident(conn, user, resident_id):
        raise NotFound(f"no resident {resident_id}")
