"""What happens to people when an alert opens, rises, clears or is acknowledged: messages
written to the outbox in the same transaction as the alert itself.

Nothing is sent here. The outbox rows are the promise; `service.alerting.delivery` keeps it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from analytics.findings import Audience, Severity, Status
from service.alerting import messages, outbox
from service.alerting.people import Household, load_household
from service.alerting.plan import Person, Planned, plan_alert, plan_all_clear

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertChange:
    """An alert that opened, rose or cleared (from a finding of detection)."""

    alert_id: int
    resident_id: int
    rule: str
    severity: Severity
    status: Status
    audience: tuple[Audience, ...]
    reading_at: datetime | None
    at: datetime  # when the service noticed: escalation timers count from here


async def on_alert_change(conn: AsyncConnection[Any], change: AlertChange) -> int:
    """Write the messages the change calls for; how many."""
    household = await load_household(conn, change.resident_id)
    if household is None:
        return 0
    if change.status is Status.CLEARED:
        await outbox.cancel_pending(conn, change.alert_id, keep_all_clear=False)
        # The all-clear names what was wrong: the alert's reading, not the one that cleared it.
        cur = await conn.execute("SELECT reading_at FROM alerts WHERE id = %s", (change.alert_id,))
        row = await cur.fetchone()
        alarming = dataclasses.replace(change, reading_at=row[0] if row else None)
        reading = await reading_of(conn, change.resident_id, change.rule, alarming.reading_at)
        return await _all_clear(conn, household, alarming, reading)
    reading = await reading_of(conn, change.resident_id, change.rule, change.reading_at)
    if change.status is Status.RAISED:
        await outbox.cancel_pending(conn, change.alert_id, keep_all_clear=True)
        await conn.execute(
            """UPDATE alerts SET state = 'open', acknowledged_at = NULL,
                                 acknowledged_by = NULL, acknowledged_via = NULL
               WHERE id = %s""",
            (change.alert_id,),
        )
    policy = household.policy.at(change.severity)
    severities = [s.label for s in Severity if s >= change.severity]
    since = change.at - timedelta(hours=policy.repeat_hours)
    told = await outbox.recently_told(conn, change.resident_id, change.rule, severities, since)
    planned = plan_alert(
        policy, change.audience, household.family, household.doctors, change.at, told
    )
    new = [
        outbox.NewMessage(
            p, _alert_body(household, change, reading, p, planned), change.severity.label
        )
        for p in planned
    ]
    return await _write(conn, change, new)


async def _write(
    conn: AsyncConnection[Any], change: AlertChange, new: list[outbox.NewMessage]
) -> int:
    await outbox.add(
        conn,
        new,
        alert_id=change.alert_id,
        resident_id=change.resident_id,
        rule=change.rule,
        now=change.at,
    )
    return len(new)


async def _all_clear(
    conn: AsyncConnection[Any],
    household: Household,
    change: AlertChange,
    reading: messages.Reading | None,
) -> int:
    told = [
        person
        for key in await outbox.alert_told(conn, change.alert_id)
        if (person := household.person(key)) is not None
    ]
    planned = plan_all_clear(told, change.at)
    new = []
    for p in planned:
        about = _about(household, change, reading, p.person)
        body = messages.all_clear_sms(p.person.language, p.person.time_zone, about, change.at)
        new.append(outbox.NewMessage(p, body, "info"))
    return await _write(conn, change, new)


def _about(
    household: Household, change: AlertChange, reading: messages.Reading | None, person: Person
) -> messages.About:
    return messages.About(
        household.name, change.rule, reading, change.reading_at, for_doctor=person.kind == "user"
    )


def _alert_body(
    household: Household,
    change: AlertChange,
    reading: messages.Reading | None,
    planned: Planned,
    everyone: Sequence[Planned],
) -> str:
    person = planned.person
    about = _about(household, change, reading, person)
    if planned.channel == "voice":
        return messages.alert_call(person.language, person.time_zone, about)
    others = [p.person for p in everyone if p.purpose == "alert" and p.person.key != person.key]
    unanswered = None
    if planned.purpose == "escalation":
        unanswered = round((planned.due_at - change.at).total_seconds() / 60)
    return messages.alert_sms(
        person.language,
        person.time_zone,
        about,
        _names(others),
        unanswered_minutes=unanswered,
        link=household.policy.link,
    )


def _names(people: Sequence[Person]) -> list[str]:
    return list(dict.fromkeys(p.name for p in people))


async def reading_of(
    conn: AsyncConnection[Any], resident_id: int, rule: str, at: datetime | None
) -> messages.Reading | None:
    """The values of the reading an alert is about, for its message."""
    if at is None:
        return None
    if rule.startswith("glucose."):
        cur = await conn.execute(
            """SELECT NULL, NULL, NULL, glucose_mmol FROM glucose_readings
               WHERE resident_id = %s AND measured_at = %s LIMIT 1""",
            (resident_id, at),
        )
    else:
        cur = await conn.execute(
            """SELECT systolic, diastolic, pulse, NULL FROM blood_pressure_readings
               WHERE resident_id = %s AND measured_at = %s LIMIT 1""",
            (resident_id, at),
        )
    row = await cur.fetchone()
    if row is None:
        return None
    return messages.Reading(*(None if v is None else round(float(v), 1) for v in row))


async def acknowledge(
    conn: AsyncConnection[Any], alert_id: int, by: str, via: str, at: datetime
) -> bool:
    """Mark the alert acknowledged and stop its escalation; False if it was not waiting for
    one (already acknowledged, or resolved)."""
    cur = await conn.execute(
        """UPDATE alerts SET state = 'acknowledged', acknowledged_at = %s,
                             acknowledged_by = %s, acknowledged_via = %s, updated_at = %s
           WHERE id = %s AND state IN ('open', 'notified', 'escalated')""",
        (at, by, via, at, alert_id),
    )
    if cur.rowcount == 0:
        return False
    cancelled = await outbox.cancel_pending(conn, alert_id, keep_all_clear=True)
    log.info(
        "alert %d acknowledged by %s (%s); %d messages cancelled", alert_id, by, via, cancelled
    )
    return True
