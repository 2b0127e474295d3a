"""SQL of live detection: queued readings, the residents' profiles and states, findings, alerts."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from analytics.findings import Finding, Status
from analytics.readings import Condition, Flag, Kind, Meal, Profile, Reading
from analytics.rules import RULES
from analytics.state import ResidentState
from analytics.thresholds import DEFAULT_THRESHOLDS, Thresholds
from service.alerting.notify import AlertChange, on_alert_change

log = logging.getLogger(__name__)

# Glucose Measurement Sensor Status Annunciation bits (GLS 0x2A18) and what they mean here.
_SENSOR_FLAGS = {
    1: Flag.DEVICE_ERROR,  # sensor malfunction
    2: Flag.DEVICE_ERROR,  # sample size insufficient
    3: Flag.DEVICE_ERROR,  # strip insertion error
    4: Flag.DEVICE_ERROR,  # strip type incorrect
    5: Flag.RESULT_TOO_HIGH,
    6: Flag.RESULT_TOO_LOW,
    7: Flag.DEVICE_ERROR,  # temperature too high
    8: Flag.DEVICE_ERROR,  # temperature too low
    9: Flag.DEVICE_ERROR,  # read interrupted
    10: Flag.DEVICE_ERROR,  # general device fault
    11: Flag.CLOCK_UNSET,  # time fault
}


@dataclass
class QueuedReading:
    """A reading waiting for detection, with what detection needs of it."""

    queue_id: int
    kind: str
    measured_at: datetime
    received_at: datetime
    time_source: str
    systolic: float | None
    diastolic: float | None
    pulse: float | None
    irregular_pulse: bool | None
    body_movement: bool | None
    cuff_loose: bool | None
    glucose_mmol: float | None
    meal: str | None
    sensor_status: int | None
    control_solution: bool | None

    def reading(self, resident_id: int) -> Reading:
        """The reading as detection sees it."""
        flags = {f for bit, f in _SENSOR_FLAGS.items() if (self.sensor_status or 0) >> bit & 1}
        if self.body_movement:
            flags.add(Flag.BODY_MOVEMENT)
        if self.cuff_loose:
            flags.add(Flag.CUFF_LOOSE)
        if self.control_solution:
            flags.add(Flag.CONTROL_SOLUTION)
        if self.time_source == "received":  # the device gave no usable time of its own
            flags.add(Flag.CLOCK_UNSET)
        return Reading(
            resident_id=str(resident_id),
            measured_at=self.measured_at,
            kind=Kind(self.kind),
            systolic=self.systolic,
            diastolic=self.diastolic,
            pulse=self.pulse,
            glucose_mmol_l=self.glucose_mmol,
            meal=None if self.meal is None else Meal(self.meal),
            irregular_pulse=bool(self.irregular_pulse),
            flags=frozenset(flags),
            received_at=self.received_at,
        )


_CLAIM = """
WITH q AS (
    SELECT id, kind, device_id, user_index, sequence_number, measured_at
    FROM readings_to_check
    WHERE resident_id = %(resident)s
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
SELECT q.id AS queue_id, q.kind, q.measured_at, r.received_at, r.time_source,
       r.systolic, r.diastolic, r.pulse, r.irregular_pulse, r.body_movement, r.cuff_loose,
       NULL::real AS glucose_mmol, NULL::text AS meal, NULL::integer AS sensor_status,
       NULL::boolean AS control_solution
FROM q JOIN blood_pressure_readings r
     USING (device_id, user_index, sequence_number, measured_at)
WHERE q.kind = 'blood_pressure'
UNION ALL
SELECT q.id, q.kind, q.measured_at, r.received_at, r.time_source,
       NULL, NULL, NULL, NULL, NULL, NULL,
       r.glucose_mmol, r.meal, r.sensor_status, r.control_solution
FROM q JOIN glucose_readings r
     USING (device_id, user_index, sequence_number, measured_at)
WHERE q.kind = 'glucose'
ORDER BY measured_at, queue_id
"""


async def claim_queued(
    conn: AsyncConnection[Any], resident_id: int, limit: int = 5000
) -> list[QueuedReading]:
    """Lock the resident's queued readings (oldest first); other workers skip them."""
    async with conn.cursor(row_factory=class_row(QueuedReading)) as cur:
        await cur.execute(_CLAIM, {"resident": resident_id, "limit": limit})
        return await cur.fetchall()


async def forget_queued(conn: AsyncConnection[Any], queue_ids: list[int]) -> None:
    """Take checked readings off the queue (in the transaction that checked them)."""
    await conn.execute("DELETE FROM readings_to_check WHERE id = ANY(%s)", (queue_ids,))


async def residents_with_queued(
    conn: AsyncConnection[Any], limit: int, older_than: timedelta
) -> list[int]:
    """Residents with readings waiting longer than `older_than` (for a sweep that misses
    nobody; fresher ones have a job of their own on the way)."""
    cur = await conn.execute(
        """SELECT DISTINCT resident_id FROM readings_to_check
           WHERE queued_at < now() - %s ORDER BY 1 LIMIT %s""",
        (older_than, limit),
    )
    return [row[0] for row in await cur.fetchall()]


@dataclass
class ProfileRow:
    """A resident's row as detection needs it."""

    id: int
    birth_date: Any
    conditions: list[str]
    time_zone: str
    target_systolic: int | None
    target_diastolic: int | None
    target_fasting_glucose: float | None
    community_overrides: dict[str, Any]
    resident_overrides: dict[str, Any]

    def profile(self) -> Profile:
        """The profile detection keeps."""
        return Profile(str(self.id), self.birth_date, frozenset(map(Condition, self.conditions)))

    def thresholds(self) -> Thresholds:
        """Defaults, then the community's overrides, then the resident's, then the targets."""
        targets: dict[str, Any] = {}
        if self.target_systolic is not None:
            targets |= {"target_systolic": self.target_systolic}
            targets |= {"elderly_target_systolic": self.target_systolic}
        if self.target_diastolic is not None:
            targets |= {"target_diastolic": self.target_diastolic}
            targets |= {"elderly_target_diastolic": self.target_diastolic}
        if self.target_fasting_glucose is not None:
            targets |= {"fasting_glucose_target": self.target_fasting_glucose}
        layers = (self.community_overrides, self.resident_overrides, targets)
        key = json.dumps([self.time_zone, layers], sort_keys=True)
        found = _THRESHOLDS.get(key)
        if found is None:
            found = _layered(self.time_zone, layers)
            if len(_THRESHOLDS) >= _THRESHOLDS_KEPT:
                _THRESHOLDS.clear()
            _THRESHOLDS[key] = found
        thresholds, refused = found
        for reason in refused:  # refused by the admin API; only old rows can hold it
            log.warning("resident %d: detection settings ignored: %s", self.id, reason)
        return thresholds


# Most residents share their settings: the scheduled checks build thresholds for thousands.
_THRESHOLDS: dict[str, tuple[Thresholds, tuple[str, ...]]] = {}
_THRESHOLDS_KEPT = 4096


def _layered(
    time_zone: str, layers: tuple[dict[str, Any], ...]
) -> tuple[Thresholds, tuple[str, ...]]:
    """The thresholds of the time zone with each layer over the one before; and why any
    layer was refused."""
    thresholds = DEFAULT_THRESHOLDS.with_overrides({"time_zone": time_zone})
    refused = []
    for layer in layers:
        try:
            thresholds = thresholds.with_overrides(layer)
        except ValueError as exc:
            refused.append(str(exc))
    return thresholds, tuple(refused)


async def load_profile(conn: AsyncConnection[Any], resident_id: int) -> ProfileRow | None:
    """The resident's profile and settings, or None when the resident is gone."""
    async with conn.cursor(row_factory=class_row(ProfileRow)) as cur:
        await cur.execute(
            """SELECT r.id, r.birth_date, r.conditions, r.time_zone, r.target_systolic,
                      r.target_diastolic, r.target_fasting_glucose,
                      c.detection_overrides AS community_overrides,
                      r.detection_overrides AS resident_overrides
               FROM residents r JOIN communities c ON c.id = r.community_id
               WHERE r.id = %s""",
            (resident_id,),
        )
        return await cur.fetchone()


async def gateway_seen(conn: AsyncConnection[Any], resident_id: int) -> datetime | None:
    """When a gateway reading this resident's devices was last heard from (None: no gateway)."""
    cur = await conn.execute(
        """SELECT max(g.last_seen_at)
           FROM device_users du
           JOIN devices d ON d.id = du.device_id
           JOIN gateways g ON g.id = d.gateway_id
           WHERE du.resident_id = %s""",
        (resident_id,),
    )
    row = await cur.fetchone()
    return None if row is None else row[0]


async def lock_state(conn: AsyncConnection[Any], resident_id: int) -> ResidentState:
    """The resident's detection state, locked until the transaction ends."""
    await conn.execute(
        """INSERT INTO detection_states (resident_id, state) VALUES (%s, '{}')
           ON CONFLICT (resident_id) DO NOTHING""",
        (resident_id,),
    )
    cur = await conn.execute(
        "SELECT state FROM detection_states WHERE resident_id = %s FOR UPDATE", (resident_id,)
    )
    row = await cur.fetchone()
    assert row is not None
    return ResidentState.from_json(row[0])


async def save_state(conn: AsyncConnection[Any], resident_id: int, state: ResidentState) -> None:
    """Store the state, and when it next needs attention."""
    await conn.execute(
        """UPDATE detection_states SET state = %s, due_at = %s, updated_at = now()
           WHERE resident_id = %s""",
        (Jsonb(state.to_json()), _due_at(state), resident_id),
    )


def _due_at(state: ResidentState) -> datetime | None:
    """When the state next needs attention: its daily check, or its window's end."""
    window_end = None if state.window is None else state.window.ends_at
    return min((t for t in (state.next_check, window_end) if t is not None), default=None)


@dataclass
class DueResident(ProfileRow):
    """A resident with something due, and all a scheduled check reads, unlocked."""

    version: str  # the state row's xmin: it changes whenever the row is written
    state: str  # JSON
    gateway_seen: datetime | None
    queued: bool  # readings wait for the resident: those are checked first

    def resident_state(self) -> ResidentState:
        """The state as detection keeps it."""
        return ResidentState.from_json(orjson.loads(self.state))


async def due_residents(conn: AsyncConnection[Any], now: datetime, limit: int) -> list[DueResident]:
    """Residents with something due by `now` (at most `limit`, the earliest first), each with
    profile, settings, state and gateway, read in one statement and without locks."""
    async with conn.cursor(row_factory=class_row(DueResident)) as cur:
        await cur.execute(
            """SELECT r.id, r.birth_date, r.conditions, r.time_zone, r.target_systolic,
                      r.target_diastolic, r.target_fasting_glucose,
                      c.detection_overrides AS community_overrides,
                      r.detection_overrides AS resident_overrides,
                      s.xmin::text AS version, s.state::text AS state,
                      (SELECT max(g.last_seen_at)
                       FROM device_users du
                       JOIN devices d ON d.id = du.device_id
                       JOIN gateways g ON g.id = d.gateway_id
                       WHERE du.resident_id = s.resident_id) AS gateway_seen,
                      EXISTS (SELECT FROM readings_to_check q
                              WHERE q.resident_id = s.resident_id) AS queued
               FROM detection_states s
               JOIN residents r ON r.id = s.resident_id
               JOIN communities c ON c.id = r.community_id
               WHERE s.due_at <= %s
               ORDER BY s.due_at
               LIMIT %s""",
            (now, limit),
        )
        return await cur.fetchall()


async def save_state_if_unchanged(
    conn: AsyncConnection[Any], resident: DueResident, state: ResidentState
) -> bool:
    """Store the state unless the stored one changed since `due_residents` read it, or
    readings now wait for the resident; whether it was stored. The row stays locked until
    the transaction ends."""
    cur = await conn.execute(
        """UPDATE detection_states SET state = %s, due_at = %s, updated_at = now()
           WHERE resident_id = %s AND xmin = %s::xid
             AND NOT EXISTS (SELECT FROM readings_to_check WHERE resident_id = %s)""",
        (
            Jsonb(state.to_json(), dumps=_dumps),
            _due_at(state),
            resident.id,
            resident.version,
            resident.id,
        ),
    )
    return cur.rowcount == 1


def _dumps(value: Any) -> bytes | str:
    """JSON text of a state: orjson, or the standard library for what orjson refuses."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        return json.dumps(value)


async def record_findings(
    conn: AsyncConnection[Any],
    resident_id: int,
    findings: list[Finding],
    now: datetime,
    tell: bool = True,
) -> None:
    """Store the findings, open, raise or resolve the alerts they speak of, and (with `tell`)
    write the messages that tell people of them to the outbox."""
    for finding in findings:
        alert_id = None
        if not RULES[finding.rule].is_record:
            alert_id = await _update_alert(conn, resident_id, finding)
        if alert_id is not None and tell:
            change = AlertChange(
                alert_id,
                resident_id,
                finding.rule,
                finding.severity,
                finding.status,
                finding.audience,
                finding.reading_at,
                now,
            )
            await on_alert_change(conn, change)
        data = finding.to_json()
        await conn.execute(
            """INSERT INTO findings (resident_id, rule, severity, status, at, reading_at,
                                     audience, message, evidence, alert_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                resident_id,
                finding.rule,
                data["severity"],
                data["status"],
                finding.at,
                finding.reading_at,
                data["audience"],
                finding.message,
                Jsonb(finding.evidence),
                alert_id,
            ),
        )


async def _update_alert(
    conn: AsyncConnection[Any], resident_id: int, finding: Finding
) -> int | None:
    data = finding.to_json()
    if finding.status is Status.CLEARED:
        cur = await conn.execute(
            """UPDATE alerts SET state = 'resolved', resolved_at = %s, updated_at = %s
               WHERE resident_id = %s AND rule = %s AND state <> 'resolved'
               RETURNING id""",
            (finding.at, finding.at, resident_id, finding.rule),
        )
    else:
        cur = await conn.execute(
            """INSERT INTO alerts (resident_id, rule, severity, audience, message, evidence,
                                   reading_at, opened_at, updated_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (resident_id, rule) WHERE state <> 'resolved' DO UPDATE
               SET severity = excluded.severity, audience = excluded.audience,
                   message = excluded.message, evidence = excluded.evidence,
                   reading_at = excluded.reading_at, updated_at = excluded.updated_at
               RETURNING id""",
            (
                resident_id,
                finding.rule,
                data["severity"],
                data["audience"],
                finding.message,
                Jsonb(finding.evidence),
                finding.reading_at,
                finding.at,
                finding.at,
            ),
        )
    row = await cur.fetchone()
    return None if row is None else int(row[0])
