"""SQL of the notification outbox: messages written before they are sent, claimed by one
worker at a time, and moved forward only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from service.alerting.plan import Planned

# How far along a notification is; a status callback never moves one back.
RANK = {
    "pending": 0,
    "sending": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "gave_up": 4,
    "cancelled": 4,
}
FAILED = ("undelivered", "failed", "gave_up")
TOLD = ("pending", "sending", "queued", "sent", "delivered")


@dataclass
class Notification:
    """One row of the outbox."""

    id: int
    alert_id: int | None
    resident_id: int | None
    rule: str | None
    purpose: str
    severity: str
    contact_id: int | None
    user_id: int | None
    channel: str
    address: str
    language: str
    body: str
    contact_rank: int
    due_at: datetime
    status: str
    attempts: int
    first_attempt_at: datetime | None
    claimed_at: datetime | None
    provider: str | None
    provider_id: str | None

    @property
    def person_key(self) -> str:
        """The recipient as 'contact:12' or 'user:3'."""
        return f"contact:{self.contact_id}" if self.contact_id else f"user:{self.user_id}"


_COLUMNS = """id, alert_id, resident_id, rule, purpose, severity, contact_id, user_id, channel,
              address, language, body, contact_rank, due_at, status, attempts,
              first_attempt_at, claimed_at, provider, provider_id"""


@dataclass(frozen=True)
class NewMessage:
    """A planned message with its words."""

    planned: Planned
    body: str
    severity: str


async def add(
    conn: AsyncConnection[Any],
    messages: list[NewMessage],
    *,
    alert_id: int | None,
    resident_id: int | None,
    rule: str | None,
    now: datetime,
) -> list[int]:
    """Write the messages to the outbox (as of `now`); their ids."""
    ids = []
    for m in messages:
        person = m.planned.person
        cur = await conn.execute(
            """INSERT INTO notifications (alert_id, resident_id, rule, purpose, severity,
                                          contact_id, user_id, channel, address, language,
                                          body, contact_rank, due_at, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                alert_id,
                resident_id,
                rule,
                m.planned.purpose,
                m.severity,
                person.id if person.kind == "contact" else None,
                person.id if person.kind == "user" else None,
                m.planned.channel,
                person.phone,
                person.language,
                m.body,
                person.rank,
                m.planned.due_at,
                now,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


async def recently_told(
    conn: AsyncConnection[Any], resident_id: int, rule: str, severities: list[str], since: datetime
) -> frozenset[str]:
    """People told (or about to be) of `rule` at one of `severities` since `since`."""
    cur = await conn.execute(
        """SELECT DISTINCT coalesce('contact:' || contact_id, 'user:' || user_id)
           FROM notifications
           WHERE resident_id = %s AND rule = %s AND severity = ANY(%s) AND created_at >= %s
             AND purpose IN ('alert', 'escalation') AND status = ANY(%s)""",
        (resident_id, rule, severities, since, list(TOLD)),
    )
    return frozenset(str(row[0]) for row in await cur.fetchall())


async def already_on_its_way(
    conn: AsyncConnection[Any], alert_id: int, person_key: str, channel: str, now: datetime
) -> bool:
    """Whether the alert has a message to `person_key` on `channel` that is waiting, being
    sent or sent; one waiting (for its delay, or a retry) is made due at `now`."""
    cur = await conn.execute(
        """UPDATE notifications SET due_at = least(due_at, %(now)s), updated_at = now()
           WHERE alert_id = %(alert)s AND channel = %(channel)s AND status = 'pending'
             AND purpose IN ('alert', 'escalation')
             AND coalesce('contact:' || contact_id, 'user:' || user_id) = %(person)s""",
        {"now": now, "alert": alert_id, "channel": channel, "person": person_key},
    )
    if cur.rowcount:
        return True
    cur = await conn.execute(
        """SELECT 1 FROM notifications
           WHERE alert_id = %(alert)s AND channel = %(channel)s
             AND status IN ('sending', 'queued', 'sent', 'delivered')
             AND purpose IN ('alert', 'escalation')
             AND coalesce('contact:' || contact_id, 'user:' || user_id) = %(person)s
           LIMIT 1""",
        {"alert": alert_id, "channel": channel, "person": person_key},
    )
    return await cur.fetchone() is not None


async def cancel_pending(conn: AsyncConnection[Any], alert_id: int, *, keep_all_clear: bool) -> int:
    """Cancel the alert's messages not sent yet; how many."""
    purposes = ["alert", "escalation"] if keep_all_clear else ["alert", "escalation", "all_clear"]
    cur = await conn.execute(
        """UPDATE notifications SET status = 'cancelled', updated_at = now()
           WHERE alert_id = %s AND status = 'pending' AND purpose = ANY(%s)""",
        (alert_id, purposes),
    )
    return cur.rowcount


async def _one(
    conn: AsyncConnection[Any], query: str, params: dict[str, Any] | tuple[Any, ...]
) -> Notification | None:
    """The one notification `query` returns (its columns: RETURNING or SELECT {_COLUMNS})."""
    async with conn.cursor(row_factory=class_row(Notification)) as cur:
        await cur.execute(query.format(columns=_COLUMNS), params)
        return await cur.fetchone()


async def claim_due(conn: AsyncConnection[Any], now: datetime) -> Notification | None:
    """Take the most overdue pending message for this worker (others skip it)."""
    return await _one(
        conn,
        """UPDATE notifications SET status = 'sending', claimed_at = %(now)s,
                  attempts = attempts + 1,
                  first_attempt_at = coalesce(first_attempt_at, %(now)s), updated_at = now()
           WHERE id = (SELECT id FROM notifications
                       WHERE status = 'pending' AND due_at <= %(now)s
                       ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING {columns}""",
        {"now": now},
    )


async def claim_stale(
    conn: AsyncConnection[Any], now: datetime, lease: timedelta
) -> Notification | None:
    """Take a message left 'sending' longer than `lease`: its worker died mid-send."""
    return await _one(
        conn,
        """UPDATE notifications SET claimed_at = %(now)s, updated_at = now()
           WHERE id = (SELECT id FROM notifications
                       WHERE status = 'sending' AND claimed_at < %(before)s
                       ORDER BY claimed_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING {columns}""",
        {"now": now, "before": now - lease},
    )


async def provider_ids_to(
    conn: AsyncConnection[Any], n: Notification, provider: str, since: datetime
) -> set[str]:
    """The provider's ids recorded for other messages to `n`'s number sent since `since`:
    a lookup of `n` at the provider must not take one of them for it."""
    cur = await conn.execute(
        """SELECT provider_id FROM notifications
           WHERE address = %s AND provider = %s AND provider_id IS NOT NULL AND id <> %s
             AND claimed_at >= %s""",
        (n.address, provider, n.id, since),
    )
    return {str(row[0]) for row in await cur.fetchall()}


async def release(conn: AsyncConnection[Any], notification_id: int, due_at: datetime) -> bool:
    """Put a message whose send was lost back in the queue, due at `due_at`, unless a
    delivery report came meanwhile and named it; False then."""
    cur = await conn.execute(
        """UPDATE notifications SET status = 'pending', due_at = %s, updated_at = now()
           WHERE id = %s AND status = 'sending' AND provider_id IS NULL""",
        (due_at, notification_id),
    )
    return cur.rowcount == 1


async def give_up_unconfirmed(
    conn: AsyncConnection[Any], notification_id: int, reason: str
) -> bool:
    """Give up a message whose send was never confirmed, unless a delivery report came
    meanwhile and named it; False then."""
    cur = await conn.execute(
        """UPDATE notifications SET status = 'gave_up', error = %s, updated_at = now()
           WHERE id = %s AND status = 'sending' AND provider_id IS NULL""",
        (reason, notification_id),
    )
    return cur.rowcount == 1


async def get(conn: AsyncConnection[Any], notification_id: int) -> Notification | None:
    """One notification."""
    return await _one(conn, "SELECT {columns} FROM notifications WHERE id = %s", (notification_id,))


async def by_provider_id(
    conn: AsyncConnection[Any], provider: str, provider_id: str
) -> Notification | None:
    """The notification the provider calls `provider_id`, locked for an update."""
    return await _one(
        conn,
        """SELECT {columns} FROM notifications
           WHERE provider = %s AND provider_id = %s FOR UPDATE""",
        (provider, provider_id),
    )


async def latest_to(conn: AsyncConnection[Any], address: str) -> Notification | None:
    """The newest alert message sent to `address` (what a reply answers)."""
    return await _one(
        conn,
        """SELECT {columns} FROM notifications
           WHERE address = %s AND alert_id IS NOT NULL AND purpose IN ('alert', 'escalation')
             AND status IN ('queued', 'sent', 'delivered')
           ORDER BY id DESC LIMIT 1""",
        (address,),
    )


async def record(
    conn: AsyncConnection[Any],
    notification_id: int,
    status: str,
    *,
    provider: str | None = None,
    provider_id: str | None = None,
    error: str | None = None,
    due_at: datetime | None = None,
) -> None:
    """Move a notification to `status` (with what the provider said)."""
    await conn.execute(
        """UPDATE notifications
           SET status = %s, provider = coalesce(%s, provider),
               provider_id = coalesce(%s, provider_id), error = coalesce(%s, error),
               due_at = coalesce(%s, due_at), updated_at = now()
           WHERE id = %s""",
        (status, provider, provider_id, error, due_at, notification_id),
    )


_RANK_SQL = "CASE {} " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in RANK.items()) + " END"


