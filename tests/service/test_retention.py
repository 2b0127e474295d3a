"""Retention: what is past its time goes, what is younger stays. Readings uploaded through the
API, messages texted through the fake Twilio, audit entries, failed sign-ins and sessions of
several ages; the retention round (in small batches) deletes or blanks the old ones only, and
the summaries made of old readings follow them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from service.detection.service import check_resident
from service.jobs import Jobs
from service.migrate import migrate
from service.privacy.retention import Retention, apply
from service.readings.summaries import month_of
from service.settings import Settings
from tests.conftest import LiveServer
from tests.effort import record, tries
from tests.factories import (
    assign,
    auth,
    blood_pressure,
    community,
    new_gateway,
    resident,
    user_token,
)
from tests.homes import Home, bp, glucose
from tests.service.alerting_home import DAUGHTER, Household
from tests.service.test_erasure import neighbour_of

RETENTION = Retention(
    readings_days=60,
    messages_days=30,
    audit_days=30,
    sign_in_failures_days=10,
    expired_sessions_days=1,
)


def readings_at(home: Home, *days_ago: float, now: datetime) -> None:
    """A blood-pressure and a glucose reading `days_ago` days before `now`, for each."""
    readings = [bp(now - timedelta(days=d), 125, 80) for d in days_ago]
    readings += [glucose(now - timedelta(days=d, minutes=5), 6.2) for d in days_ago]
    for at in range(0, len(readings), 1000):  # as many as one upload may carry
        home.upload(*readings[at : at + 1000])


def times(db: psycopg.Connection[Any], table: str, resident_id: int) -> list[datetime]:
    rows = db.execute(
        f"SELECT measured_at FROM {table} WHERE resident_id = %s ORDER BY 1", (resident_id,)
    ).fetchall()
    return [row[0] for row in rows]


def messages(db: psycopg.Connection[Any], old: bool, cutoff: datetime) -> list[tuple[Any, ...]]:
    """(address, body, status) of the messages written before (or after) `cutoff`."""
    rows = db.execute(
        f"""SELECT address, body, status FROM notifications
            WHERE created_at {"<" if old else ">="} %s ORDER BY id""",
        (cutoff,),
    ).fetchall()
    return [tuple(row) for row in rows]


def test_what_is_past_its_time_goes_and_the_rest_stays(household: Household) -> None:
    h, db, her = household, household.db, household.home.resident_id
    now = datetime.now(UTC).replace(microsecond=0)
    admin = user_token(db, "admin")
    neighbour = neighbour_of(h, admin)

    # Her readings: some past the 60 days, some within; the neighbour's: only old ones.
    old_days = [100 + day for day in range(tries(2, 2000))]
    readings_at(h.home, *old_days, 70, 50, 5, now=now)
    readings_at(neighbour, 90, now=now)
    h.check(now - timedelta(days=45))
    h.run(lambda pool: check_resident(pool, neighbour.resident_id, now))
    # An urgent alert 40 days ago, texted to her daughter then; its all-clear today.
    noticed = now - timedelta(days=40)
    h.home.upload(
        bp(noticed - timedelta(minutes=10), 186, 100), bp(noticed - timedelta(minutes=7), 184, 104)
    )
    h.check(noticed)
    assert h.deliver(noticed) == 1
    h.twilio.wait_for_callbacks(2)
    h.home.upload(bp(now - timedelta(hours=2), 121, 79), bp(now - timedelta(hours=1), 119, 78))
    h.check(now)
    h.twilio.wait_for_callbacks(2 + 2 * h.deliver(now))  # each text: sent, then delivered
    # Audit entries of today (a read), and of 40 days ago (the devices' assignment).
    assert h.home.api.get(f"/v1/residents/{her}/alerts", headers=auth(admin)).status_code == 200
    db.execute(
        "UPDATE audit_log SET at = %s WHERE action = 'assign device'", (now - timedelta(days=40),)
    )
    for days in (20, 1):
        db.execute(
            "INSERT INTO sign_in_failures (username, client, at) VALUES ('dr.li', '10.0.0.9', %s)",
            (now - timedelta(days=days),),
        )
    for n, expires in enumerate(
        (now - timedelta(days=3), now - timedelta(hours=2), now + timedelta(hours=10))
    ):
        db.execute(
            """INSERT INTO web_sessions (token_hash, user_id, csrf_token, expires_at)
               VALUES (%s, %s, 'x', %s)""",
            (bytes([n]), h.doctor, expires),
        )
    message_cutoff = now - timedelta(days=30)
    old_messages = messages(db, True, message_cutoff)
    young_messages = messages(db, False, message_cutoff)
    assert old_messages
    assert young_messages
    audit_before = db.execute("SELECT id, at FROM audit_log ORDER BY id").fetchall()
    cutoff = now - timedelta(days=60)
    assert len(db.execute("SELECT 1 FROM resident_summaries").fetchall()) == 2
    assert db.execute(
        "SELECT count(*) FROM resident_months WHERE month < %s", (month_of(cutoff),)
    ).fetchone()[0]
    old_readings = sum(
        db.execute(f"SELECT count(*) FROM {table} WHERE measured_at < %s", (cutoff,)).fetchone()[0]
        for table in ("blood_pressure_readings", "glucose_readings")
    )

    done = h.run(lambda pool: apply(pool, RETENTION, now, batch=3))
    audit_after = db.execute("SELECT id, at FROM audit_log ORDER BY id").fetchall()

    for table in ("blood_pressure_readings", "glucose_readings"):
        left = times(db, table, her)
        assert left, table
        assert min(left) >= cutoff, table
        assert times(db, table, neighbour.resident_id) == [], table
    assert done["readings"] == old_readings >= 2 * (len(old_days) + 1)
    # The daily summaries follow; so do the neighbour's summary and the months before.
    daily = h.home.api.get(
        f"/v1/residents/{her}/daily",
        params={"kind": "blood_pressure", "since": (now - timedelta(days=400)).isoformat()},
        headers=auth(admin),
    ).json()
    assert len(daily) >= 4
    assert all(day["day"] >= str((cutoff - timedelta(days=1)).date()) for day in daily)
    summaries = db.execute("SELECT resident_id FROM resident_summaries").fetchall()
    assert summaries == [(her,)]
    months = [row[0] for row in db.execute("SELECT month FROM resident_months").fetchall()]
    assert months
    assert min(months) >= month_of(cutoff)
    # Old messages keep their status, not their words or numbers; young ones keep all.
    assert messages(db, True, message_cutoff) == [("", "", status) for _, _, status in old_messages]
    assert messages(db, False, message_cutoff) == young_messages
    assert any(address == DAUGHTER for address, _, _ in old_messages)
    # The trail from 30 days on; failed sign-ins of the last 10 days; sessions expired < 1 day.
    assert audit_after == [(i, at) for i, at in audit_before if at >= now - timedelta(days=30)]
    assert 0 < len(audit_after) < len(audit_before)
    assert [r[0] for r in db.execute("SELECT at FROM sign_in_failures").fetchall()] == [
        now - timedelta(days=1)
    ]
    assert sorted(r[0] for r in db.execute("SELECT token_hash FROM web_sessions")) == [
        b"\x01",
        b"\x02",
    ]
    # A second round finds nothing more.
    again = h.run(lambda pool: apply(pool, RETENTION, now, batch=3))
    assert set(again.values()) == {0}
    record("retention.round", "old readings deleted", done["readings"])
    record("retention.round", "batches of 3", sum(-(-n // 3) for n in done.values()))


def test_retention_is_a_setting_and_an_hourly_job(settings: Settings) -> None:
    assert Retention.configured(settings) == Retention()
    keep = settings.model_validate({**settings.model_dump(), "retain_readings_days": " "})
    assert keep.retain_readings_days is None
    with pytest.raises(ValidationError, match="greater than or equal to 30"):
        Settings(retain_readings_days=29)
    with pytest.raises(ValidationError):
        Settings(retain_messages_days=0)
    ours = settings.model_copy(update={"retain_readings_days": 365, "retain_audit_days": 180})
    assert Retention.configured(ours) == Retention(readings_days=365, audit_days=180)
    jobs = Jobs(pool=None, settings=ours)  # type: ignore[arg-type]
    periodic = jobs.app.periodic_registry.periodic_tasks
    (task,) = [p for (name, _), p in periodic.items() if name == "privacy.retention"]
    assert task.cron == "17 * * * *"
    assert jobs.retention.retention == Retention(readings_days=365, audit_days=180)


@pytest.mark.timescaledb
def test_timescaledb_old_readings_go_by_the_chunk_and_leave_the_aggregates(
    timescale_url: str, tmp_path: Path
) -> None:
    asyncio.run(migrate(timescale_url))
    with psycopg.connect(timescale_url, autocommit=True) as db:
        her = resident(db, community(db))
        admin = user_token(db, "admin")
    _, token = new_gateway(timescale_url)
    now = datetime.now(UTC).replace(microsecond=0)
    # A reading every 12 hours for 200 days: chunks wholly past 60 days, one across, newer.
    readings = [
        blood_pressure(measured_at=(now - timedelta(hours=12 * i)).isoformat(), systolic=130)
        for i in range(400)
    ]
    settings = Settings(database_url=timescale_url, data_dir=tmp_path, run_worker=False)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        assert api.post("/v1/readings", json={"readings": readings}, headers=auth(token)).json()[
            "accepted"
        ] == len(readings)
        assign(timescale_url, "BP-1", her)
        with psycopg.connect(timescale_url, autocommit=True) as db:
            db.execute("CALL refresh_continuous_aggregate('daily_blood_pressure', NULL, NULL)")
            db.execute("SELECT compress_chunk(c) FROM show_chunks('blood_pressure_readings') c")

        async def round_() -> dict[str, int]:
            async with AsyncConnectionPool(timescale_url, open=False) as pool:
                return await apply(pool, Retention(readings_days=60), now, batch=50)

        done = asyncio.run(round_())
        cutoff = now - timedelta(days=60)
        with psycopg.connect(timescale_url, autocommit=True) as db:
            left = [row[0] for row in db.execute("SELECT measured_at FROM blood_pressure_readings")]
            old_chunks = db.execute(
                "SELECT count(*) FROM show_chunks('blood_pressure_readings', older_than => %s)",
                (cutoff,),
            ).fetchone()[0]
        assert min(left) >= cutoff
        assert len(left) == sum(1 for r in readings if r["measured_at"] >= cutoff.isoformat())
        assert old_chunks == 0
        assert done["readings"] < len(readings) - len(left)  # most went with their chunks
        daily = api.get(
            f"/v1/residents/{her}/daily",
            params={"kind": "blood_pressure", "since": (now - timedelta(days=300)).isoformat()},
            headers=auth(admin),
        ).json()
        assert daily
        assert min(day["day"] for day in daily) >= str((cutoff - timedelta(days=1)).date())
