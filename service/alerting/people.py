"""The people around a resident who can be told: family contacts in escalation order, and the
resident's doctor (or, without one, the doctors serving the community)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import time
from typing import Any, Literal

import phonenumbers
from psycopg import AsyncConnection
from psycopg.rows import class_row

from service.alerting.plan import Person
from service.alerting.policy import DEFAULT_POLICY, Policy, policy_with_overrides

log = logging.getLogger(__name__)

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
class _PersonRow:
    """A contact or a doctor as both queries return them."""

    kind: Literal["contact", "user"]
    id: int
    name: str
    phone: str | None
    language: str
    time_zone: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    stopped: bool

    def person(self, rank: int) -> Person:
        quiet = None
        if self.quiet_hours_start is not None and self.quiet_hours_end is not None:
            quiet = (self.quiet_hours_start, self.quiet_hours_end)
        return Person(
            kind=self.kind,
            id=self.id,
            name=self.name,
            phone=self.phone,
            language=self.language,
            time_zone=self.time_zone,
            rank=rank,
            quiet_hours=quiet,
            sms=self.phone is not None and not self.stopped and takes_sms(self.phone),
        )


async def _people(
    conn: AsyncConnection[Any], query: str, params: dict[str, Any]
) -> list[_PersonRow]:
    async with conn.cursor(row_factory=class_row(_PersonRow)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


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
    contacts = await _people(
        conn,
        """SELECT 'contact' AS kind, id, name, phone, language,
                  coalesce(time_zone, %(zone)s) AS time_zone, quiet_hours_start,
                  quiet_hours_end, sms_stopped_at IS NOT NULL AS stopped
           FROM contacts WHERE resident_id = %(resident)s ORDER BY escalation_order""",
        {"zone": resident.time_zone, "resident": resident_id},
    )
    doctors = await _people(
        conn,
        """SELECT 'user' AS kind, u.id, u.display_name AS name, u.phone, u.language,
                  u.time_zone, NULL::time AS quiet_hours_start, NULL::time AS quiet_hours_end,
                  false AS stopped
           FROM users u
           WHERE u.role = 'doctor' AND u.disabled_at IS NULL
             AND (u.id = %(doctor)s
                  -- The community's doctors when the resident has none of their own, or
                  -- theirs left (disabled, or no longer a doctor): someone must be told.
                  OR (NOT EXISTS (SELECT 1 FROM users own
                                  WHERE own.id = %(doctor)s AND own.role = 'doctor'
                                    AND own.disabled_at IS NULL)
                      AND EXISTS (SELECT 1 FROM user_communities uc
                                  WHERE uc.user_id = u.id
                                    AND uc.community_id = %(community)s)))
           ORDER BY u.id""",
        {"doctor": resident.doctor_id, "community": resident.community_id},
    )
    return Household(
        resident_id,
        resident.name,
        resident.time_zone,
        _policy(resident),
        tuple(c.person(rank) for rank, c in enumerate(contacts, start=1)),
        tuple(d.person(0) for d in doctors),
    )


def _policy(resident: _Resident) -> Policy:
    """The community's policy; the default when its stored overrides no longer validate
    (they are checked when saved), so that an alert still reaches people."""
    try:
        return policy_with_overrides(resident.alerting_overrides)
    except ValueError as exc:
        log.error("community %d: alerting_overrides ignored: %s", resident.community_id, exc)
        return DEFAULT_POLICY
