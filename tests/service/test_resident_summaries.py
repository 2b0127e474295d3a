"""Resident summaries, what the doctor's panel shows of each resident: computed from the
readings over calendar days in China Standard Time, refreshed with each check of new
readings, and found stale (and refreshed) when a day has passed or readings wait; and the
residents' months, which the community's control rates add up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from analytics.readings import Kind, Meal, Reading
from dashboards.figures.rows import ControlMonth
from dashboards.ports import Viewer
from service.readings import summaries
from service.settings import Settings
from service.web.community import community_view
from tests.conftest import LiveServer
from tests.homes import Home, bp, glucose, item, make_home
from tests.service.test_detection import run

LOCAL = summaries.LOCAL


@pytest.fixture
def home(settings: Settings, db: psycopg.Connection[Any]) -> Iterator[Home]:
    quiet = settings.model_copy(update={"run_worker": False})
    with (
        LiveServer(quiet) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        yield make_home(quiet, db, api)


def local(days_ago: int, hour: int, minute: int = 0) -> datetime:
    """A time on a calendar day in China, `days_ago` days before today there."""
    day = datetime.now(LOCAL).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour, minute), LOCAL).astimezone(UTC)


def summary(db: psycopg.Connection[Any], resident_id: int) -> dict[str, Any] | None:
    cur = db.execute("SELECT * FROM resident_summaries WHERE resident_id = %s", (resident_id,))
    row = cur.fetchone()
    if row is None:
        return None
    assert cur.description is not None
    return dict(zip([c.name for c in cur.description], row, strict=True))


def refresh_stale(database_url: str, now: datetime | None = None) -> int:
    async def main() -> int:
        async with AsyncConnectionPool(database_url, min_size=1, max_size=1) as pool:
            return await summaries.refresh_everyone(pool, now or datetime.now(UTC), 10_000)

    return asyncio.run(main())


def upload_flagged(home: Home, at: datetime, systolic: float, diastolic: float) -> None:
    flagged = item(bp(at, systolic, diastolic)) | {"status": {"body_movement": True}}
    answer = home.api.post(
        "/v1/readings",
        json={"readings": [flagged]},
        headers={"Authorization": f"Bearer {home.token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == 0, answer.text


def test_a_checked_upload_is_summarised_over_local_calendar_days(home, db, settings):
    # 30 days are today and the 29 before it, in China: 00:10 on the 29th day back counts,
    # 23:50 on the 30th does not, whatever the UTC date.
    home.upload(
        bp(local(0, 7), 150, 95),
        bp(local(6, 0, 10), 140, 90),
        bp(local(7, 23, 50), 130, 80),
        bp(local(29, 0, 10), 120, 70),
        bp(local(30, 23, 50), 200, 120),
        glucose(local(2, 7), 6.5),
        glucose(local(12, 7), 8.0),
    )
    upload_flagged(home, local(1, 8), 190, 110)  # counts as a day measured, not in the means
    assert summary(db, home.resident_id) is None  # nothing before the check
    run(settings.database_url, home.resident_id)

    s = summary(db, home.resident_id)
    assert s is not None
    assert s["day"] == datetime.now(LOCAL).date()
    assert (s["last_systolic"], s["last_diastolic"]) == (150, 95)
    assert s["last_bp_at"] == local(0, 7)
    assert (s["last_glucose"], s["last_glucose_at"]) == (pytest.approx(6.5), local(2, 7))
    assert (s["systolic_7d"], s["diastolic_7d"]) == (145, 92.5)
    assert s["systolic_30d"] == pytest.approx((150 + 140 + 130 + 120) / 4)
    assert s["diastolic_30d"] == pytest.approx((95 + 90 + 80 + 70) / 4)
    assert s["bp_readings_30d"] == 4
    # days with any reading: today, 1, 2 and 6 days ago in the week; 7, 12 and 29 besides
    assert (s["days_measured_7d"], s["days_measured_30d"]) == (4, 7)


def test_a_new_reading_moves_the_summary_with_its_check(home, db, settings):
    home.upload(bp(local(3, 8), 128, 82))
    run(settings.database_url, home.resident_id)
    first = summary(db, home.resident_id)
    assert first is not None
    assert first["last_systolic"] == 128

    home.upload(bp(local(0, 8), 176, 104))
    assert summary(db, home.resident_id) == first  # queued: the summary waits for its check
    assert refresh_stale(settings.database_url) == 1  # ... but counts as stale meanwhile
    run(settings.database_url, home.resident_id)
    after = summary(db, home.resident_id)
    assert after is not None
    assert (after["last_systolic"], after["bp_readings_30d"]) == (176, 2)
    assert after["systolic_7d"] == pytest.approx((128 + 176) / 2)


def test_the_daily_round_moves_every_summary_to_the_new_day(home, db, settings):
    home.upload(bp(local(6, 8), 150, 95), bp(local(2, 8), 130, 85))
    run(settings.database_url, home.resident_id)
    assert refresh_stale(settings.database_url) == 0  # all current: nothing to do

    # The next morning: the reading of six days ago has left the week.
    tomorrow = local(-1, 6)
    assert refresh_stale(settings.database_url, tomorrow) == 1
    s = summary(db, home.resident_id)
    assert s is not None
    assert s["day"] == tomorrow.astimezone(LOCAL).date()
    assert (s["systolic_7d"], s["days_measured_7d"]) == (130, 1)
    assert (s["systolic_30d"], s["days_measured_30d"]) == (140, 2)


def test_a_resident_with_no_readings_has_an_empty_summary(db, settings):
    from tests.factories import community, resident

    someone = resident(db, community(db))
    assert refresh_stale(settings.database_url) >= 1
    s = summary(db, someone)
    assert s is not None
    assert s["last_bp_at"] is None
    assert s["systolic_30d"] is None
    assert (s["bp_readings_30d"], s["days_measured_7d"], s["days_measured_30d"]) == (0, 0, 0)


def fasting(at: datetime, mmol: float) -> Reading:
    return Reading("live", at, Kind.GLUCOSE, glucose_mmol_l=mmol, meal=Meal.FASTING)


def months(database_url: str) -> dict[date, ControlMonth]:
    """The community page's months, as an admin sees them."""

    async def main() -> dict[date, ControlMonth]:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            view = await community_view(conn, Viewer(0, "Admin", "admin", "en"), None)
        assert view is not None
        return {m.month: m for m in view.months}

    return asyncio.run(main())


