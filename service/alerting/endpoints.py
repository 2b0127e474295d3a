"""Routes of alerting: acknowledging an alert from the dashboard, the messages sent about it,
and the residents whose alerts would reach nobody (shown before it matters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from service.access import ensure_can_see_resident
from service.alerting import queries
from service.alerting.notify import acknowledge
from service.alerting.queries import Gap, SentMessage
from service.deps import Transaction, UserDep
from service.errors import Conflict, NotFound
from service.ids import Id
from service.privacy import audit
from service.privacy.deps import ActorDep

router = APIRouter(
    tags=["alerts"],
    responses={401: {"description": "No user token, or an unknown or revoked one"}},
)
NOT_SEEN: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such alert, or one the user may not see"}
}


async def _seen_alert(conn: Transaction, user: UserDep, alert_id: int) -> int:
    resident_id = await queries.alert_resident(conn, alert_id)
    if resident_id is None:
        raise NotFound(f"no alert {alert_id}")
    try:
        await ensure_can_see_resident(conn, user, resident_id)
    except NotFound:
        raise NotFound(f"no alert {alert_id}") from None
    return resident_id


@router.post(
    "/v1/alerts/{alert_id}/acknowledge",
    status_code=204,
    responses={**NOT_SEEN, 409: {"description": "Already acknowledged, or resolved"}},
)
async def acknowledge_alert(
    alert_id: Id, user: UserDep, actor: ActorDep, conn: Transaction
) -> None:
    """Say you are dealing with the alert: its escalation stops for everyone; audited."""
    resident_id = await _seen_alert(conn, user, alert_id)
    if not await acknowledge(conn, alert_id, f"user:{user.id}", "api", datetime.now(UTC)):
        raise Conflict(f"alert {alert_id} is already acknowledged or resolved")
    await audit.record(conn, actor, "acknowledge alert", resident_id, alert_id=alert_id)


@router.get("/v1/alerts/{alert_id}/messages", responses=NOT_SEEN)
async def get_alert_messages(
    alert_id: Id, user: UserDep, actor: ActorDep, conn: Transaction
) -> list[SentMessage]:
    """Every message written about the alert: to whom, on which channel, what became of it;
    audited."""
    resident_id = await _seen_alert(conn, user, alert_id)
    await audit.record(conn, actor, "read alert messages", resident_id, alert_id=alert_id)
    return await queries.alert_messages(conn, alert_id)


@router.get("/v1/alerting/gaps")
async def get_gaps(user: UserDep, actor: ActorDep, conn: Transaction) -> list[Gap]:
    """Residents the caller may see whose alerts would not reach someone: no family contact,
    none who takes SMS, no doctor with a phone; audited as one entry with how many."""
    gaps = await queries.reachability_gaps(conn, user)
    await audit.record(conn, actor, "list reachability gaps", None, residents=len(gaps))
    return gaps
