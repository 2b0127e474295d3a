"""The morning digest: one SMS a day to each doctor with a phone, naming the residents whose
warnings opened in the last day (warnings reach doctors this way, not one message each).

Any number of workers may prepare digests at once: one row per doctor and day is allowed
(a unique index), so the second worker's insert does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from service.alerting import messages


@dataclass
class _Doctor:
    id: int
    phone: str
    language: str
    day: date


async def prepare_digests(conn: AsyncConnection[Any], now: datetime, hour: int) -> int:
    """Write today's digest for every doctor whose local clock has passed `hour` and who has
    none yet; how many messages that makes (a doctor with no warnings gets none)."""
    async with conn.cursor(row_factory=class_row(_Doctor)) as cur:
        await cur.execute(
            """SELECT u.id, u.phone, u.language, (%(now)s AT TIME ZONE z.name)::date AS day
               FROM users u
               -- A zone PostgreSQL does not know would fail the whole query: skip it.
               JOIN pg_timezone_names z ON z.name = u.time_zone
               WHERE u.role = 'doctor' AND u.disabled_at IS NULL AND u.phone IS NOT NULL
                 AND extract(hour FROM %(now)s AT TIME ZONE z.name) >= %(hour)s
                 AND NOT EXISTS (
                     SELECT 1 FROM notifications n
                     WHERE n.purpose = 'digest' AND n.user_id = u.id
                       AND n.digest_day = (%(now)s AT TIME ZONE z.name)::date)""",
            {"now": now, "hour": hour},
        )
        doctors = await cur.fetchall()
    written = 0
    for doctor in doctors:
        names = await _warned_residents(conn, doctor.id, now)
        body = messages.digest_sms(doctor.language, len(names), names) if names else ""
        cur2 = await conn.execute(
            """INSERT INTO notifications (purpose, severity, user_id, channel, address,
                                          language, body, due_at, digest_day, status,
                                          created_at)
               VALUES ('digest', 'warning', %s, 'sms', %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (user_id, digest_day) WHERE purpose = 'digest' DO NOTHING""",
            (
                doctor.id,
                doctor.phone,
                doctor.language,
                body,
                now,
                doctor.day,
                "pending" if names else "cancelled",  # nothing to say: the day is done
                now,
            ),
        )
        written += cur2.rowcount if names else 0
    return written


async def _warned_residents(conn: AsyncConnection[Any], doctor_id: int, now: datetime) -> list[str]:
    """Residents of the doctor with a warning for the doctor opened in the last day."""
    cur = await conn.execute(
        """SELECT r.name, min(a.opened_at) AS first
           FROM alerts a JOIN residents r ON r.id = a.resident_id
           WHERE a.severity = 'warning' AND 'doctor' = ANY(a.audience)
             AND a.opened_at >= %(since)s AND a.opened_at < %(now)s
             AND (r.doctor_id = %(doctor)s
                  OR (r.doctor_id IS NULL AND r.community_id IN (
                      SELECT community_id FROM user_communities WHERE user_id = %(doctor)s)))
           GROUP BY r.id, r.name ORDER BY first""",
        {"doctor": doctor_id, "since": now - timedelta(days=1), "now": now},
    )
    return [str(row[0]) for row in await cur.fetchall()]