def test_the_community_counts_each_residents_month_late_readings_included(home, settings):
    this_month = datetime.now(LOCAL).date().replace(day=1)
    before = this_month - timedelta(days=10)  # a day of last month
    ago = (datetime.now(LOCAL).date() - before).days
    # Last month: 155/90 on average and fasting 8.0: above the targets of an 82-year-old
    # (150/90) and of glucose (7.0). This month: 130/80 (the flagged 190/110 not counted), 6.0.
    home.upload(bp(local(ago, 8), 160, 95), bp(local(ago - 1, 8), 150, 85))
    home.upload(fasting(local(ago, 7), 8.0), fasting(local(0, 7), 6.0))
    home.upload(bp(local(0, 8), 130, 80), bp(local(0, 9), 130, 80))
    upload_flagged(home, local(0, 10), 190, 110)
    run(settings.database_url, home.resident_id)

    found = months(settings.database_url)
    last, now = found[before.replace(day=1)], found[this_month]
    assert (last.bp_rate, last.glucose_rate, last.bp_managed, last.glucose_managed) == (0, 0, 1, 1)
    assert (now.bp_rate, now.glucose_rate) == (1, 1)

    # A reading of last month arrives late (a gateway offline for weeks): 136.7/80 now.
    home.upload(bp(local(ago - 2, 8), 100, 60))
    run(settings.database_url, home.resident_id)
    assert months(settings.database_url)[before.replace(day=1)].bp_rate == 1


def test_with_no_worker_the_community_counts_waiting_readings_in_their_own_month(home, settings):
    this_month = datetime.now(LOCAL).date().replace(day=1)
    before = this_month - timedelta(days=10)
    ago = (datetime.now(LOCAL).date() - before).days
    # Uploaded, never checked: one reading of last month (late), one of this month.
    home.upload(bp(local(ago, 8), 160, 95), bp(local(0, 8), 130, 80))
    found = months(settings.database_url)  # the page refreshes what it finds stale
    last, now = found[before.replace(day=1)], found[this_month]
    assert (last.bp_managed, last.bp_rate) == (1, 0)
    assert (now.bp_managed, now.bp_rate) == (1, 1)
