"""Reading a resident's readings and daily summaries, and who may."""

from __future__ import annotations

import statistics
from datetime import timedelta

import httpx
import pytest

from tests.factories import (
    BASE_TIME,
    assign,
    auth,
    blood_pressure,
    community,
    glucose,
    new_gateway,
    resident,
    user_token,
)

WINDOW = {"since": "2026-10-01T00:00:00+08:00", "until": "2026-12-01T00:00:00+08:00"}


@pytest.fixture
def home(api, db, database_url):
    """A resident whose monitor and meter have uploaded readings over three days."""
    place = community(db)
    resident_id = resident(db, place)
    _, token = new_gateway(database_url)
    readings = []
    for day in range(3):
        for slot, (sys, dia) in enumerate([(150, 95), (138, 88)]):
            readings.append(
                blood_pressure(
                    minutes=day * 1440 + slot * 300, systolic=sys + day, diastolic=dia - day
                )
            )
        readings.append(
            glucose(sequence=day * 2 + 1, minutes=day * 1440, mmol=6.5 + day, meal="fasting")
        )
        readings.append(
            glucose(sequence=day * 2 + 2, minutes=day * 1440 + 120, mmol=9.0, meal="postprandial")
        )
    readings.append(glucose(sequence=99, minutes=60, mmol=10.0, sample_location="control_solution"))
    response = api.post("/v1/readings", json={"readings": readings}, headers=auth(token))
    assert response.json()["accepted"] == len(readings)
    assert assign(database_url, "BP-1", resident_id) == 6
    assert assign(database_url, "GL-1", resident_id) == 7
    return {"community": place, "resident": resident_id, "readings": readings}


def fetch(
    api: httpx.Client, token: str, resident_id: int, what: str, kind: str, **params: object
) -> httpx.Response:
    """GET a resident's readings or daily summaries over the test window."""
    return api.get(
        f"/v1/residents/{resident_id}/{what}",
        params={"kind": kind, **WINDOW, **params},
        headers=auth(token),
    )


class TestResidentReadings:
    def test_readings_come_back_oldest_first_in_mmhg(self, api, db, home):
        token = user_token(db, "admin")
        response = fetch(api, token, home["resident"], "readings", "blood_pressure")
        assert response.status_code == 200
        got = response.json()
        sent = [r for r in home["readings"] if r["kind"] == "blood_pressure"]
        assert [r["systolic"] for r in got] == [r["systolic"] for r in sent]
        assert [r["measured_at"] for r in got] == sorted(r["measured_at"] for r in got)
        assert {r["device_serial"] for r in got} == {"BP-1"}
        assert got[0]["sequence_number"] is None

    def test_glucose_readings_carry_names_of_status_bits(self, api, db, database_url, home):
        _, token = new_gateway(database_url, "second home")
        api.post(
            "/v1/readings",
            json={
                "readings": [
                    glucose(
                        "GL-2",
                        sequence=1,
                        sensor_status=["strip_insertion_error", "device_battery_low"],
                    )
                ]
            },
            headers=auth(token),
        )
        assign(database_url, "GL-2", home["resident"])
        admin = user_token(db, "admin")
        got = fetch(api, admin, home["resident"], "readings", "glucose", limit=100).json()
        flagged = [r for r in got if r["device_serial"] == "GL-2"]
        assert flagged[0]["sensor_status"] == ["device_battery_low", "strip_insertion_error"]

    def test_time_window_and_limit(self, api, db, home):
        admin = user_token(db, "admin")
        since = (BASE_TIME + timedelta(days=1)).isoformat()
        got = api.get(
            f"/v1/residents/{home['resident']}/readings",
            params={"kind": "blood_pressure", "since": since, "until": WINDOW["until"], "limit": 3},
            headers=auth(admin),
        ).json()
        assert len(got) == 3
        assert all(r["measured_at"] >= since.replace("+00:00", "Z") for r in got)

    def test_since_after_until_is_refused(self, api, db, home):
        admin = user_token(db, "admin")
        response = api.get(
            f"/v1/residents/{home['resident']}/readings",
            params={"kind": "glucose", "since": WINDOW["until"], "until": WINDOW["since"]},
            headers=auth(admin),
        )
        assert response.status_code == 422


