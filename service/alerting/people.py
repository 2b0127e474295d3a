"""The people around a resident who can be told: family contacts in escalation order, and the
resident's doctor (or, without one, the doctors serving the community)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

import phonenumbers
from psycopg import AsyncConnection
from psycopg.rows import class_row

from service.alerting.plan import Person
from service.alerting.policy import Policy, policy_with_overrides

# Number types that take SMS; a fixed line is called instead.
_MOBILE = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.UNKNOWN,
}


def takes_sms(phone: str) -> bool:
    """Whether the number can receive SMS (a fixed line cannot)."""
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in _MOBILE


@dataclass(frozen=True)
class Household:
    """A resident as alerting sees them, with their people and their community's policy."""

    resident_id: int
    name: str
    time_zone: str
    policy: Policy
    family: tuple[Person, ...]
    doctors: tuple[Person, ...]

    def person(self, key: str) -> Person | None:
        """The person called `key` ('contact:12', 'user:3'), if still around."""
        return next((p for p in (*self.family, *self.doctors) if p.key == key), None)


@dataclass
class _Resident:
    name: str
    time_zone: str
    doctor_id: int | None
    community_id: int
    alerting_overrides: dict[str, Any]


@dataclass
class _Contact:
    id: int
    name: str
    phone: str
    language: str
    time_zone: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    stopped: bool


@dataclass
class _Doctor:
    id: int
    display_name: str
    phone: str | None
    language: str
    time_zone: str


async def load_household(conn: AsyncConnection[Any], resident_id: int) -> Household | None:
    """The resident's household, or None for an unknown resident."""
    async with conn.cursor(row_factory=class_row(_Resident)) as cur:
        await cur.execute(
            """SELECT r.name, r.time_zone, r.doctor_id, r.community_id, c.alerting_overrides
               FROM residents r JOIN communities c ON c.id = r.community_id
               WHERE r.id = %s""",
            (resident_id,),
        )
        resident = await cur.fetchone()
    if resident is None:
        return None
    async with conn.cursor(row_factory=class_row(_Contact)) as cur:
        await cur.execute(
            """SELECT id, name, phone, language, coalesce(time_zone, %s) AS time_zone,
                      quiet_hours_start, quiet_hours_end, sms_stopped_at IS NOT NULL AS stopped
               FROM contacts WHERE resident_id = %s ORDER BY escalation_order""",
            (resident.time_zone, resident_id),
        )
        contacts = await cur.fetchall()
    family = tuple(
        Person(
            kind="contact",
            id=c.id,
            name=c.name,
            phone=c.phone,
            language=c.language,
            time_zone=c.time_zone,
            rank=rank,
            quiet_hours=None
            if c.quiet_hours_start is None or c.quiet_hours_end is None
            else (c.quiet_hours_start, c.quiet_hours_end),
            sms=not c.stopped and takes_sms(c.phone),
        )
        for rank, c in enumerate(contacts, start=1)
    )
    doctors = await _doctors(conn, resident)
    return Household(
        resident_id,
        resident.name,
        resident.time_zone,
        policy_with_overrides(resident.alerting_overrides),
        family,
        doctors,
    )


async def _doctors(conn: AsyncConnection[Any], resident: _Resident) -> tuple[Person, ...]:
    async with conn.cursor(row_factory=class_row(_Doctor)) as cur:
        await cur.execute(
            """SELECT u.id, u.display_name, u.phone, u.language, u.time_zone
               FROM users u
               WHERE u.role = 'doctor' AND u.disabled_at IS NULL
                 AND (u.id = %(doctor)s
                      OR (%(doctor)s::bigint IS NULL AND EXISTS (
                          SELECT 1 FROM user_communities uc
                          WHERE uc.user_id = u.id AND uc.community_id = %(community)s)))
               ORDER BY u.id""",
            {"doctor": resident.doctor_id, "community": resident.community_id},
        )
        rows = await cur.fetchall()
    return tuple(
        Person(
            kind="user",
            id=d.id,
            name=d.display_name,
            phone=d.phone,
            language=d.language,
            time_zone=d.time_zone,
            sms=d.phone is not None and takes_sms(d.phone),
        )
        for d in rows
    )
