"""TimescaleDB mode: hypertables, compression, continuous aggregates, and the same answers as
plain PostgreSQL. Runs when LINLI_TEST_DATABASE_URL points at a TimescaleDB server (e.g. the
timescaledb service of docker-compose.yml); skipped otherwise."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import psycopg
import pytest

from service.database import DatabaseMode
from service.migrate import migrate
from service.settings import Settings
from tests.conftest import LiveServer
from tests.factories import (
    assign,
    auth,
    blood_pressure,
    community,
    glucose,
    new_gateway,
    resident,
    user_token,
)

pytestmark = pytest.mark.timescaledb
WINDOW = {"since": "2026-10-01T00:00:00+08:00", "until": "2026-12-01T00:00:00+08:00"}


def week_of_readings() -> list[dict[str, object]]:
    readings: list[dict[str, object]] = []
    for i in range(7 * 4):
        readings.append(
            blood_pressure(minutes=i * 360, systolic=120 + i % 40, diastolic=75 + i % 20)
        )
        readings.append(
            glucose(
                sequence=i + 1,
                minutes=i * 360 + 30,
                mmol=5 + (i % 9) * 0.7,
                meal="fasting" if i % 4 == 0 else "postprandial",
            )
        )
    return readings


def load(conninfo: str, tmp_path: Path, readings: list[dict[str, object]]) -> dict[str, object]:
    """Upload the readings through the API into the database; return the daily summaries."""
    with psycopg.connect(conninfo, autocommit=True) as db:
        resident_id = resident(db, community(db))
        admin = user_token(db, "admin")
    _, token = new_gateway(conninfo)
    settings = Settings(database_url=conninfo, data_dir=tmp_path)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        answer = api.post("/v1/readings", json={"readings": readings}, headers=auth(token))
        assert answer.json()["accepted"] == len(readings)
        assign(conninfo, "BP-1", resident_id)
        assign(conninfo, "GL-1", resident_id)
        readiness = api.get("/ready").json()
        summaries = {
            kind: api.get(
                f"/v1/residents/{resident_id}/daily",
                params={"kind": kind, **WINDOW},
                headers=auth(admin),
            ).json()
            for kind in ("blood_pressure", "glucose")
        }
        again = api.post("/v1/readings", json={"readings": readings}, headers=auth(token))
    return {
        "readiness": readiness,
        "summaries": summaries,
        "again": again.json(),
        "token": token,
        "resident": resident_id,
    }


def test_schema_uses_hypertables_compression_and_continuous_aggregates(timescale_url):
    report = asyncio.run(migrate(timescale_url))
    assert report.mode == DatabaseMode.TIMESCALEDB
    with psycopg.connect(timescale_url) as conn:
        hypertables = conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'public' ORDER BY 1"
        ).fetchall()
        aggregates = conn.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
            " ORDER BY 1"
        ).fetchall()
        jobs = conn.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
            " WHERE proc_name IN ('policy_compression', 'policy_refresh_continuous_aggregate')"
        ).fetchall()
    assert hypertables == [("blood_pressure_readings", True), ("glucose_readings", True)]
    assert aggregates == [("daily_blood_pressure", False), ("daily_glucose", False)]
    assert sum(1 for name, _ in jobs if name == "policy_compression") == 2
    assert sum(1 for name, _ in jobs if name == "policy_refresh_continuous_aggregate") == 2


def test_same_answers_as_plain_postgresql(timescale_url, database_url, tmp_path):
    readings = week_of_readings()
    timescale = load(timescale_url, tmp_path / "ts", readings)
    plain = load(database_url, tmp_path / "pg", readings)
    assert timescale["readiness"]["database"] == "timescaledb"  # type: ignore[index]
    assert plain["readiness"]["database"] == "postgresql"  # type: ignore[index]
    assert timescale["summaries"] == plain["summaries"]
    assert timescale["again"]["duplicates"] == len(readings)  # type: ignore[index]


def test_resends_into_compressed_chunks_are_still_duplicates(timescale_url, tmp_path):
    readings = week_of_readings()
    first = load(timescale_url, tmp_path, readings)
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        for table in ("blood_pressure_readings", "glucose_readings"):
            conn.execute(
                psycopg.sql.SQL("SELECT compress_chunk(c) FROM show_chunks({}) c").format(
                    psycopg.sql.Literal(table)
                )
            )
        conn.execute("CALL refresh_continuous_aggregate('daily_blood_pressure', NULL, NULL)")
        conn.execute("CALL refresh_continuous_aggregate('daily_glucose', NULL, NULL)")
    settings = Settings(database_url=timescale_url, data_dir=tmp_path / "again")
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        answer = api.post(
            "/v1/readings", json={"readings": readings}, headers=auth(str(first["token"]))
        )
        assert answer.json()["duplicates"] == len(readings)
        with psycopg.connect(timescale_url) as conn:
            admin = user_token(conn, "admin")
            conn.commit()
        summaries = api.get(
            f"/v1/residents/{first['resident']}/daily",
            params={"kind": "blood_pressure", **WINDOW},
            headers=auth(admin),
        ).json()
    assert summaries == first["summaries"]["blood_pressure"]  # type: ignore[index]
