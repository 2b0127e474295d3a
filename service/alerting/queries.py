"""Reading what alerting did and what it lacks: an alert's messages, and the residents whose
chain of people has a gap (nobody to text, nobody to call, no doctor with a phone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from service.access import VISIBLE_RESIDENT, viewer_parameters
from service.alerting.people import load_household
from service.auth import User


@dataclass(frozen=True)
class SentMessage:
    """One message about an alert: to whom, how, and what became of it."""

    id: int
    purpose: str
    recipient: str  # 'contact:12' or 'user:3'
    recipient_name: str | None
    channel: str
    address: str
    body: str
    due_at: datetime
    status: str
    attempts: int
    error: str | None
    updated_at: datetime


async def alert_messages(conn: AsyncConnection[Any], alert_id: int) -> list[SentMessage]:
    """The messages about an alert, in the order they were written."""
    async with conn.cursor(row_factory=class_row(SentMessage)) as cur:
        await cur.execute(
            """SELECT n.id, n.purpose,
                      coalesce('contact:' || n.contact_id, 'user:' || n.user_id) AS recipient,
                      coalesce(c.name, u.display_name) AS recipient_name,
                      n.channel, n.address, n.body, n.due_at, n.status, n.attempts, n.error,
                      n.updated_at
               FROM notifications n
               LEFT JOIN contacts c ON c.id = n.contact_id
               LEFT JOIN users u ON u.id = n.user_id
               WHERE n.alert_id = %s ORDER BY n.id""",
            (alert_id,),
        )
        return await cur.fetchall()


async def alert_resident(conn: AsyncConnection[Any], alert_id: int) -> int | None:
    """The resident an alert is about, or None for an unknown alert."""
    cur = await conn.execute("SELECT resident_id FROM alerts WHERE id = %s", (alert_id,))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


@dataclass(frozen=True)
class Gap:
    """A resident who could not be reached as the policy means to, and why."""

    resident_id: int
    resident_name: str
    problems: list[str]


async def reachability_gaps(conn: AsyncConnection[Any], user: User) -> list[Gap]:
    """The residents the user may see whose alerts would not reach someone they should."""
    query = sql.SQL("SELECT r.id, r.name FROM residents r WHERE {} ORDER BY r.id").format(
        VISIBLE_RESIDENT
    )
    cur = await conn.execute(query, viewer_parameters(user))
    gaps = []
    for resident_id, name in await cur.fetchall():
        household = await load_household(conn, resident_id)
        if household is None:
            continue
        problems = []
        if not household.family:
            problems.append("no family contact")
        elif not any(p.reachable_by("sms") for p in household.family):
            problems.append("no family contact can receive SMS")
        for person in household.family:
            if not person.sms:
                problems.append(f"contact {person.name}: no SMS (landline, or replied STOP)")
        if not any(p.phone for p in household.doctors):
            problems.append("no doctor with a phone number")
        if problems:
            gaps.append(Gap(resident_id, name, problems))
    return gaps
