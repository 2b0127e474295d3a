"""POST /v1/readings against a real server and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from service.settings import Settings
from tests.conftest import LiveServer
from tests.factories import (
    assign,
    auth,
    blood_pressure,
    community,
    count,
    glucose,
    new_gateway,
    resident,
    revoke,
    user_token,
)


@pytest.fixture
def gateway(database_url: str) -> tuple[int, str]:
    return new_gateway(database_url)


def post(
    api: httpx.Client, token: str, readings: list[dict[str, Any]], **body: Any
) -> httpx.Response:
    return api.post("/v1/readings", json={"readings": readings, **body}, headers=auth(token))


def statuses(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["status"] for item in response.json()["results"]]


class TestIdempotency:
    def test_same_batch_twice_stores_each_reading_once(self, api, gateway, db):
        batch = [blood_pressure(minutes=i) for i in range(20)] + [
            glucose(sequence=i, minutes=i) for i in range(1, 11)
        ]
        first = post(api, gateway[1], batch)
        assert statuses(first) == ["accepted"] * 30
        assert first.json()["accepted"] == 30
        second = post(api, gateway[1], batch)
        assert statuses(second) == ["duplicate"] * 30
        assert second.json()["duplicates"] == 30
        assert count(db, "blood_pressure_readings") == 20
        assert count(db, "glucose_readings") == 10

    def test_overlapping_batches_add_only_the_new_readings(self, api, gateway, db):
        readings = [glucose(sequence=i, minutes=i) for i in range(1, 16)]
        assert statuses(post(api, gateway[1], readings[:10])) == ["accepted"] * 10
        assert statuses(post(api, gateway[1], readings[5:])) == ["duplicate"] * 5 + ["accepted"] * 5
        assert count(db, "glucose_readings") == 15

    def test_a_reading_repeated_inside_one_batch_is_stored_once(self, api, gateway, db):
        reading = blood_pressure()
        assert statuses(post(api, gateway[1], [reading, reading])) == ["accepted", "duplicate"]
        assert count(db, "blood_pressure_readings") == 1

    def test_identical_batches_sent_at_once_store_one_row_each(
        self, live_server: LiveServer, gateway, db
    ):
        batch = [blood_pressure(minutes=i) for i in range(200)] + [
            glucose(sequence=i, minutes=i) for i in range(1, 201)
        ]

        async def send_together(copies: int) -> list[dict[str, Any]]:
            async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
                responses = await asyncio.gather(
                    *(
                        client.post(
                            "/v1/readings", json={"readings": batch}, headers=auth(gateway[1])
                        )
                        for _ in range(copies)
                    )
                )
            assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
            return [r.json() for r in responses]

        answers = asyncio.run(send_together(3))
        assert sum(a["accepted"] for a in answers) == 400
        assert sum(a["duplicates"] for a in answers) == 800
        assert count(db, "blood_pressure_readings") == 200
        assert count(db, "glucose_readings") == 200
        for index in range(400):  # every reading accepted by exactly one of the three
            assert sum(a["results"][index]["status"] == "accepted" for a in answers) == 1

    def test_sequence_number_reused_at_another_time_is_a_new_reading(self, api, gateway, db):
        # A meter whose counter wrapped or was reset sends sequence 7 again, for a new reading.
        first = glucose(sequence=7, minutes=0)
        after_reset = glucose(sequence=7, minutes=60 * 24 * 30)
        assert statuses(post(api, gateway[1], [first, after_reset])) == ["accepted", "accepted"]
        assert count(db, "glucose_readings") == 2

    def test_without_sequence_the_user_and_time_identify_a_reading(self, api, gateway, db):
        same_time = [blood_pressure(user_index=1), blood_pressure(user_index=2)]
        assert statuses(post(api, gateway[1], same_time)) == ["accepted", "accepted"]
        again = blood_pressure(user_index=1, systolic=150)  # same device, user and time
        assert statuses(post(api, gateway[1], [again])) == ["duplicate"]
        stored = db.execute("SELECT systolic FROM blood_pressure_readings WHERE user_index = 1")
        assert stored.fetchall() == [(128.0,)]


class TestUnassignedDevices:
    def test_reading_from_an_unknown_device_is_kept_for_admins(
        self, api, gateway, db, database_url
    ):
        assert (
            statuses(post(api, gateway[1], [blood_pressure("NEW-42", minutes=i) for i in range(3)]))
            == ["accepted"] * 3
        )
        device = db.execute(
            "SELECT kind, gateway_id FROM devices WHERE serial = 'NEW-42'"
        ).fetchone()
        assert device == ("blood_pressure", gateway[0])
        assert db.execute(
            "SELECT count(*) FROM blood_pressure_readings WHERE resident_id IS NULL"
        ).fetchone() == (3,)
        admin = user_token(db, "admin")
        listed = api.get(
            "/v1/readings/unassigned", params={"kind": "blood_pressure"}, headers=auth(admin)
        )
        assert listed.status_code == 200
        assert [r["device_serial"] for r in listed.json()] == ["NEW-42"] * 3
        doctor = user_token(db, "doctor")
        denied = api.get(
            "/v1/readings/unassigned", params={"kind": "blood_pressure"}, headers=auth(doctor)
        )
        assert denied.status_code == 403

    def test_assigning_the_device_attaches_waiting_and_new_readings(
        self, api, gateway, db, database_url
    ):
        post(api, gateway[1], [glucose("GL-9", sequence=1)])
        resident_id = resident(db, community(db))
        assert assign(database_url, "GL-9", resident_id) == 1
        post(api, gateway[1], [glucose("GL-9", sequence=2, minutes=5)])
        owners = db.execute("SELECT resident_id FROM glucose_readings ORDER BY sequence_number")
        assert owners.fetchall() == [(resident_id,), (resident_id,)]

    def test_multi_user_monitor_readings_go_to_each_users_resident(
        self, api, gateway, db, database_url
    ):
        place = community(db)
        husband, wife = resident(db, place, "张国强"), resident(db, place, "李桂兰")
        post(api, gateway[1], [blood_pressure("BP-2", user_index=1)])
        assign(database_url, "BP-2", husband, user_index=1)
        assign(database_url, "BP-2", wife, user_index=2)
        post(
            api,
            gateway[1],
            [
                blood_pressure("BP-2", user_index=2, minutes=3),
                blood_pressure("BP-2", user_index=3, minutes=4),
            ],
        )
        rows = db.execute(
            "SELECT user_index, resident_id FROM blood_pressure_readings ORDER BY user_index"
        )
        assert rows.fetchall() == [(1, husband), (2, wife), (3, None)]


class TestAuthentication:
    def test_without_a_token_nothing_is_stored(self, api, db):
        response = api.post("/v1/readings", json={"readings": [blood_pressure()]})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert count(db, "blood_pressure_readings") == 0

    def test_unknown_token_is_refused(self, api, gateway, db):
        response = post(api, "lgw_" + "x" * 43, [blood_pressure()])
        assert response.status_code == 401
        assert "unknown or revoked" in response.json()["detail"]
        assert count(db, "blood_pressure_readings") == 0

    def test_revoked_token_is_refused(self, api, gateway, db, database_url):
        revoke(database_url, gateway[0])
        assert post(api, gateway[1], [blood_pressure()]).status_code == 401
        assert count(db, "blood_pressure_readings") == 0

    def test_a_user_token_cannot_upload(self, api, db):
        token = user_token(db, "admin")
        assert post(api, token, [blood_pressure()]).status_code == 401

    def test_a_gateway_cannot_upload_for_another_gateways_device(
        self, api, gateway, db, database_url
    ):
        post(api, gateway[1], [blood_pressure("BP-7")])
        _, other = new_gateway(database_url, "next door")
        response = post(api, other, [blood_pressure("BP-7", minutes=1)])
        assert statuses(response) == ["rejected"]
        assert "another gateway" in response.json()["results"][0]["reason"]
        assert count(db, "blood_pressure_readings") == 1


class TestWholeRequestRejected:
    def test_body_that_is_not_json(self, api, gateway, db):
        response = api.post(
            "/v1/readings",
            content=b'{"readings": [',
            headers={**auth(gateway[1]), "content-type": "application/json"},
        )
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["detail"]

    def test_body_that_is_not_declared_json(self, api, gateway):
        response = api.post(
            "/v1/readings",
            content=b"systolic=120",
            headers={**auth(gateway[1]), "content-type": "text/plain"},
        )
        assert response.status_code == 415

    @pytest.mark.parametrize(
        ("body", "words"),
        [
            ([], "JSON object"),
            ({"readings": {"kind": "glucose"}}, "must be a list"),
            ({"readings": [], "patient": 1}, "unknown field"),
            ({}, "must be a list"),
        ],
    )
    def test_body_that_is_not_a_batch(self, api, gateway, body, words):
        response = api.post("/v1/readings", json=body, headers=auth(gateway[1]))
        assert response.status_code == 422
        assert words in response.json()["detail"]

    def test_a_bad_device_report_stores_none_of_the_batch(self, api, gateway, db):
        response = post(
            api,
            gateway[1],
            [blood_pressure()],
            devices=[{"serial": "BP-1", "kind": "blood_pressure", "battery_percent": 140}],
        )
        assert response.status_code == 422
        assert "battery_percent" in response.json()["detail"]
        assert count(db, "blood_pressure_readings") == 0
        assert db.execute("SELECT count(*) FROM devices").fetchone() == (0,)

    def test_too_many_readings(self, gateway, db, database_url, tmp_path):
        settings = Settings(database_url=database_url, data_dir=tmp_path, max_batch_readings=5)
        with LiveServer(settings) as server, httpx.Client(base_url=server.url) as client:
            response = post(client, gateway[1], [blood_pressure(minutes=i) for i in range(6)])
            assert response.status_code == 413
            assert "at most 5" in response.json()["detail"]
            assert (
                statuses(post(client, gateway[1], [blood_pressure(minutes=i) for i in range(5)]))
                == ["accepted"] * 5
            )
        assert count(db, "blood_pressure_readings") == 5

    def test_body_over_the_size_limit(self, gateway, db, database_url, tmp_path):
        settings = Settings(database_url=database_url, data_dir=tmp_path, max_body_bytes=4096)
        with LiveServer(settings) as server, httpx.Client(base_url=server.url) as client:
            response = post(client, gateway[1], [blood_pressure(minutes=i) for i in range(100)])
            assert response.status_code == 413
        assert count(db, "blood_pressure_readings") == 0


class TestItemsRejected:
    @pytest.mark.parametrize(
        ("change", "words"),
        [
            ({"systolic": "128"}, "systolic: Input should be a valid number"),
            ({"measured_at": "2026-11-01T07:30:00"}, "timezone"),
            ({"measured_at": 1762000000}, "measured_at"),
            ({"systolic": -5}, "greater than 0"),
            ({"systolic": 900}, "outside what a blood-pressure monitor measures"),
            ({"systolic": 2.9e-212}, "outside what a blood-pressure monitor measures"),
            ({"pulse": 1e-300}, "pulse: Input should be greater than or equal to 1"),
            ({"unit": "psi"}, "unit"),
            ({"heart": 1}, "heart: Extra inputs are not permitted"),
            ({"kind": "weight"}, "kind"),
            ({"device_serial": ""}, "device_serial"),
            ({"user_index": 256}, "user_index"),
            ({"status": {"irregular_pulse": "yes"}}, "status.irregular_pulse"),
        ],
    )
    def test_bad_reading_is_rejected_with_a_reason_and_the_good_ones_kept(
        self, api, gateway, db, change, words
    ):
        bad = {**blood_pressure(minutes=1), **change}
        response = post(api, gateway[1], [blood_pressure(), bad, glucose(sequence=1)])
        assert statuses(response) == ["accepted", "rejected", "accepted"]
        assert words in response.json()["results"][1]["reason"]
        assert count(db, "blood_pressure_readings") == 1
        assert count(db, "glucose_readings") == 1

    def test_reading_of_the_wrong_kind_for_its_device(self, api, gateway, db):
        post(api, gateway[1], [glucose("GL-1", sequence=1)])
        response = post(api, gateway[1], [blood_pressure("GL-1")])
        assert statuses(response) == ["rejected"]
        assert "is a glucose device" in response.json()["results"][0]["reason"]

    def test_glucose_beyond_any_meter(self, api, gateway, db):
        response = post(api, gateway[1], [glucose(sequence=1, unit="mg/dL", concentration=9000)])
        assert statuses(response) == ["rejected"]
        assert "outside what a meter measures" in response.json()["results"][0]["reason"]

    def test_glucose_too_small_for_any_meter(self, api, gateway, db):
        response = post(api, gateway[1], [glucose(sequence=1, unit="kg/L", concentration=1e-212)])
        assert statuses(response) == ["rejected"]
        assert "outside what a meter measures" in response.json()["results"][0]["reason"]


class TestStoredValues:
    def test_kpa_is_stored_in_mmhg_with_the_unit_kept(self, api, gateway, db):
        reading = blood_pressure(unit="kPa", systolic=16.0, diastolic=10.7, mean_arterial=None)
        post(api, gateway[1], [reading])
        row = db.execute(
            "SELECT systolic, diastolic, unit_sent FROM blood_pressure_readings"
        ).fetchone()
        assert row == (pytest.approx(120.0), pytest.approx(80.3), "kPa")

    @pytest.mark.parametrize(
        ("value", "unit", "mmol"),
        [
            (5.5, "mmol/L", 5.5),
            (99.0, "mg/dL", 5.5),
            (0.0055, "mol/L", 5.5),
            (0.00099, "kg/L", 5.5),
        ],
    )
    def test_glucose_is_stored_in_mmol_per_litre_with_what_was_sent(
        self, api, gateway, db, value, unit, mmol
    ):
        post(api, gateway[1], [glucose(sequence=1, unit=unit, concentration=value)])
        row = db.execute(
            "SELECT glucose_mmol, value_sent, unit_sent FROM glucose_readings"
        ).fetchone()
        assert row is not None
        assert row[0] == pytest.approx(mmol, abs=0.01)
        assert (row[1], row[2]) == (pytest.approx(value), unit)

    def test_status_flags_and_context_are_kept(self, api, gateway, db):
        post(
            api,
            gateway[1],
            [
                blood_pressure(
                    status={"irregular_pulse": True, "body_movement": False, "pulse_range": "above"}
                ),
                glucose(
                    sequence=1,
                    meal="fasting",
                    sample_type="control_solution",
                    sensor_status=["result_too_high", "time_fault"],
                ),
            ],
        )
        bp = db.execute(
            "SELECT irregular_pulse, body_movement, cuff_loose, pulse_range"
            " FROM blood_pressure_readings"
        ).fetchone()
        assert bp == (True, False, None, "above")
        gl = db.execute(
            "SELECT meal, control_solution, sensor_status FROM glucose_readings"
        ).fetchone()
        assert gl == ("fasting", True, (1 << 5) | (1 << 11))

    def test_a_reading_from_the_future_is_kept_and_flagged(self, api, gateway, db):
        now = datetime.now(UTC)
        far = blood_pressure(measured_at=(now + timedelta(hours=3)).isoformat())
        near = blood_pressure(measured_at=(now + timedelta(seconds=30)).isoformat())
        assert statuses(post(api, gateway[1], [far, near])) == ["accepted", "accepted"]
        flags = db.execute(
            "SELECT time_problem FROM blood_pressure_readings ORDER BY measured_at DESC"
        )
        assert flags.fetchall() == [("future",), (None,)]

    def test_device_report_updates_battery_and_clock(self, api, gateway, db):
        report = {
            "serial": "BP-1",
            "kind": "blood_pressure",
            "model": "U32K",
            "manufacturer": "OMRON",
            "battery_percent": 35,
            "clock_offset_seconds": -94.0,
            "synced_at": "2026-11-01T08:00:00+08:00",
        }
        post(api, gateway[1], [blood_pressure()], devices=[report])
        post(
            api,
            gateway[1],
            [],
            devices=[{"serial": "BP-1", "kind": "blood_pressure", "battery_percent": 30}],
        )
        row = db.execute(
            "SELECT model, manufacturer, battery_percent, clock_offset_seconds FROM devices"
        ).fetchone()
        assert row == ("U32K", "OMRON", 30, -94.0)


def test_gateway_last_seen_is_recorded(api, gateway, db: psycopg.Connection[Any]):
    assert db.execute("SELECT last_seen_at FROM gateways").fetchone() == (None,)
    post(api, gateway[1], [blood_pressure()])
    assert db.execute("SELECT last_seen_at IS NOT NULL FROM gateways").fetchone() == (True,)


def test_how_the_time_is_known_is_kept(api, gateway, db):
    post(
        api,
        gateway[1],
        [
            glucose(sequence=1),
            glucose(sequence=2, minutes=1, time_source="corrected"),
            glucose(sequence=3, minutes=2, time_source="received"),
        ],
    )
    rows = db.execute("SELECT time_source FROM glucose_readings ORDER BY sequence_number")
    assert rows.fetchall() == [("device",), ("corrected",), ("received",)]
    answer = post(api, gateway[1], [glucose(sequence=4, time_source="guessed")])
    assert "time_source" in answer.json()["results"][0]["reason"]
