"""Erasure: a resident deleted with everything Linli holds about them, in one transaction.

Most of it goes with the resident's row (ON DELETE CASCADE): contacts, family links, device
assignments, findings, alerts, the messages about them with their phone numbers and bodies,
notes, detection state, queued checks, summaries and months. What no foreign key reaches is
removed here: their readings (explicitly, so that TimescaleDB's compressed chunks are
searched by device, and the continuous aggregates refreshed over their days afterwards), their
name in doctors' morning digests, and jobs queued for them. The audit trail keeps the
resident's number, with who erased them and how much went.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from service.errors import NotFound
from service.privacy import aggregates, audit
from service.privacy.audit import Actor

# Rows that go with the resident's, counted for the audit trail.
_CASCADED = (
    "contacts",
    "user_residents",
    "device_users",
    "findings",
    "alerts",
    "notifications",
    "notes",
    "readings_to_check",
)
# What a digest shows instead of an erased resident's name.
ERASED_NAME = "***"


@dataclass(frozen=True)
class Erased:
    """What an erasure removed: rows per table, and each readings table's span of times."""

    resident_id: int
    counts: dict[str, int]
    spans: dict[str, tuple[datetime | None, datetime]] = field(default_factory=dict)


async def erase_resident(pool: AsyncConnectionPool, resident_id: int, actor: Actor) -> Erased:
    """Erase the resident (NotFound if there is none), audited; then make TimescaleDB's daily
    summaries forget their days."""
    async with pool.connection() as conn:
        async with conn.transaction():
            erased = await erase(conn, resident_id, actor)
        await aggregates.forget(conn, erased.spans)
    return erased


async def erase(conn: AsyncConnection[Any], resident_id: int, actor: Actor) -> Erased:
    """Delete everything about the resident in the caller's transaction, audited."""
    # A check of the resident's readings holds their detection state while it writes
    # findings: wait for it, then hold the resident so that nothing new refers to them.
    await conn.execute(
        "SELECT 1 FROM detection_states WHERE resident_id = %s FOR UPDATE", (resident_id,)
    )
    cur = await conn.execute("SELECT name FROM residents WHERE id = %s FOR UPDATE", (resident_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no resident {resident_id}")
    counts = await _count_cascaded(conn, resident_id)
    spans: dict[str, tuple[datetime | None, datetime]] = {}
    for table in aggregates.DAILY:
        deleted, span = await _delete_readings(conn, table, resident_id)
        counts[table] = deleted
        if span is not None:
            spans[table] = span
    counts["digests"] = await _scrub_digests(conn, str(row[0]))
    counts["jobs"] = await _drop_jobs(conn, resident_id)
    await conn.execute("DELETE FROM residents WHERE id = %s", (resident_id,))
    await audit.record(conn, actor, "erase resident", resident_id, deleted=counts)
    return Erased(resident_id, counts, spans)


async def _count_cascaded(conn: AsyncConnection[Any], resident_id: int) -> dict[str, int]:
    counted = sql.SQL(", ").join(
        sql.SQL("(SELECT count(*) FROM {} WHERE resident_id = %(r)s)").format(sql.Identifier(t))
        for t in _CASCADED
    )
    cur = await conn.execute(sql.SQL("SELECT {}").format(counted), {"r": resident_id})
    row = await cur.fetchone()
    assert row is not None
    return {table: int(n) for table, n in zip(_CASCADED, row, strict=True)}


async def _delete_readings(
    conn: AsyncConnection[Any], table: str, resident_id: int
) -> tuple[int, tuple[datetime, datetime] | None]:
    """Delete the resident's readings of one table: how many, and their first and last time.

    The delete names the devices too: TimescaleDB compresses readings by device, so it opens
    only those devices' compressed batches instead of every one."""
    cur = await conn.execute(
        sql.SQL(
            """SELECT array_agg(DISTINCT device_id), count(*), min(measured_at), max(measured_at)
               FROM {} WHERE resident_id = %s"""
        ).format(sql.Identifier(table)),
        (resident_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    devices, count, first, last = row
    if not count:
        return 0, None
    await conn.execute(
        sql.SQL("DELETE FROM {} WHERE resident_id = %s AND device_id = ANY(%s)").format(
            sql.Identifier(table)
        ),
        (resident_id, devices),
    )
    return int(count), (first, last)


async def _scrub_digests(conn: AsyncConnection[Any], name: str) -> int:
    """Take the resident's name out of doctors' morning digests, which list several residents
    by name (and name no resident by id); how many digests named them."""
    # As service.alerting.messages shortens a long name in an SMS.
    short = name if len(name) <= 20 else name[:19] + "…"
    cur = await conn.execute(
        """UPDATE notifications
           SET body = replace(replace(body, %(name)s, %(erased)s), %(short)s, %(erased)s),
               updated_at = now()
           WHERE purpose = 'digest'
             AND (strpos(body, %(name)s) > 0 OR strpos(body, %(short)s) > 0)""",
        {"name": name, "short": short, "erased": ERASED_NAME},
    )
    return cur.rowcount


async def _drop_jobs(conn: AsyncConnection[Any], resident_id: int) -> int:
    """Delete background jobs waiting (or kept after failing) for the resident; one running
    now finds nobody to check and ends."""
    cur = await conn.execute(
        """DELETE FROM procrastinate_jobs
           WHERE status <> 'doing' AND args @> jsonb_build_object('resident_id', %s::bigint)""",
        (resident_id,),
    )
    return cur.rowcount
