"""Live detection on the real database: uploads are checked, alerts open, rise and clear, and
the live service raises the very findings the offline replay raises for the same readings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from analytics.readings import Condition, Profile, Reading
from analytics.replay import replay_resident
from analytics.thresholds import DEFAULT_THRESHOLDS
from service.detection.service import check_all_queued, check_resident
from service.settings import Settings
from tests.conftest import LiveServer
from tests.factories import assign
from tests.homes import SETTINGS, Home, alerts, bp, glucose, item, make_home, start_of


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """Settings of a service whose jobs the test runs itself, on its own clock."""
    return settings.model_copy(update={"run_worker": False})


@pytest.fixture
def home(quiet_settings: Settings, db: psycopg.Connection[Any]) -> Iterator[Home]:
    with (
        LiveServer(quiet_settings) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        yield make_home(quiet_settings, db, api)


def run(database_url: str, resident_id: int, now: datetime | None = None) -> list[Any]:
    async def main() -> list[Any]:
        async with AsyncConnectionPool(database_url, min_size=1, max_size=2) as pool:
            return await check_resident(pool, resident_id, now)

    return asyncio.run(main())


class TestLiveAlerts:
    def test_an_uploaded_crisis_opens_one_alert_that_rises_and_clears(self, home, db, settings):
        start = start_of(2)
        home.upload(bp(start, 186, 100))  # a first urgent reading: the window opens
        run(settings.database_url, home.resident_id, start + timedelta(minutes=1))
        assert alerts(db) == []
        home.upload(bp(start + timedelta(minutes=3), 184, 104))  # confirmed
        run(settings.database_url, home.resident_id)
        assert alerts(db) == [("bp.urgent", "urgent", "open")]
        home.upload(bp(start + timedelta(hours=1), 182, 100))  # again: nothing new
        run(settings.database_url, home.resident_id)
        assert alerts(db) == [("bp.urgent", "urgent", "open")]
        home.upload(bp(start + timedelta(hours=2), 205, 100))  # extreme: its own alert
        run(settings.database_url, home.resident_id)
        assert alerts(db) == [("bp.urgent", "urgent", "open"), ("bp.crisis", "critical", "open")]
        home.upload(bp(start + timedelta(hours=3), 150, 90))  # below the line: all clear
        run(settings.database_url, home.resident_id)
        assert alerts(db) == [
            ("bp.urgent", "urgent", "resolved"),
            ("bp.crisis", "critical", "resolved"),
        ]
        statuses = db.execute("SELECT rule, status FROM findings ORDER BY id").fetchall()
        assert statuses == [
            ("bp.urgent", "open"),
            ("bp.crisis", "open"),
            ("bp.crisis", "cleared"),
            ("bp.urgent", "cleared"),
        ]

    def test_severity_rises_on_the_open_alert(self, home, db, settings):
        start = start_of(1)
        home.upload(glucose(start, 3.5))
        run(settings.database_url, home.resident_id)
        home.upload(glucose(start + timedelta(minutes=20), 3.7))
        run(settings.database_url, home.resident_id)
        assert alerts(db) == [("glucose.hypo.level1", "warning", "open")]
        home.upload(glucose(start + timedelta(minutes=40), 2.7))
        run(settings.database_url, home.resident_id)
        assert alerts(db) == [
            ("glucose.hypo.level1", "warning", "open"),
            ("glucose.hypo.level2", "critical", "open"),
        ]

    def test_an_unconfirmed_urgent_reading_is_raised_when_its_window_ends(self, home, db, settings):
        start = start_of(1)
        home.upload(bp(start, 190, 95))
        run(settings.database_url, home.resident_id, start + timedelta(minutes=4))
        assert alerts(db) == []
        run(settings.database_url, home.resident_id, start + timedelta(minutes=6))
        row = db.execute("SELECT rule, severity, at, evidence FROM findings").fetchone()
        assert row is not None
        assert row[:3] == ("bp.urgent", "urgent", start + timedelta(minutes=5))
        assert row[3]["confirmed"] is False

    def test_a_reading_upload_resent_is_checked_once(self, home, db, settings):
        reading = glucose(start_of(1), 2.5)
        home.upload(reading)
        home.upload(reading)  # a gateway resending after a lost answer
        run(settings.database_url, home.resident_id)
        run(settings.database_url, home.resident_id)
        assert db.execute("SELECT count(*) FROM findings").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM readings_to_check").fetchone() == (0,)

    def test_readings_waiting_for_their_resident_are_checked_once_the_device_is_assigned(
        self, home, db, settings
    ):
        # A new meter's first upload, a hypoglycaemia among it, reaches the service before
        # the installer has told it whose meter it is.
        reading = glucose(start_of(1), 2.6)
        new_meter = item(reading) | {"device_serial": "GL-NEW"}
        answer = home.api.post(
            "/v1/readings",
            json={"readings": [new_meter]},
            headers={"Authorization": f"Bearer {home.token}"},
        )
        assert answer.json()["accepted"] == 1, answer.text
        run(settings.database_url, home.resident_id)
        assert alerts(db) == []
        assign(settings.database_url, "GL-NEW", home.resident_id)
        run(settings.database_url, home.resident_id)
        assert alerts(db) == [("glucose.hypo.level2", "critical", "open")]


def test_the_sweep_leaves_fresh_uploads_to_their_own_jobs(home, db, settings):
    home.upload(glucose(start_of(0.1), 2.6))

    async def sweep() -> int:
        async with AsyncConnectionPool(settings.database_url, min_size=1) as pool:
            return await check_all_queued(pool)

    assert asyncio.run(sweep()) == 0  # its job is on the way: no second check
    assert alerts(db) == []
    db.execute("UPDATE readings_to_check SET queued_at = now() - interval '2 minutes'")
    assert asyncio.run(sweep()) == 1  # the job was lost: the sweep checks it
    assert alerts(db) == [("glucose.hypo.level2", "critical", "open")]


def test_the_worker_checks_an_upload_without_being_asked(settings, db):
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as api:
        home = make_home(settings, db, api)
        home.upload(glucose(start_of(0.1), 2.6))
        deadline = time.monotonic() + 30
        while not alerts(db) and time.monotonic() < deadline:
            time.sleep(0.1)
        jobs = (
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'detection.check_resident'"
        )
        while db.execute(jobs).fetchone() != (0,) and time.monotonic() < deadline:
            time.sleep(0.1)  # the finished job goes, so the table does not grow forever
    assert alerts(db) == [("glucose.hypo.level2", "critical", "open")]
    assert db.execute(jobs).fetchone() == (0,)


def _series(start: datetime) -> list[Reading]:
    """Three weeks of a resident's life: routine days, a crisis, a low, an unconfirmed high,
    a silence, and pressure creeping up."""
    readings = []
    for day in range(21):
        morning = start + timedelta(days=day, hours=23)  # 07:00 in Fuling
        if 9 <= day <= 13:
            continue  # five silent days
        rise = 25 if day >= 15 else 0
        readings.append(bp(morning, 132 + rise + day % 3, 84, 70))
        readings.append(glucose(morning + timedelta(minutes=10), 6.2 + (day % 4) / 10))
    readings.append(bp(start + timedelta(days=3, hours=11), 208, 112))
    readings.append(glucose(start + timedelta(days=5, hours=4), 2.9))
    readings.append(bp(start + timedelta(days=7, hours=12), 185, 96))  # never re-measured
    return sorted(readings, key=lambda r: r.measured_at)


def test_live_and_replay_raise_the_same_findings(home, db, settings):
    start = datetime.combine(date.today() - timedelta(days=30), datetime.min.time(), UTC)
    readings = _series(start)
    for reading in readings:  # the gateway uploads as the resident measures
        home.upload(reading)
        run(settings.database_url, home.resident_id, reading.measured_at)
    until = start + timedelta(days=22)
    run(settings.database_url, home.resident_id, until)
    live = db.execute(
        """SELECT rule, severity, status, at, reading_at FROM findings
           WHERE resident_id = %s ORDER BY at, id""",
        (home.resident_id,),
    ).fetchall()

    profile = Profile(
        "live", date(1944, 3, 2), frozenset({Condition.HYPERTENSION, Condition.DIABETES})
    )
    thresholds = DEFAULT_THRESHOLDS.with_overrides(SETTINGS)
    replayed = [
        (f.rule, f.severity.label, str(f.status), f.at, f.reading_at)
        for f in replay_resident(profile, readings, until=until, thresholds=thresholds)
    ]
    assert live == replayed
    rules = {row[0] for row in live}
    assert {"bp.crisis", "glucose.hypo.level2", "bp.urgent", "adherence.missed"} <= rules


def test_a_silent_home_with_its_gateway_offline_is_not_a_resident_who_stopped(home, db, settings):
    start = datetime.combine(date.today() - timedelta(days=30), datetime.min.time(), UTC)
    for day in range(8):  # a week of mornings, 07:00 in Fuling
        reading = glucose(start + timedelta(days=day, hours=23), 6.0)
        home.upload(reading)
        run(settings.database_url, home.resident_id, reading.measured_at)
    last_heard = start + timedelta(days=7, hours=23, minutes=5)
    db.execute("UPDATE gateways SET last_seen_at = %s", (last_heard,))
    run(settings.database_url, home.resident_id, start + timedelta(days=13, hours=2))
    assert [row[:2] for row in alerts(db)] == [("gateway.offline", "info")]
    # The gateway is back, but nothing came from the resident: now it is the resident.
    db.execute("UPDATE gateways SET last_seen_at = %s", (start + timedelta(days=13, hours=5),))
    run(settings.database_url, home.resident_id, start + timedelta(days=14, hours=2))
    assert alerts(db) == [
        ("gateway.offline", "info", "resolved"),
        ("adherence.missed", "warning", "open"),
    ]
