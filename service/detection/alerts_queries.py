"""Reading what detection stored: a resident's alerts and findings, and the open alerts a user
may see across residents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from analytics.findings import Severity
from service.access import MEANT_FOR_VIEWER, VISIBLE_RESIDENT, viewer_parameters
from service.auth import User

SeverityLabel = Literal["info", "warning", "urgent", "critical"]
AlertState = Literal["open", "notified", "acknowledged", "escalated", "resolved"]
FindingStatus = Literal["open", "raised", "cleared"]
Audience = Literal["family", "doctor"]
# "open": every alert not yet resolved (acknowledged and escalated ones too); "all": any.
StateFilter = Literal["open", "all"]

# Severity labels from least to most serious: array_position() of one is its rank.
_RANKS = [s.label for s in sorted(Severity)]


@dataclass(frozen=True)
class Alert:
    """An alert: at most one per resident and rule is open at a time; its severity only rises."""

    id: int
    resident_id: int
    rule: str
    severity: SeverityLabel
    state: AlertState
    audience: list[Audience]
    message: str
    evidence: dict[str, Any]
    reading_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    notified_at: datetime | None
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None  # 'contact:12' or 'user:3'
    acknowledged_via: str | None  # 'sms', 'voice' or 'api'


@dataclass(frozen=True)
class AlertWithResident(Alert):
    """An alert with the name and community of the resident it is about."""

    resident_name: str
    community_id: int


@dataclass(frozen=True)
class StoredFinding:
    """One thing detection reported about a resident, and the alert it opened, raised or
    resolved (None for records that concern no alert)."""

    id: int
    resident_id: int
    rule: str
    severity: SeverityLabel
    status: FindingStatus
    at: datetime
    reading_at: datetime | None
    audience: list[Audience]
    message: str
    evidence: dict[str, Any]
    alert_id: int | None


_ALERT = sql.SQL("""a.id, a.resident_id, a.rule, a.severity, a.state, a.audience, a.message,
    a.evidence, a.reading_at, a.opened_at, a.updated_at, a.resolved_at, a.notified_at,
    a.escalated_at, a.acknowledged_at, a.acknowledged_by, a.acknowledged_via""")


def _state_condition(state: StateFilter) -> sql.SQL:
    return sql.SQL("AND a.state <> 'resolved'" if state == "open" else "")


async def resident_alerts(
    conn: AsyncConnection[Any], user: User, resident_id: int, state: StateFilter, limit: int
) -> list[Alert]:
    """The resident's alerts meant for the user, newest first; with state "open" only those
    not yet resolved."""
    query = sql.SQL("""
        SELECT {alert} FROM alerts a
        WHERE a.resident_id = %(resident)s AND {meant} {state}
        ORDER BY a.opened_at DESC, a.id DESC
        LIMIT %(limit)s
    """).format(alert=_ALERT, meant=MEANT_FOR_VIEWER, state=_state_condition(state))
    params = {"resident": resident_id, "limit": limit, **viewer_parameters(user)}
    async with conn.cursor(row_factory=class_row(Alert)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def resident_findings(
    conn: AsyncConnection[Any],
    user: User,
    resident_id: int,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[StoredFinding]:
    """The resident's findings of [since, until) meant for the user, oldest first."""
    query = sql.SQL("""
        SELECT id, resident_id, rule, severity, status, at, reading_at, audience, message,
               evidence, alert_id
        FROM findings a
        WHERE resident_id = %(resident)s AND at >= %(since)s AND at < %(until)s AND {meant}
        ORDER BY at, id
        LIMIT %(limit)s""").format(meant=MEANT_FOR_VIEWER)
    params = {"resident": resident_id, "since": since, "until": until, "limit": limit}
    async with conn.cursor(row_factory=class_row(StoredFinding)) as cur:
        await cur.execute(query, params | viewer_parameters(user))
        return await cur.fetchall()


async def visible_alerts(
    conn: AsyncConnection[Any],
    user: User,
    *,
    community_id: int | None = None,
    severity_at_least: SeverityLabel = "info",
    state: StateFilter = "open",
    limit: int = 1000,
) -> list[AlertWithResident]:
    """Alerts of the residents the user may see, most severe first, then oldest first."""
    query = sql.SQL("""
        SELECT {alert}, r.name AS resident_name, r.community_id
        FROM alerts a JOIN residents r ON r.id = a.resident_id
        WHERE {visible} AND {meant} {state}
          AND (%(community)s::bigint IS NULL OR r.community_id = %(community)s)
          AND array_position(%(ranks)s::text[], a.severity)
              >= array_position(%(ranks)s::text[], %(least)s::text)
        ORDER BY array_position(%(ranks)s::text[], a.severity) DESC, a.opened_at, a.id
        LIMIT %(limit)s
    """).format(
        alert=_ALERT,
        visible=VISIBLE_RESIDENT,
        meant=MEANT_FOR_VIEWER,
        state=_state_condition(state),
    )
    params = {
        "community": community_id,
        "ranks": _RANKS,
        "least": severity_at_least,
        "limit": limit,
        **viewer_parameters(user),
    }
    async with conn.cursor(row_factory=class_row(AlertWithResident)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()
