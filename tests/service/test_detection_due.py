"""The scheduled checks of residents with something due (`run_due`, the minute's tick): they
decide what checking each resident alone decides, check waiting readings first, and never
overwrite a state that changed after they read it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from service.detection import queries
from service.detection.jobs import advance_due
from service.detection.service import check_all_queued, check_resident, run_due
from service.settings import Settings
from tests.conftest import LiveServer
from tests.factories import assign, new_gateway, resident
from tests.homes import Home, alerts, glucose, make_home, start_of

T = TypeVar("T")


@pytest.fixture
def home(settings: Settings, db: psycopg.Connection[Any]) -> Iterator[Home]:
    quiet = settings.model_copy(update={"run_worker": False})  # the test runs the jobs
    with LiveServer(quiet) as server, httpx.Client(base_url=server.url, timeout=30) as api:
        yield make_home(quiet, db, api)


def on_pool(database_url: str, work: Callable[[AsyncConnectionPool], Awaitable[T]]) -> T:
    async def main() -> T:
        async with AsyncConnectionPool(database_url, min_size=1, max_size=4) as pool:
            return await work(pool)

    return asyncio.run(main())


def checked(database_url: str, resident_id: int, now: datetime) -> None:
    on_pool(database_url, lambda pool: check_resident(pool, resident_id, now))


def test_the_daily_checks_decide_what_checking_the_resident_alone_decides(home, db, settings):
    # As test_detection's silent home, the clock moved on by the tick instead.
    url = settings.database_url
    start = datetime.combine(date.today() - timedelta(days=30), datetime.min.time(), UTC)
    for day in range(8):  # a week of mornings, 07:00 in Fuling
        reading = glucose(start + timedelta(days=day, hours=23), 6.0)
        home.upload(reading)
        checked(url, home.resident_id, reading.measured_at)
    db.execute("UPDATE gateways SET last_seen_at = %s", (start + timedelta(days=7, hours=23),))
    assert on_pool(url, lambda pool: run_due(pool, start + timedelta(days=13, hours=2))) == 1
    assert alerts(db) == [("gateway.offline", "info", "open")]
    # The gateway is back, but nothing came from the resident: now it is the resident.
    db.execute("UPDATE gateways SET last_seen_at = %s", (start + timedelta(days=13, hours=5),))
    later = start + timedelta(days=14, hours=2)
    assert on_pool(url, lambda pool: advance_due(pool, later, chunk=1)) == 1
    assert alerts(db) == [
        ("gateway.offline", "info", "resolved"),
        ("adherence.missed", "warning", "open"),
    ]
    assert on_pool(url, lambda pool: run_due(pool, later)) == 0  # nothing due any more
    row = db.execute("SELECT state ->> 'clock', due_at FROM detection_states").fetchone()
    assert datetime.fromisoformat(row[0]) == later
    assert row[1] == start + timedelta(days=15, hours=1)  # tomorrow 09:00 in Fuling


def test_readings_waiting_when_the_check_falls_due_are_checked_first(home, db, settings):
    start = start_of(5)
    home.upload(glucose(start, 6.0))
    checked(settings.database_url, home.resident_id, start)
    home.upload(glucose(start + timedelta(hours=1), 2.6))  # its job has not run
    now = start + timedelta(days=2)
    assert on_pool(settings.database_url, lambda pool: run_due(pool, now)) == 1
    assert alerts(db) == [("glucose.hypo.level2", "critical", "open")]
    assert db.execute("SELECT count(*) FROM readings_to_check").fetchone() == (0,)
    clock = db.execute("SELECT state ->> 'clock' FROM detection_states").fetchone()[0]
    assert datetime.fromisoformat(clock) == now


def test_a_state_written_after_it_was_read_is_left_as_written(home, db, settings):
    start = start_of(5)
    home.upload(glucose(start, 6.0))
    checked(settings.database_url, home.resident_id, start)
    meanwhile, now = start + timedelta(days=1), start + timedelta(days=2)

    async def race(pool: AsyncConnectionPool) -> tuple[bool, bool]:
        async with pool.connection() as conn:
            await conn.set_autocommit(True)
            (read,) = await queries.due_residents(conn, now, 10)
            # A check of the resident's readings moves the state on after it was read.
            await check_resident(pool, home.resident_id, meanwhile)
            stale = await queries.save_state_if_unchanged(conn, read, read.resident_state())
            (again,) = await queries.due_residents(conn, now, 10)
            fresh = await queries.save_state_if_unchanged(conn, again, again.resident_state())
            await conn.set_autocommit(False)
            return stale, fresh

    assert on_pool(settings.database_url, race) == (False, True)
    clock = db.execute("SELECT state ->> 'clock' FROM detection_states").fetchone()[0]
    assert datetime.fromisoformat(clock) == meanwhile


def test_a_resident_whose_check_fails_holds_up_nobody_else(home, db, settings, caplog):
    url = settings.database_url
    start = start_of(5)
    home.upload(glucose(start, 6.0))
    checked(url, home.resident_id, start)
    # A neighbour in the same community, with a meter of her own behind her own gateway.
    (place,) = db.execute(
        "SELECT community_id FROM residents WHERE id = %s", (home.resident_id,)
    ).fetchone()
    _, token = new_gateway(url, "李家")
    neighbour = Home(home.api, token, resident(db, place, "李桂兰"), serial_suffix="-2")
    neighbour.upload(glucose(start, 6.2))
    assign(url, "GL-HOME-2", neighbour.resident_id)
    checked(url, neighbour.resident_id, start)
    # The first resident's state names a rule this version no longer has (an open alert of
    # a rule since retired): checking her raises.
    db.execute(
        """UPDATE detection_states
           SET state = jsonb_set(state, '{alerts,open}',
                                 '{"bp.retired": ["warning", "2026-01-02T00:00:00+00:00"]}')
           WHERE resident_id = %s""",
        (home.resident_id,),
    )

    def clocks() -> dict[int, datetime]:
        rows = db.execute("SELECT resident_id, state ->> 'clock' FROM detection_states")
        return {r: datetime.fromisoformat(clock) for r, clock in rows}

    now = start + timedelta(days=2)
    assert on_pool(url, lambda pool: advance_due(pool, now)) == 2
    assert clocks() == {home.resident_id: start, neighbour.resident_id: now}
    assert f"resident {home.resident_id}: scheduled check failed" in caplog.text
    still_due = "SELECT resident_id FROM detection_states WHERE due_at <= %s"
    assert db.execute(still_due, (now,)).fetchall() == [(home.resident_id,)]

    # The minute's sweep: both have a low reading waiting; the neighbour's is checked.
    home.upload(glucose(now, 2.6))
    neighbour.upload(glucose(now, 2.6))
    caplog.clear()
    swept = on_pool(url, lambda pool: check_all_queued(pool, older_than=timedelta(0)))
    assert swept == 2
    assert f"resident {home.resident_id}: check failed" in caplog.text
    opened = db.execute("SELECT resident_id, rule FROM alerts WHERE state = 'open'").fetchall()
    assert opened == [(neighbour.resident_id, "glucose.hypo.level2")]
    waiting = "SELECT resident_id, count(*) FROM readings_to_check GROUP BY 1"
    assert db.execute(waiting).fetchall() == [(home.resident_id, 1)]