class TestDailySummaries:
    def test_blood_pressure_days_summarise_that_days_readings(self, api, db, home):
        admin = user_token(db, "admin")
        days = fetch(api, admin, home["resident"], "daily", "blood_pressure").json()
        sent = [r for r in home["readings"] if r["kind"] == "blood_pressure"]
        assert len(days) == 3
        for index, day in enumerate(days):
            mine = sent[index * 2 : index * 2 + 2]  # two a day: 15:30 and 20:30 in Fuling
            assert day["readings"] == 2
            assert day["systolic_mean"] == pytest.approx(
                statistics.mean(r["systolic"] for r in mine)
            )
            assert day["diastolic_max"] == max(r["diastolic"] for r in mine)

    def test_days_follow_china_standard_time(self, api, db, database_url, home):
        _, token = new_gateway(database_url, "late home")
        # 15:59 UTC is 23:59 in Fuling on 3 November; 16:01 UTC is already 4 November there.
        late = [
            blood_pressure("BP-3", measured_at="2026-11-03T15:59:00+00:00"),
            blood_pressure("BP-3", measured_at="2026-11-03T16:01:00+00:00"),
        ]
        api.post("/v1/readings", json={"readings": late}, headers=auth(token))
        assign(database_url, "BP-3", home["resident"])
        admin = user_token(db, "admin")
        days = fetch(api, admin, home["resident"], "daily", "blood_pressure").json()
        assert [(d["day"], d["readings"]) for d in days] == [
            ("2026-11-01", 2),
            ("2026-11-02", 2),
            ("2026-11-03", 3),
            ("2026-11-04", 1),
        ]

    def test_glucose_days_leave_out_control_solution(self, api, db, home):
        admin = user_token(db, "admin")
        days = fetch(api, admin, home["resident"], "daily", "glucose").json()
        assert [d["readings"] for d in days] == [2, 2, 2]
        assert [d["fasting_mean"] for d in days] == [
            pytest.approx(6.5),
            pytest.approx(7.5),
            pytest.approx(8.5),
        ]
        assert days[0]["glucose_max"] == pytest.approx(9.0)


class TestWhoMaySee:
    def path(self, home):
        return f"/v1/residents/{home['resident']}/readings"

    def test_the_doctor_of_the_community(self, api, db, home):
        token = user_token(db, "doctor", communities=(home["community"],))
        assert (
            api.get(self.path(home), params={"kind": "glucose"}, headers=auth(token)).status_code
            == 200
        )

    def test_a_doctor_of_another_community_sees_nothing(self, api, db, home):
        elsewhere = community(db, "崇义社区")
        token = user_token(db, "doctor", communities=(elsewhere,))
        response = api.get(self.path(home), params={"kind": "glucose"}, headers=auth(token))
        assert response.status_code == 404

    def test_family_sees_their_relative_only(self, api, db, home):
        other = resident(db, home["community"], "刘德明")
        token = user_token(db, "family", residents=(home["resident"],))
        assert (
            api.get(self.path(home), params={"kind": "glucose"}, headers=auth(token)).status_code
            == 200
        )
        response = api.get(
            f"/v1/residents/{other}/daily", params={"kind": "glucose"}, headers=auth(token)
        )
        assert response.status_code == 404

    def test_anonymous_and_gateways_are_refused(self, api, db, database_url, home):
        assert api.get(self.path(home), params={"kind": "glucose"}).status_code == 401
        _, gateway = new_gateway(database_url, "gw")
        assert (
            api.get(self.path(home), params={"kind": "glucose"}, headers=auth(gateway)).status_code
            == 401
        )
