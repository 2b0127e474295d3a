"""Erasure that really deletes: a resident with everything Linli can hold about them (readings
through the API, an alert texted to their daughter through the fake Twilio, notes, contacts, a
family member's link, a doctor's digest naming them, a queued check and job) is erased by the
admin API; then every row of every table and view is read back and none holds anything of
theirs, while a neighbour's data is untouched."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from dashboards.ports import Viewer
from service.alerting.digest import prepare_digests
from service.detection.service import check_resident
from service.jobs import Jobs
from service.migrate import migrate
from service.settings import Settings
from service.web import views
from tests.conftest import LiveServer
from tests.effort import record, tries
from tests.factories import assign, auth, community, new_gateway, resident, user_token
from tests.homes import SETTINGS, Home, bp, glucose, make_home, start_of
from tests.processes import wait_until
from tests.service.alerting_home import DAUGHTER, SON, Household, urgent_pressure
from tests.service.test_timescaledb import WINDOW, week_of_readings

NEIGHBOUR_PHONE = "+8613700001111"
NOTE = "复诊时带上血压计 XJ-7781"
# A glucose value nobody else has, to find her readings by.
MARK = 7.123456


def neighbour_of(h: Household, admin: str) -> Home:
    """Another resident of the community, with her own home, a son to text and readings."""
    db, url = h.db, h.settings.database_url or ""
    place = db.execute(
        "SELECT community_id FROM residents WHERE id = %s", (h.home.resident_id,)
    ).fetchone()[0]
    neighbour = resident(db, place, "李桂兰")
    db.execute(
        "UPDATE residents SET detection_overrides = %s WHERE id = %s",
        (json.dumps(SETTINGS), neighbour),
    )
    _, token = new_gateway(url, "李家")
    home = Home(h.home.api, token, neighbour, serial_suffix="-2")
    home.upload(bp(start_of(400), 120, 80), glucose(start_of(400), 6.0))
    assign(url, "BP-HOME-2", neighbour)
    assign(url, "GL-HOME-2", neighbour)
    son = {"name": "李建国", "kind": "family", "phone": NEIGHBOUR_PHONE}
    answer = h.home.api.post(
        f"/v1/admin/residents/{neighbour}/contacts", json=son, headers=auth(admin)
    )
    assert answer.status_code == 201, answer.text
    return home


def urgent_for(h: Household, home: Home, now: datetime) -> None:
    """Two readings over the urgent line, checked: an urgent alert for the home's resident."""
    first = now - timedelta(minutes=10)
    home.upload(bp(first, 186, 100), bp(first + timedelta(minutes=3), 184, 104))
    h.run(lambda pool: check_resident(pool, home.resident_id, now))


def month_of_readings(home: Home, count: int) -> None:
    """`count` readings over the month before the last day, uploaded as a gateway sends them."""
    start, step = start_of(30), timedelta(days=29) / count
    readings = [bp(start + i * step, 118 + i % 25, 76 + i % 12) for i in range(count)]
    for at in range(0, count, 1000):
        home.upload(*readings[at : at + 1000])


async def _note(pool: AsyncConnectionPool, doctor: int, resident_id: int) -> None:
    viewer = Viewer(doctor, "李医生", "doctor", "zh-CN")
    async with pool.connection() as conn, conn.transaction():
        assert await views.add_note(conn, viewer, resident_id, NOTE)


async def _digest(pool: AsyncConnectionPool, now: datetime) -> int:
    async with pool.connection() as conn, conn.transaction():
        return await prepare_digests(conn, now, 0)


async def _queue_checks(h: Household, residents: set[int]) -> None:
    async with AsyncConnectionPool(h.settings.database_url or "", open=False) as pool:
        jobs = Jobs(pool, h.settings)
        async with jobs.opened():
            await jobs.detection.wake(residents)


