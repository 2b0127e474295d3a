"""Routes to read what detection found: a resident's alerts and findings, and the open alerts
of every resident the caller may see (a doctor's "who needs me today")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.access import ensure_can_see_resident
from service.deps import Transaction, UserDep
from service.detection.alerts_queries import (
    Alert,
    AlertWithResident,
    SeverityLabel,
    StateFilter,
    StoredFinding,
    resident_alerts,
    resident_findings,
    visible_alerts,
)
from service.ids import Id
from service.periods import SinceQuery, UntilQuery, period
from service.privacy import audit
from service.privacy.deps import ActorDep

router = APIRouter(
    tags=["alerts"],
    responses={401: {"description": "No user token, or an unknown or revoked one"}},
)

StateQuery = Annotated[
    StateFilter,
    Query(description="open: not resolved yet (acknowledged and escalated too); all: any."),
]
NOT_SEEN: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such resident, or one the user may not see"}
}


@router.get("/v1/residents/{resident_id}/alerts", responses=NOT_SEEN)
async def get_resident_alerts(
    resident_id: Id,
    user: UserDep,
    actor: ActorDep,
    conn: Transaction,
    state: StateQuery = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    """A resident's alerts, newest first (default: those not resolved yet); audited."""
    await ensure_can_see_resident(conn, user, resident_id)
    await audit.record(conn, actor, "read alerts", resident_id)
    return await resident_alerts(conn, user, resident_id, state, limit)


@router.get("/v1/residents/{resident_id}/findings", responses=NOT_SEEN)
async def get_resident_findings(
    resident_id: Id,
    user: UserDep,
    actor: ActorDep,
    conn: Transaction,
    since: SinceQuery = None,
    until: UntilQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[StoredFinding]:
    """What detection reported about a resident, oldest first (default: the last 30 days);
    audited."""
    start, end = period(since, until, days=30)
    await ensure_can_see_resident(conn, user, resident_id)
    await audit.record(conn, actor, "read findings", resident_id)
    return await resident_findings(conn, user, resident_id, start, end, limit)


@router.get("/v1/alerts")
async def get_alerts(
    user: UserDep,
    actor: ActorDep,
    conn: Transaction,
    community_id: Annotated[Id | None, Query(description="Only this community's.")] = None,
    severity_at_least: Annotated[
        SeverityLabel, Query(description="Leave out less serious alerts.")
    ] = "info",
    state: StateQuery = "open",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AlertWithResident]:
    """Alerts of the residents the caller may see, most severe first, then oldest first;
    audited as one entry with how many residents the answer names."""
    alerts = await visible_alerts(
        conn,
        user,
        community_id=community_id,
        severity_at_least=severity_at_least,
        state=state,
        limit=limit,
    )
    residents = len({alert.resident_id for alert in alerts})
    await audit.record(conn, actor, "list alerts", None, residents=residents)
    return alerts
