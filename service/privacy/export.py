"""A resident's data on request: one JSON document with everything Linli holds about them.

The document is written a piece at a time: every list is read through a server-side cursor,
`BATCH` rows at a time, so a resident with years of readings never sits in memory whole. It
is read in one REPEATABLE READ transaction, one consistent picture however long it takes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from service.errors import NotFound
from service.privacy import audit
from service.privacy.audit import Actor

FORMAT = "linli-resident-export/1"
BATCH = 1000

# Sections that are one object (or null).
_ONE = {
    "resident": """
        SELECT r.*, c.name AS community_name, g.name AS grid_name,
               u.display_name AS doctor_name
        FROM residents r JOIN communities c ON c.id = r.community_id
        LEFT JOIN grids g ON g.id = r.grid_id LEFT JOIN users u ON u.id = r.doctor_id
        WHERE r.id = %(r)s""",
    "detection_state": "SELECT * FROM detection_states WHERE resident_id = %(r)s",
    "summary": "SELECT * FROM resident_summaries WHERE resident_id = %(r)s",
}
# Sections that are lists, in a stable order.
_MANY = {
    "contacts": "SELECT * FROM contacts WHERE resident_id = %(r)s ORDER BY escalation_order",
    "family_members": """
        SELECT u.id AS user_id, u.username, u.display_name, u.phone, u.language
        FROM user_residents ur JOIN users u ON u.id = ur.user_id
        WHERE ur.resident_id = %(r)s ORDER BY u.id""",
    "devices": """
        SELECT d.serial, d.kind, d.model, d.manufacturer, d.battery_percent, d.last_sync_at,
               du.user_index, du.assigned_at
        FROM device_users du JOIN devices d ON d.id = du.device_id
        WHERE du.resident_id = %(r)s ORDER BY d.serial, du.user_index""",
    "findings": "SELECT * FROM findings WHERE resident_id = %(r)s ORDER BY at, id",
    "alerts": "SELECT * FROM alerts WHERE resident_id = %(r)s ORDER BY opened_at, id",
    # Every message about them or their alerts, with its status (doctors' digests, which
    # list several residents, are the doctors').
    "notifications": """
        SELECT * FROM notifications
        WHERE resident_id = %(r)s
           OR alert_id IN (SELECT id FROM alerts WHERE resident_id = %(r)s)
        ORDER BY id""",
    "notes": """
        SELECT n.*, u.display_name AS author FROM notes n LEFT JOIN users u ON u.id = n.user_id
        WHERE n.resident_id = %(r)s ORDER BY n.at, n.id""",
    "months": "SELECT * FROM resident_months WHERE resident_id = %(r)s ORDER BY month",
    "audit": """
        SELECT l.*, u.username FROM audit_log l LEFT JOIN users u ON u.id = l.user_id
        WHERE l.resident_id = %(r)s ORDER BY l.id""",
    "blood_pressure_readings": """
        SELECT d.serial AS device_serial, b.*
        FROM blood_pressure_readings b JOIN devices d ON d.id = b.device_id
        WHERE b.resident_id = %(r)s ORDER BY b.measured_at, b.id""",
    "glucose_readings": """
        SELECT d.serial AS device_serial, g.*
        FROM glucose_readings g JOIN devices d ON d.id = g.device_id
        WHERE g.resident_id = %(r)s ORDER BY g.measured_at, g.id""",
}


def _json(value: object) -> bytes:
    # Anything orjson does not know (none of Linli's columns, today) as its text.
    return orjson.dumps(value, default=str)


async def audit_export(conn: AsyncConnection[Any], actor: Actor, resident_id: int) -> None:
    """Refuse (NotFound) a resident who does not exist; otherwise write the export to the
    trail, in the caller's transaction, to be committed before any of it goes out."""
    cur = await conn.execute("SELECT 1 FROM residents WHERE id = %s", (resident_id,))
    if await cur.fetchone() is None:
        raise NotFound(f"no resident {resident_id}")
    await audit.record(conn, actor, "export resident", resident_id)


@asynccontextmanager
async def snapshot(conn: AsyncConnection[Any]) -> AsyncIterator[AsyncConnection[Any]]:
    """One read-only transaction that sees the database as it was when it began."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn


async def chunks(
    conn: AsyncConnection[Any], resident_id: int, now: datetime
) -> AsyncIterator[bytes]:
    """The document, piece by piece, read in the caller's transaction."""
    head = _json({"format": FORMAT, "exported_at": now, "resident_id": resident_id})
    yield head[:-1]  # the object stays open for the sections
    params = {"r": resident_id}
    for key, query in _ONE.items():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            yield b',"' + key.encode() + b'":' + _json(await cur.fetchone())
    for key, query in _MANY.items():
        yield b',"' + key.encode() + b'":['
        separator = b""
        async with conn.cursor(name=f"export_{key}", row_factory=dict_row) as cur:
            await cur.execute(query, params)
            while rows := await cur.fetchmany(BATCH):
                yield separator + b",".join(_json(row) for row in rows)
                separator = b","
        yield b"]"
    yield b"}\n"


async def write(
    conninfo: str, resident_id: int, actor: Actor, sink: Callable[[bytes], object]
) -> None:
    """Audit the export (committed first: NotFound for nobody), then hand the document to
    `sink` piece by piece (the command line's)."""
    async with await AsyncConnection.connect(conninfo) as conn:
        async with conn.transaction():
            await audit_export(conn, actor, resident_id)
        async with snapshot(conn):
            async for chunk in chunks(conn, resident_id, datetime.now(UTC)):
                sink(chunk)


async def stream(pool: AsyncConnectionPool, resident_id: int) -> AsyncIterator[bytes]:
    """The document from a connection of the pool (for a streamed answer)."""
    async with pool.connection() as conn, snapshot(conn):
        async for chunk in chunks(conn, resident_id, datetime.now(UTC)):
            yield chunk