def warning_for(db: psycopg.Connection[Any], resident_id: int, now: datetime) -> None:
    """A warning for the doctor, as a slow rule would open it: the digest names them."""
    db.execute(
        """INSERT INTO alerts (resident_id, rule, severity, audience, message, opened_at,
                               updated_at)
           VALUES (%s, 'bp.uncontrolled', 'warning', '{doctor}', 'not at target', %s, %s)""",
        (resident_id, now - timedelta(hours=1), now - timedelta(hours=1)),
    )


def tables(db: psycopg.Connection[Any]) -> list[tuple[str, str, int]]:
    """Every table and view outside PostgreSQL's own schemas, with its number of columns."""
    rows = db.execute(
        """SELECT t.table_schema, t.table_name, count(c.column_name)
           FROM information_schema.tables t
           JOIN information_schema.columns c
             ON c.table_schema = t.table_schema AND c.table_name = t.table_name
           WHERE t.table_schema NOT IN ('pg_catalog', 'information_schema')
           GROUP BY 1, 2 ORDER BY 1, 2"""
    ).fetchall()
    return [(schema, name, int(n)) for schema, name, n in rows]


def scan(db: psycopg.Connection[Any], needles: list[str]) -> tuple[dict[str, list[str]], int]:
    """Every row of every table and view as text: where each needle is found (once a row, in
    no particular order), and how many cells were read."""
    found: dict[str, list[str]] = {}
    cells = 0
    for schema, name, columns in tables(db):
        query = sql.SQL("SELECT t::text FROM {}.{} t").format(
            sql.Identifier(schema), sql.Identifier(name)
        )
        for (text,) in db.execute(query):
            cells += columns
            for needle in needles:
                if needle in text:
                    found.setdefault(f"{schema}.{name}", []).append(needle)
    return {table: sorted(needles) for table, needles in found.items()}, cells


def rows_naming(db: psycopg.Connection[Any], resident_id: int) -> Counter[str]:
    """Rows of each table and view whose resident_id column is this resident's (TimescaleDB's
    chunks included; its compressed ones keep the column in a form of their own, and are
    searched through their hypertable)."""
    columns = db.execute(
        """SELECT table_schema, table_name FROM information_schema.columns
           WHERE column_name = 'resident_id' AND data_type = 'bigint'
             AND table_schema NOT IN ('pg_catalog', 'information_schema')"""
    ).fetchall()
    counts: Counter[str] = Counter()
    for schema, name in columns:
        query = sql.SQL("SELECT count(*) FROM {}.{} WHERE resident_id = %s").format(
            sql.Identifier(schema), sql.Identifier(name)
        )
        counts[f"{schema}.{name}"] = int(db.execute(query, (resident_id,)).fetchone()[0])
    jobs = db.execute(
        "SELECT count(*) FROM procrastinate_jobs WHERE args @> %s",
        (json.dumps({"resident_id": resident_id}),),
    ).fetchone()[0]
    counts["procrastinate_jobs.args"] = int(jobs)
    return +counts