async def record_accepted(
    conn: AsyncConnection[Any], notification_id: int, status: str, provider: str, provider_id: str
) -> None:
    """The provider took the message: its id, and its status unless a delivery report that
    came first already moved it further."""
    await conn.execute(
        f"""UPDATE notifications
            SET provider = %(provider)s, provider_id = %(provider_id)s, updated_at = now(),
                status = CASE WHEN {_RANK_SQL.format("%(status)s")} > {_RANK_SQL.format("status")}
                              THEN %(status)s ELSE status END
            WHERE id = %(id)s""",  # noqa: S608 (constant ranks)
        {"provider": provider, "provider_id": provider_id, "status": status, "id": notification_id},
    )


async def claim_report(
    conn: AsyncConnection[Any], provider: str, provider_id: str, notification_id: int | None
) -> Notification | None:
    """The notification a delivery report is about, locked: by the provider's id, or by our
    own id when the report came before the provider's id was recorded."""
    found = await by_provider_id(conn, provider, provider_id)
    if found is not None or notification_id is None:
        return found
    found = await _one(
        conn,
        """UPDATE notifications SET provider = %(provider)s, provider_id = %(provider_id)s
           WHERE id = %(id)s AND provider_id IS NULL AND status IN ('sending', 'pending')
           RETURNING {columns}""",
        {"provider": provider, "provider_id": provider_id, "id": notification_id},
    )
    return found


async def move_forward(conn: AsyncConnection[Any], notification: Notification, status: str) -> bool:
    """Record a later status from the provider; False when it would move backwards."""
    if RANK[status] <= RANK[notification.status]:
        return False
    await record(conn, notification.id, status)
    return True


async def alert_told(conn: AsyncConnection[Any], alert_id: int) -> list[str]:
    """Who was sent a message about the alert ('contact:12', 'user:3')."""
    cur = await conn.execute(
        """SELECT DISTINCT coalesce('contact:' || contact_id, 'user:' || user_id)
           FROM notifications
           WHERE alert_id = %s AND purpose IN ('alert', 'escalation')
             AND status IN ('queued', 'sent', 'delivered')""",
        (alert_id,),
    )
    return [str(row[0]) for row in await cur.fetchall()]
