"""Who is calling: gateways and users, each by a bearer token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import class_row

from service.errors import Unauthorized
from service.tokens import GATEWAY_TOKEN_PREFIX, USER_TOKEN_PREFIX, token_hash

Role = Literal["doctor", "admin", "family"]


class UnknownToken(Unauthorized):
    """A token of the right kind that nobody was issued, or that was revoked: what a guess
    looks like, so the caller's address counts it (service/throttle.py)."""


@dataclass(frozen=True)
class Gateway:
    """An authenticated home gateway."""

    id: int
    name: str


@dataclass(frozen=True)
class User:
    """An authenticated person: doctor, admin or family member."""

    id: int
    username: str
    display_name: str
    role: Role
    language: str


# One statement, outside the upload's transaction: `last_seen_at` moves on at most once a
# minute, so that a gateway's concurrent uploads do not queue on its row.
_GATEWAY = """
WITH found AS (
    SELECT id, name, last_seen_at FROM gateways WHERE token_hash = %s AND revoked_at IS NULL
), heard AS (
    UPDATE gateways g SET last_seen_at = now() FROM found
    WHERE g.id = found.id
      AND (found.last_seen_at IS NULL OR found.last_seen_at < now() - INTERVAL '1 minute')
)
SELECT id, name FROM found
"""


async def authenticate_gateway(conn: AsyncConnection[Any], token: str | None) -> Gateway:
    """The gateway this token was issued to, unless it is unknown or revoked; the gateway is
    recorded as heard from (`last_seen_at`), which detection reads to tell a resident who
    stopped measuring from a home whose gateway is offline."""
    if not token or not token.startswith(GATEWAY_TOKEN_PREFIX):
        raise Unauthorized("a gateway token is required: Authorization: Bearer lgw_...")
    async with conn.cursor(row_factory=class_row(Gateway)) as cur:
        await cur.execute(_GATEWAY, (token_hash(token),))
        gateway = await cur.fetchone()
    if gateway is None:
        raise UnknownToken("unknown or revoked gateway token")
    return gateway


async def authenticate_user(conn: AsyncConnection[Any], token: str | None) -> User:
    """The user this token was issued to, unless it, or the user, is revoked."""
    if not token or not token.startswith(USER_TOKEN_PREFIX):
        raise Unauthorized("a user token is required: Authorization: Bearer lus_...")
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(
            """
            UPDATE user_tokens t SET last_used_at = now()
            FROM users u
            WHERE t.token_hash = %s AND t.revoked_at IS NULL
              AND u.id = t.user_id AND u.disabled_at IS NULL
            RETURNING u.id, u.username, u.display_name, u.role, u.language
            """,
            (token_hash(token),),
        )
        user = await cur.fetchone()
    if user is None:
        raise UnknownToken("unknown or revoked user token")
    return user