def test_an_erased_resident_leaves_nothing_behind(household: Household) -> None:
    h, db = household, household.db
    her = h.home.resident_id
    admin = user_token(db, "admin")
    admin_id = db.execute("SELECT id FROM users WHERE role = 'admin'").fetchone()[0]
    neighbour = neighbour_of(h, admin)
    now = datetime.now(UTC).replace(microsecond=0)

    # Her month of readings, an urgent alert texted to her daughter, and the neighbour's.
    month_of_readings(h.home, tries(150, 3000))
    urgent_pressure(h, now)
    urgent_for(h, neighbour, now)
    assert h.deliver(now) == 2
    assert len(h.texts_to(DAUGHTER)) == 1
    # A reading still waiting for its check, a note, her daughter's account, a digest.
    h.home.upload(glucose(now - timedelta(minutes=1), MARK))
    h.run(lambda pool: _note(pool, h.doctor, her))
    family = h.home.api.post(
        "/v1/admin/users",
        json={"username": "xiaohong", "display_name": "Xiaohong", "role": "family"},
        headers=auth(admin),
    ).json()["id"]
    linked = h.home.api.put(f"/v1/admin/users/{family}/residents/{her}", headers=auth(admin))
    assert linked.status_code == 200
    warning_for(db, her, now)
    warning_for(db, neighbour.resident_id, now)
    assert h.run(lambda pool: _digest(pool, now)) == 1
    asyncio.run(_queue_checks(h, {her, neighbour.resident_id}))
    read = h.home.api.get(
        f"/v1/residents/{her}/readings", params={"kind": "glucose"}, headers=auth(admin)
    )
    assert read.status_code == 200

    needles = ["王秀英", "王小红", "王小明", DAUGHTER, SON, NOTE, str(MARK)]
    before, cells_before = scan(db, needles)
    held = rows_naming(db, her)
    # Everything was there to erase: her rows in every table that can hold them.
    for table in (
        "public.blood_pressure_readings",
        "public.glucose_readings",
        "public.readings_to_check",
        "public.detection_states",
        "public.findings",
        "public.alerts",
        "public.notifications",
        "public.contacts",
        "public.notes",
        "public.device_users",
        "public.user_residents",
        "public.resident_summaries",
        "public.resident_months",
        "public.daily_blood_pressure",
        "public.audit_log",
        "procrastinate_jobs.args",
    ):
        assert held[table] > 0, table
    assert "public.notifications" in before  # the texts to her daughter, and the digest
    theirs = rows_naming(db, neighbour.resident_id)
    neighbours_found, _ = scan(db, ["李桂兰", NEIGHBOUR_PHONE])

    gone = h.home.api.delete(f"/v1/admin/residents/{her}", headers=auth(admin))
    assert gone.status_code == 204, gone.text

    after, cells = scan(db, needles)
    assert after == {}
    assert rows_naming(db, her) == Counter({"public.audit_log": held["public.audit_log"] + 1})
    # The neighbour: every row of hers is where it was, her name and her son's number too.
    assert rows_naming(db, neighbour.resident_id) == theirs
    assert scan(db, ["李桂兰", NEIGHBOUR_PHONE])[0] == neighbours_found
    (digest,) = db.execute("SELECT body FROM notifications WHERE purpose = 'digest'").fetchone()
    assert "李桂兰" in digest
    assert "***" in digest
    # The trail keeps her number: who erased her, and how much went.
    action, by, detail = db.execute(
        """SELECT action, user_id, detail FROM audit_log WHERE resident_id = %s
           ORDER BY id DESC LIMIT 1""",
        (her,),
    ).fetchone()
    assert (action, by) == ("erase resident", admin_id)
    deleted = detail["deleted"]
    assert deleted["blood_pressure_readings"] == held["public.blood_pressure_readings"]
    assert deleted["glucose_readings"] == held["public.glucose_readings"]
    assert deleted["contacts"] == 2
    assert deleted["digests"] == 1
    assert deleted["jobs"] == 1
    # She is gone for the API; her devices stay, and what they send now belongs to nobody.
    assert h.home.api.get(f"/v1/admin/residents/{her}", headers=auth(admin)).status_code == 404
    assert h.home.api.delete(f"/v1/admin/residents/{her}", headers=auth(admin)).status_code == 404
    h.home.upload(bp(now, 131, 85))
    waiting = db.execute(
        """SELECT count(*) FROM blood_pressure_readings b JOIN devices d ON d.id = b.device_id
           WHERE d.serial = 'BP-HOME' AND b.resident_id IS NULL"""
    ).fetchone()[0]
    assert waiting == 1
    record("erasure.everything", "cells checked before erasure", cells_before)
    record("erasure.everything", "cells checked after erasure", cells)
    record("erasure.everything", "tables and views scanned", len(tables(db)))
    readings = sum(n for table, n in held.items() if table.endswith("_readings"))
    record("erasure.everything", "readings erased", readings)


