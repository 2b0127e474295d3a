"""Gateways: register one (its token is returned once), list, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from service.errors import NotFound
from service.tokens import GATEWAY_TOKEN_PREFIX, new_token, token_hash


@dataclass(frozen=True)
class GatewayInfo:
    """A gateway as admins see it (never its token)."""

    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None


async def create_gateway(conn: AsyncConnection[Any], name: str) -> tuple[GatewayInfo, str]:
    """Register a gateway; return it and its token (not stored: it cannot be shown again)."""
    token = new_token(GATEWAY_TOKEN_PREFIX)
    async with conn.cursor(row_factory=class_row(GatewayInfo)) as cur:
        await cur.execute(
            """INSERT INTO gateways (name, token_hash) VALUES (%s, %s)
               RETURNING id, name, created_at, revoked_at, last_seen_at""",
            (name, token_hash(token)),
        )
        gateway = await cur.fetchone()
    assert gateway is not None
    return gateway, token


async def list_gateways(conn: AsyncConnection[Any]) -> list[GatewayInfo]:
    """Every gateway, oldest first."""
    async with conn.cursor(row_factory=class_row(GatewayInfo)) as cur:
        await cur.execute(
            "SELECT id, name, created_at, revoked_at, last_seen_at FROM gateways ORDER BY id"
        )
        return await cur.fetchall()


async def revoke_gateway(conn: AsyncConnection[Any], gateway_id: int) -> GatewayInfo:
    """Revoke a gateway's token: its uploads are refused (401) from now on."""
    async with conn.cursor(row_factory=class_row(GatewayInfo)) as cur:
        await cur.execute(
            """UPDATE gateways SET revoked_at = coalesce(revoked_at, now())
               WHERE id = %s RETURNING id, name, created_at, revoked_at, last_seen_at""",
            (gateway_id,),
        )
        gateway = await cur.fetchone()
    if gateway is None:
        raise NotFound(f"no gateway {gateway_id}")
    return gateway
