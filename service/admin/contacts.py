"""Contacts of a resident: who is called, in which order, and when not to disturb them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.rows import class_row

from service.admin.residents import get_resident
from service.admin.schemas import ContactCreate, ContactUpdate, LocalTime, set_clause
from service.errors import Conflict, Invalid, NotFound
from service.privacy import audit
from service.privacy.audit import SYSTEM, Actor

_RULES = {
    "contacts_check": "quiet hours need both a start and an end",
    "contacts_phone_check": "phone must be in E.164 form: + then 7 to 15 digits",
}


@dataclass(frozen=True)
class Contact:
    """Someone to reach about a resident; lower escalation_order is reached first."""

    id: int
    resident_id: int
    name: str
    kind: str
    relationship: str | None
    phone: str
    language: str
    escalation_order: int
    quiet_hours_start: LocalTime | None
    quiet_hours_end: LocalTime | None
    time_zone: str | None  # None: the resident's
    sms_stopped_at: datetime | None  # set when they replied STOP; no SMS until START
    created_at: datetime


_COLUMNS = sql.SQL(
    """id, resident_id, name, kind, relationship, phone, language, escalation_order,
       quiet_hours_start, quiet_hours_end, time_zone, sms_stopped_at, created_at"""
)


@contextmanager
def _contact_errors(resident_id: int) -> Iterator[None]:
    try:
        yield
    except errors.UniqueViolation:
        raise Conflict(
            f"resident {resident_id} already has a contact at that escalation order"
        ) from None
    except errors.ForeignKeyViolation:
        raise NotFound(f"no resident {resident_id}") from None
    except errors.CheckViolation as exc:
        rule = exc.diag.constraint_name or ""
        raise Invalid(_RULES.get(rule, f"contact rejected by rule {rule}")) from None


async def create_contact(
    conn: AsyncConnection[Any], resident_id: int, data: ContactCreate, *, actor: Actor = SYSTEM
) -> Contact:
    """Add a contact to a resident; without an escalation order it is reached after the others.
    Audited."""
    query = sql.SQL(
        """INSERT INTO contacts (resident_id, name, kind, relationship, phone, language,
                                 escalation_order, quiet_hours_start, quiet_hours_end,
                                 time_zone)
           VALUES (%(resident_id)s, %(name)s, %(kind)s, %(relationship)s, %(phone)s, %(language)s,
                   coalesce(%(escalation_order)s::smallint,
                            (SELECT coalesce(max(escalation_order), 0) + 1 FROM contacts
                              WHERE resident_id = %(resident_id)s)),
                   %(quiet_hours_start)s, %(quiet_hours_end)s, %(time_zone)s)
           RETURNING {}"""
    ).format(_COLUMNS)
    async with conn.cursor(row_factory=class_row(Contact)) as cur:
        with _contact_errors(resident_id):
            await cur.execute(query, {**data.model_dump(), "resident_id": resident_id})
        contact = await cur.fetchone()
    assert contact is not None
    await audit.record(
        conn, actor, "add contact", resident_id, contact_id=contact.id, fields=audit.fields(data)
    )
    return contact


async def list_contacts(conn: AsyncConnection[Any], resident_id: int) -> list[Contact]:
    """A resident's contacts in escalation order."""
    await get_resident(conn, resident_id)
    query = sql.SQL(
        "SELECT {} FROM contacts WHERE resident_id = %s ORDER BY escalation_order"
    ).format(_COLUMNS)
    async with conn.cursor(row_factory=class_row(Contact)) as cur:
        await cur.execute(query, (resident_id,))
        return await cur.fetchall()


async def get_contact(conn: AsyncConnection[Any], contact_id: int) -> Contact:
    """One contact by id."""
    query = sql.SQL("SELECT {} FROM contacts WHERE id = %s").format(_COLUMNS)
    async with conn.cursor(row_factory=class_row(Contact)) as cur:
        await cur.execute(query, (contact_id,))
        contact = await cur.fetchone()
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact


async def update_contact(
    conn: AsyncConnection[Any], contact_id: int, data: ContactUpdate, *, actor: Actor = SYSTEM
) -> Contact:
    """Change the fields that were set; the others stay. Audited with the fields' names."""
    current = await get_contact(conn, contact_id)
    changes = data.changes()
    if not changes:
        return current
    query = sql.SQL("UPDATE contacts SET {} WHERE id = %(id)s RETURNING {}").format(
        set_clause(changes), _COLUMNS
    )
    async with conn.cursor(row_factory=class_row(Contact)) as cur:
        with _contact_errors(current.resident_id):
            await cur.execute(query, {**changes, "id": contact_id})
        contact = await cur.fetchone()
    assert contact is not None
    await audit.record(
        conn,
        actor,
        "update contact",
        contact.resident_id,
        contact_id=contact_id,
        fields=sorted(changes),
    )
    return contact


async def delete_contact(
    conn: AsyncConnection[Any], contact_id: int, *, actor: Actor = SYSTEM
) -> None:
    """Remove a contact; audited."""
    cur = await conn.execute(
        "DELETE FROM contacts WHERE id = %s RETURNING resident_id", (contact_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no contact {contact_id}")
    await audit.record(conn, actor, "remove contact", int(row[0]), contact_id=contact_id)
