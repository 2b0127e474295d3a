"""Routes to read readings: a resident's readings and daily summaries, unassigned readings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.access import ensure_can_see_resident
from service.deps import AdminDep, Transaction, UserDep
from service.ids import Id
from service.periods import SinceQuery, UntilQuery, period
from service.privacy import audit
from service.privacy.deps import ActorDep
from service.readings.queries import (
    BloodPressureReading,
    DailyBloodPressure,
    DailyGlucose,
    GlucoseReading,
    ReadingKind,
    daily_summaries,
    resident_readings,
    unassigned_readings,
)

router = APIRouter(tags=["readings"])

KindQuery = Annotated[ReadingKind, Query(description="blood_pressure or glucose")]


@router.get("/v1/residents/{resident_id}/readings")
async def get_resident_readings(
    resident_id: Id,
    kind: KindQuery,
    user: UserDep,
    actor: ActorDep,
    conn: Transaction,
    since: SinceQuery = None,
    until: UntilQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[BloodPressureReading] | list[GlucoseReading]:
    """A resident's readings of one kind, oldest first (default: the last 30 days); audited."""
    start, end = period(since, until, days=30)
    await ensure_can_see_resident(conn, user, resident_id)
    await audit.record(conn, actor, "read readings", resident_id, kind=kind)
    return await resident_readings(conn, resident_id, kind, start, end, limit)


@router.get("/v1/residents/{resident_id}/daily")
async def get_daily_summaries(
    resident_id: Id,
    kind: KindQuery,
    user: UserDep,
    actor: ActorDep,
    conn: Transaction,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> list[DailyBloodPressure] | list[DailyGlucose]:
    """A resident's daily summaries (China Standard Time days; default: the last 90 days);
    audited."""
    start, end = period(since, until, days=90)
    await ensure_can_see_resident(conn, user, resident_id)
    await audit.record(conn, actor, "read daily summaries", resident_id, kind=kind)
    return await daily_summaries(conn, resident_id, kind, start, end)


@router.get("/v1/readings/unassigned")
async def get_unassigned_readings(
    kind: KindQuery,
    admin: AdminDep,
    conn: Transaction,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[BloodPressureReading] | list[GlucoseReading]:
    """Readings from devices (or device users) not yet assigned to a resident; admins only."""
    return await unassigned_readings(conn, kind, limit)