def materialised(db: psycopg.Connection[Any], resident_id: int) -> int:
    """Rows TimescaleDB's continuous aggregates hold (materialised) for the resident."""
    total = 0
    for view in ("daily_blood_pressure", "daily_glucose"):
        schema, name = db.execute(
            """SELECT materialization_hypertable_schema, materialization_hypertable_name
               FROM timescaledb_information.continuous_aggregates WHERE view_name = %s""",
            (view,),
        ).fetchone()
        query = sql.SQL("SELECT count(*) FROM {}.{} WHERE resident_id = %s").format(
            sql.Identifier(schema), sql.Identifier(name)
        )
        total += int(db.execute(query, (resident_id,)).fetchone()[0])
    return total


@pytest.mark.timescaledb
def test_timescaledb_forgets_an_erased_resident_in_compressed_chunks_and_aggregates(
    timescale_url: str, tmp_path: Path
) -> None:
    asyncio.run(migrate(timescale_url))
    with psycopg.connect(timescale_url, autocommit=True) as db:
        place = community(db)
        her, neighbour = resident(db, place), resident(db, place, "李桂兰")
        admin = user_token(db, "admin")
    _, token = new_gateway(timescale_url)
    readings = week_of_readings()
    theirs = [{**r, "device_serial": f"{r['device_serial']}-2"} for r in readings]
    settings = Settings(database_url=timescale_url, data_dir=tmp_path, run_worker=False)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        stored = api.post("/v1/readings", json={"readings": readings + theirs}, headers=auth(token))
        assert stored.json()["accepted"] == 2 * len(readings)
        for serial in ("BP-1", "GL-1"):
            assign(timescale_url, serial, her)
            assign(timescale_url, f"{serial}-2", neighbour)
        with psycopg.connect(timescale_url, autocommit=True) as db:
            # As a month later: the days materialised, the chunks compressed.
            for view in ("daily_blood_pressure", "daily_glucose"):
                db.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
            for table in ("blood_pressure_readings", "glucose_readings"):
                db.execute(f"SELECT compress_chunk(c) FROM show_chunks('{table}') c")
            assert materialised(db, her) > 0
            kept = materialised(db, neighbour)
        daily = {"kind": "blood_pressure", **WINDOW}
        path = f"/v1/residents/{neighbour}/daily"
        before = api.get(path, params=daily, headers=auth(admin)).json()

        gone = api.delete(f"/v1/admin/residents/{her}", headers=auth(admin))
        assert gone.status_code == 204, gone.text

        with psycopg.connect(timescale_url, autocommit=True) as db:
            assert set(rows_naming(db, her)) == {"public.audit_log"}
            assert materialised(db, her) == 0
            assert materialised(db, neighbour) == kept
        assert api.get(path, params=daily, headers=auth(admin)).json() == before


def test_an_upload_racing_an_erasure_is_stored_as_nobodys(settings: Settings, db: Any) -> None:
    """A reading uploaded while the resident is being erased waits for the erasure, then is
    stored without her: an answer of 200 for every reading, not a 500, and nothing of hers."""
    with LiveServer(settings) as server, httpx.Client(base_url=server.url) as api:
        home = make_home(settings, db, api)
        now = start_of(0)
        with (
            psycopg.connect(settings.database_url or "") as eraser,
            ThreadPoolExecutor(1) as uploads,
        ):
            eraser.execute("DELETE FROM residents WHERE id = %s", (home.resident_id,))
            upload = uploads.submit(home.upload, glucose(now, 5.5))
            wait_until(
                lambda: (
                    db.execute(
                        """SELECT 1 FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock'"""
                    ).fetchone()
                    is not None
                )
            )
            eraser.commit()
            upload.result(timeout=30)
    stored = db.execute(
        "SELECT resident_id FROM glucose_readings WHERE measured_at = %s", (now,)
    ).fetchall()
    assert stored == [(None,)]
