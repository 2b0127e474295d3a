"""The audit trail: who saw or changed which resident's data, when, from where, and what
changed — field names and ids, never values of personal data.

Every entry is written by `record`, in the transaction of what it records: a change that
commits is audited, and a read that answers wrote its entry first. An erased resident's
entries stay, naming them by number only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

Action = Literal[
    # Reads of one resident's data: the pages, the API, an export.
    "view resident",
    "read resident",
    "read contacts",
    "read readings",
    "read daily summaries",
    "read alerts",
    "read findings",
    "read alert messages",
    "export resident",
    # Reads of many residents at once: one entry, with how many were in the answer.
    "list residents",
    "list alerts",
    "list reachability gaps",
    # Changes.
    "acknowledge alert",
    "resolve alert",
    "add note",
    "create resident",
    "update resident",
    "erase resident",
    "add contact",
    "update contact",
    "remove contact",
    "link family member",
    "unlink family member",
    "assign device",
    "unassign device",
]


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: a user (None for Linli itself or the command line) and the
    client address (None when there is none)."""

    user_id: int | None
    client: str | None


# Changes made by Linli's own code (the demo's seed), with no person behind them.
SYSTEM = Actor(None, None)
# An operator at the `linli admin` command line.
COMMAND_LINE = Actor(None, "cli")


def fields(model: BaseModel) -> list[str]:
    """The names of the fields a request set (what it creates or changes), never their values."""
    return sorted(model.model_fields_set)


async def record(
    conn: AsyncConnection[Any],
    actor: Actor,
    action: Action,
    resident_id: int | None,
    **detail: object,
) -> None:
    """Write one entry of the trail, in the caller's transaction. `detail` holds ids, counts
    and field names only."""
    await conn.execute(
        """INSERT INTO audit_log (user_id, action, resident_id, client, detail)
           VALUES (%s, %s, %s, %s, %s)""",
        (actor.user_id, action, resident_id, actor.client, Jsonb(detail)),
    )


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the trail: who (user id and username), what, about which resident, when,
    from where."""

    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    resident_id: int | None
    client: str | None
    detail: dict[str, Any]


async def entries(
    conn: AsyncConnection[Any],
    *,
    resident_id: int | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries newest first, of one resident and/or user, from `since` on; the next page
    starts before the last entry's id (`before_id`)."""
    conditions: list[sql.Composable] = [sql.SQL("true")]
    params: dict[str, object] = {"limit": limit}
    for column, value in (("resident_id", resident_id), ("user_id", user_id)):
        if value is not None:
            conditions.append(
                sql.SQL("l.{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
            )
            params[column] = value
    if since is not None:
        conditions.append(sql.SQL("l.at >= %(since)s"))
        params["since"] = since
    if before_id is not None:
        conditions.append(sql.SQL("l.id < %(before)s"))
        params["before"] = before_id
    query = sql.SQL(
        """SELECT l.id, l.at, l.user_id, u.username, l.action, l.resident_id, l.client, l.detail
           FROM audit_log l LEFT JOIN users u ON u.id = l.user_id
           WHERE {} ORDER BY l.id DESC LIMIT %(limit)s"""
    ).format(sql.SQL(" AND ").join(conditions))
    async with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()
