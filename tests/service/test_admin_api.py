"""The admin API over HTTP against a live server and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import httpx
import pytest

from service.admin.schemas import UserCreate
from service.admin.users import create_user, create_user_token
from service.passwords import verify_password
from service.tokens import token_hash
from tests.factories import auth, blood_pressure, count, in_transaction

RESIDENT = {"name": "王秀英", "sex": "female", "birth_date": "1944-03-02"}
SON = {"name": "王明", "kind": "family", "phone": "+8613800138000"}


def make_user(conninfo: str, username: str, role: str) -> tuple[int, str]:
    """A user made with the domain functions in a committed transaction; its id and a token."""

    async def work(conn: Any) -> tuple[int, str]:
        data = UserCreate(username=username, display_name=username.title(), role=role)
        user = await create_user(conn, data)
        return user.id, (await create_user_token(conn, user.id)).token

    return in_transaction(conninfo, work)


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def new(client: httpx.Client, path: str, **body: Any) -> dict[str, Any]:
    """POST `body` to the admin API; the created thing (after checking for 201)."""
    return created(client.post(path, json=body))


def new_user(client: httpx.Client, username: str, role: str) -> dict[str, Any]:
    return new(client, "/users", username=username, display_name=username.title(), role=role)


def one(db: Any, query: str, *params: object) -> Any:
    """The one row a query finds in the test's database."""
    return db.execute(query, params).fetchone()


def detail(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()["detail"]


@pytest.fixture
def admin(live_server, database_url):
    """A client of the admin API (/v1/admin), signed in as an admin."""
    _, token = make_user(database_url, "root", "admin")
    url = f"{live_server.url}/v1/admin"
    with httpx.Client(base_url=url, headers=auth(token), timeout=30) as client:
        yield client


@pytest.fixture
def place(admin):
    """A community with one grid: their ids."""
    community = new(admin, "/communities", name="敦仁社区")
    grid = new(admin, f"/communities/{community['id']}/grids", name="一网格")
    return community["id"], grid["id"]


@pytest.fixture
def resident_id(admin, place):
    body = {**RESIDENT, "community_id": place[0], "grid_id": place[1]}
    return new(admin, "/residents", **body)["id"]


class TestAccess:
    def test_without_a_token_every_admin_route_is_401(self, api):
        for method, path in [
            ("GET", "/v1/admin/communities"),
            ("POST", "/v1/admin/residents"),
            ("GET", "/v1/admin/users/1"),
            ("POST", "/v1/admin/gateways"),
            ("GET", "/v1/admin/devices"),
        ]:
            response = api.request(method, path, json={})
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"

    def test_a_doctor_is_refused_with_403(self, api, database_url, db):
        _, token = make_user(database_url, "dr.li", "doctor")
        response = api.post("/v1/admin/communities", json={"name": "x"}, headers=auth(token))
        assert detail(response, 403) == "only an admin may do this"
        assert count(db, "communities") == 0

    def test_a_gateway_token_is_not_a_user_token(self, api, admin):
        gateway = new(admin, "/gateways", name="home")
        response = api.get("/v1/admin/gateways", headers=auth(gateway["token"]))
        assert response.status_code == 401


class TestCommunities:
    def test_create_stores_the_community_with_the_default_district(self, admin, db):
        body = new(admin, "/communities", name="敦仁社区", name_en="Dunren", subdistrict="敦仁街道")
        assert body["name"] == "敦仁社区"
        assert body["district"] == "涪陵区"
        row = one(db, "SELECT name, name_en, district, subdistrict FROM communities")
        assert row == ("敦仁社区", "Dunren", "涪陵区", "敦仁街道")

    def test_list_get_and_partial_update(self, admin, db):
        first = new(admin, "/communities", name="崇义社区")
        new(admin, "/communities", name="敦仁社区")
        names = [c["name"] for c in admin.get("/communities").json()]
        assert sorted(names) == ["崇义社区", "敦仁社区"]
        response = admin.patch(f"/communities/{first['id']}", json={"name_en": "Chongyi"})
        assert response.status_code == 200
        got = admin.get(f"/communities/{first['id']}").json()
        assert (got["name"], got["name_en"]) == ("崇义社区", "Chongyi")

    def test_a_taken_name_is_409(self, admin, db):
        new(admin, "/communities", name="敦仁社区")
        other = new(admin, "/communities", name="崇义社区")
        again = admin.post("/communities", json={"name": "敦仁社区"})
        assert "already exists" in detail(again, 409)
        rename = admin.patch(f"/communities/{other['id']}", json={"name": "敦仁社区"})
        assert rename.status_code == 409
        assert count(db, "communities") == 2

    def test_missing_ids_are_404(self, admin):
        assert detail(admin.get("/communities/999"), 404) == "no community 999"
        assert admin.patch("/communities/999", json={"name": "x"}).status_code == 404
        assert admin.delete("/communities/999").status_code == 404

    def test_bad_input_is_422(self, admin, db):
        place = new(admin, "/communities", name="敦仁社区")
        assert admin.post("/communities", json={"name": ""}).status_code == 422
        assert admin.post("/communities", json={"name": "x", "x": 1}).status_code == 422
        null = admin.patch(f"/communities/{place['id']}", json={"name": None})
        assert null.status_code == 422

    def test_delete_is_refused_while_residents_live_there(self, admin, db, place, resident_id):
        response = admin.delete(f"/communities/{place[0]}")
        assert "still has residents" in detail(response, 409)
        assert admin.delete(f"/residents/{resident_id}").status_code == 204
        assert admin.delete(f"/communities/{place[0]}").status_code == 204
        assert count(db, "communities") == 0
        assert count(db, "grids") == 0


class TestGrids:
    def test_create_list_rename_delete(self, admin, db, place):
        community_id, grid_id = place
        new(admin, f"/communities/{community_id}/grids", name="二网格")
        grids = admin.get(f"/communities/{community_id}/grids").json()
        assert [g["name"] for g in grids] == ["一网格", "二网格"]
        renamed = admin.patch(f"/grids/{grid_id}", json={"name": "三网格"})
        assert renamed.json()["name"] == "三网格"
        assert admin.delete(f"/grids/{grid_id}").status_code == 204
        assert db.execute("SELECT name FROM grids").fetchall() == [("二网格",)]
        assert admin.get(f"/grids/{grid_id}").status_code == 404

    def test_names_are_unique_within_a_community_only(self, admin, place):
        again = admin.post(f"/communities/{place[0]}/grids", json={"name": "一网格"})
        assert detail(again, 409) == f"community {place[0]} already has a grid named '一网格'"
        other = new(admin, "/communities", name="崇义社区")
        new(admin, f"/communities/{other['id']}/grids", name="一网格")

    def test_grids_of_a_missing_community_are_404(self, admin):
        assert admin.get("/communities/999/grids").status_code == 404
        response = admin.post("/communities/999/grids", json={"name": "一网格"})
        assert detail(response, 404) == "no community 999"


class TestResidents:
    def test_create_stores_the_resident(self, admin, db, place):
        body = {
            **RESIDENT,
            "community_id": place[0],
            "grid_id": place[1],
            "conditions": ["hypertension", "diabetes"],
            "time_zone": "Asia/Chongqing",
            "target_systolic": 140,
        }
        resident = new(admin, "/residents", **body)
        row = one(
            db,
            """SELECT id, conditions, community_id, grid_id, time_zone, target_systolic, language
               FROM residents""",
        )
        expected = ["hypertension", "diabetes"], *place, "Asia/Chongqing", 140, "zh-CN"
        assert row == (resident["id"], *expected)

    def test_an_unknown_time_zone_is_422(self, admin, db, place):
        body = {**RESIDENT, "community_id": place[0], "time_zone": "Asia/Fuling"}
        response = admin.post("/residents", json=body)
        assert "unknown time zone 'Asia/Fuling'" in detail(response, 422)
        assert count(db, "residents") == 0

    def test_a_grid_of_another_community_is_422(self, admin, db, place):
        other = new(admin, "/communities", name="崇义社区")
        body = {**RESIDENT, "community_id": other["id"], "grid_id": place[1]}
        response = admin.post("/residents", json=body)
        assert detail(response, 422) == f"grid {place[1]} is not a grid of community {other['id']}"
        missing = admin.post("/residents", json={**RESIDENT, "community_id": 999})
        assert detail(missing, 422) == "no community 999"
        assert count(db, "residents") == 0

    def test_bad_fields_are_422(self, admin, place):
        for bad in [
            {"sex": "other"},
            {"conditions": ["asthma"]},
            {"birth_date": "2999-01-01"},
            {"target_systolic": 300},
        ]:
            body = {**RESIDENT, "community_id": place[0], **bad}
            assert admin.post("/residents", json=body).status_code == 422, bad

    def test_list_filters_and_pages(self, admin, place):
        community_id, grid_id = place
        grids = [None, grid_id, None, grid_id, None]
        ids = [
            new(admin, "/residents", **RESIDENT, community_id=community_id, grid_id=grid)["id"]
            for grid in grids
        ]
        listed = admin.get("/residents", params={"community_id": community_id}).json()
        assert [r["id"] for r in listed] == ids
        in_grid = admin.get("/residents", params={"grid_id": grid_id}).json()
        assert [r["id"] for r in in_grid] == [ids[1], ids[3]]
        page = admin.get("/residents", params={"limit": 2, "offset": 2}).json()
        assert [r["id"] for r in page] == ids[2:4]
        assert admin.get("/residents", params={"community_id": 999}).json() == []

    def test_update_changes_only_what_is_sent(self, admin, db, resident_id):
        response = admin.patch(
            f"/residents/{resident_id}", json={"language": "en", "target_systolic": 130}
        )
        assert response.status_code == 200, response.text
        row = one(
            db, "SELECT name, language, target_systolic, updated_at > created_at FROM residents"
        )
        assert row == ("王秀英", "en", 130, True)
        bad = admin.patch(f"/residents/{resident_id}", json={"time_zone": "Mars/Base"})
        assert bad.status_code == 422
        assert admin.patch("/residents/999", json={"name": "x"}).status_code == 404

    def test_a_doctor_is_set_changed_and_cleared(self, admin, db, place):
        first = new_user(admin, "dr.li", "doctor")
        second = new_user(admin, "dr.wang", "doctor")
        body = {**RESIDENT, "community_id": place[0], "doctor_id": first["id"]}
        resident = new(admin, "/residents", **body)
        assert resident["doctor_id"] == first["id"]
        path = f"/residents/{resident['id']}"
        assert admin.get(path).json()["doctor_id"] == first["id"]
        changed = admin.patch(path, json={"doctor_id": second["id"]})
        assert changed.json()["doctor_id"] == second["id"]
        assert admin.patch(path, json={"language": "en"}).json()["doctor_id"] == second["id"]
        assert one(db, "SELECT doctor_id FROM residents") == (second["id"],)
        assert admin.patch(path, json={"doctor_id": None}).json()["doctor_id"] is None
        assert one(db, "SELECT doctor_id FROM residents") == (None,)
        without = new(admin, "/residents", **RESIDENT, community_id=place[0])
        assert without["doctor_id"] is None

    def test_a_doctor_must_be_an_enabled_doctor(self, admin, db, place, resident_id):
        family = new_user(admin, "wang", "family")
        body = {**RESIDENT, "community_id": place[0], "doctor_id": family["id"]}
        refused = admin.post("/residents", json=body)
        assert detail(refused, 422) == f"user {family['id']} is not a doctor (role family)"
        missing = admin.post("/residents", json={**body, "doctor_id": 999})
        assert detail(missing, 422) == "no user 999"
        assert count(db, "residents") == 1
        path = f"/residents/{resident_id}"
        patched = admin.patch(path, json={"doctor_id": family["id"]})
        assert "is not a doctor" in detail(patched, 422)
        doctor = new_user(admin, "dr.li", "doctor")
        admin.post(f"/users/{doctor['id']}/disable")
        disabled = admin.patch(path, json={"doctor_id": doctor["id"]})
        assert detail(disabled, 422) == f"user {doctor['id']} is disabled"
        assert one(db, "SELECT doctor_id FROM residents") == (None,)

    def test_a_zone_directory_is_not_a_time_zone(self, admin, db, place):
        body = {**RESIDENT, "community_id": place[0], "time_zone": "Asia"}
        assert "unknown time zone 'Asia'" in detail(admin.post("/residents", json=body), 422)

    def test_delete_removes_the_resident_and_their_contacts(self, admin, db, resident_id):
        new(admin, f"/residents/{resident_id}/contacts", **SON)
        assert admin.delete(f"/residents/{resident_id}").status_code == 204
        assert count(db, "contacts") == 0
        assert admin.get(f"/residents/{resident_id}").status_code == 404
        assert admin.delete(f"/residents/{resident_id}").status_code == 404


BAD_OVERRIDES = [
    ({"bp_urgnet": 170}, "unknown threshold 'bp_urgnet'"),
    ({"bp_urgent_systolic": "high"}, "threshold 'bp_urgent_systolic' takes a number"),
    ({"bp_urgent_systolic": -170}, "threshold 'bp_urgent_systolic' cannot be negative"),
    ({"irregular_count": 2.5}, "threshold 'irregular_count' takes a whole number"),
    ({"plausible_pulse": [250, 25]}, "threshold 'plausible_pulse': low must be below high"),
    ({"time_zone": "Asia/Chongqing"}, "threshold 'time_zone' is the resident's time_zone field"),
]


def refused_setting(response: httpx.Response) -> str:
    """The message of a 422 about detection_overrides."""
    (error,) = detail(response, 422)
    assert error["loc"] == ["body", "detection_overrides"], error
    message: str = error["msg"]
    return message


class TestDetectionOverrides:
    def test_a_community_and_a_resident_are_created_with_settings(self, admin, db):
        community = new(
            admin, "/communities", name="敦仁社区", detection_overrides={"bp_urgent_systolic": 170}
        )
        assert community["detection_overrides"] == {"bp_urgent_systolic": 170}
        lows = {"glucose_hypo_level1": 4.2, "plausible_pulse": [30, 220]}
        body = {**RESIDENT, "community_id": community["id"], "detection_overrides": lows}
        resident = new(admin, "/residents", **body)
        assert resident["detection_overrides"] == lows
        assert admin.get(f"/residents/{resident['id']}").json()["detection_overrides"] == lows
        stored = db.execute(
            """SELECT c.detection_overrides, r.detection_overrides
               FROM residents r JOIN communities c ON c.id = r.community_id"""
        ).fetchall()
        assert stored == [({"bp_urgent_systolic": 170}, lows)]

    def test_without_settings_they_are_empty(self, admin, place, resident_id):
        assert admin.get(f"/communities/{place[0]}").json()["detection_overrides"] == {}
        assert admin.get(f"/residents/{resident_id}").json()["detection_overrides"] == {}

    def test_an_update_replaces_them_and_leaving_them_out_keeps_them(self, admin, db, resident_id):
        path = f"/residents/{resident_id}"
        first = {"bp_urgent_systolic": 170, "pulse_high": 110}
        assert admin.patch(path, json={"detection_overrides": first}).status_code == 200
        assert admin.patch(path, json={"language": "en"}).json()["detection_overrides"] == first
        second = {"pulse_high": 130}
        assert admin.patch(path, json={"detection_overrides": second}).status_code == 200
        assert one(db, "SELECT detection_overrides FROM residents") == (second,)
        cleared = admin.patch(path, json={"detection_overrides": {}})
        assert cleared.json()["detection_overrides"] == {}
        null = admin.patch(path, json={"detection_overrides": None})
        assert detail(null, 422)[0]["msg"].endswith("detection_overrides cannot be null")

    def test_a_communitys_settings_are_updated(self, admin, db, place):
        path = f"/communities/{place[0]}"
        changed = admin.patch(path, json={"detection_overrides": {"remeasure_minutes": 10}})
        assert changed.json()["detection_overrides"] == {"remeasure_minutes": 10}
        assert one(db, "SELECT detection_overrides FROM communities") == (
            {"remeasure_minutes": 10},
        )

    @pytest.mark.parametrize(("overrides", "message"), BAD_OVERRIDES)
    def test_a_bad_setting_is_422_naming_it(self, admin, db, place, overrides, message):
        body = {**RESIDENT, "community_id": place[0], "detection_overrides": overrides}
        assert message in refused_setting(admin.post("/residents", json=body))
        assert count(db, "residents") == 0
        bad_community = {"name": "崇义社区", "detection_overrides": overrides}
        assert message in refused_setting(admin.post("/communities", json=bad_community))
        update = {"detection_overrides": overrides}
        assert message in refused_setting(admin.patch(f"/communities/{place[0]}", json=update))
        assert one(db, "SELECT detection_overrides FROM communities") == ({},)

    def test_not_a_number_is_422_not_a_server_error(self, admin, db, resident_id):
        # Python's JSON (httpx's and the service's) writes and reads NaN; jsonb cannot store it.
        for value in ("NaN", "Infinity", "[25, Infinity]"):
            key = "plausible_pulse" if value.startswith("[") else "bp_urgent_systolic"
            response = admin.patch(
                f"/residents/{resident_id}",
                content=f'{{"detection_overrides": {{"{key}": {value}}}}}',
                headers={"Content-Type": "application/json"},
            )
            assert f"threshold '{key}' must be a finite number" in refused_setting(response)
        assert one(db, "SELECT detection_overrides FROM residents") == ({},)
        target = admin.patch(
            f"/residents/{resident_id}",
            content='{"target_fasting_glucose": NaN}',
            headers={"Content-Type": "application/json"},
        )
        assert detail(target, 422)[0]["input"] == "nan"

    def test_settings_that_are_not_an_object_are_422(self, admin, place):
        body = {**RESIDENT, "community_id": place[0], "detection_overrides": [170]}
        assert "valid dictionary" in refused_setting(admin.post("/residents", json=body))


BAD_ALERTING = [
    ({"urgent": {"steps": [{"to": "nobody"}]}}, "urgent.steps.0.to: Input should be 'family'"),
    ({"loud": 1}, "alerting_overrides.loud: Extra inputs are not permitted"),
    ({"urgent": 5}, "alerting_overrides.urgent: Input should be a valid dictionary"),
    ({"critical": {"repeat_hours": -1}}, "critical.repeat_hours: Input should be greater than"),
]


def refused_policy(response: httpx.Response) -> str:
    """The message of a 422 about alerting_overrides."""
    (error,) = detail(response, 422)
    assert error["loc"] == ["body", "alerting_overrides"], error
    message: str = error["msg"]
    return message


class TestAlertingOverrides:
    def test_a_community_is_created_and_updated_with_a_policy(self, admin, db):
        policy = {"urgent": {"repeat_hours": 2}}
        community = new(admin, "/communities", name="敦仁社区", alerting_overrides=policy)
        assert community["alerting_overrides"] == policy
        path = f"/communities/{community['id']}"
        assert admin.get(path).json()["alerting_overrides"] == policy
        assert one(db, "SELECT alerting_overrides FROM communities") == (policy,)
        steps = {"critical": {"steps": [{"to": "family", "channel": "voice"}]}}
        assert admin.patch(path, json={"alerting_overrides": steps}).status_code == 200
        kept = admin.patch(path, json={"name_en": "Dunren"}).json()
        assert kept["alerting_overrides"] == steps
        assert kept["detection_overrides"] == {}
        cleared = admin.patch(path, json={"alerting_overrides": {}})
        assert cleared.json()["alerting_overrides"] == {}
        null = admin.patch(path, json={"alerting_overrides": None})
        assert detail(null, 422)[0]["msg"].endswith("alerting_overrides cannot be null")

    def test_without_a_policy_it_is_empty(self, admin, place):
        assert admin.get(f"/communities/{place[0]}").json()["alerting_overrides"] == {}

    @pytest.mark.parametrize(("overrides", "message"), BAD_ALERTING)
    def test_a_bad_policy_is_422_naming_the_setting(self, admin, db, place, overrides, message):
        bad = {"name": "崇义社区", "alerting_overrides": overrides}
        assert message in refused_policy(admin.post("/communities", json=bad))
        assert count(db, "communities") == 1
        update = {"alerting_overrides": overrides}
        assert message in refused_policy(admin.patch(f"/communities/{place[0]}", json=update))
        assert one(db, "SELECT alerting_overrides FROM communities") == ({},)

    def test_not_a_number_or_an_object_is_422(self, admin, db, place):
        response = admin.patch(
            f"/communities/{place[0]}",
            content='{"alerting_overrides": {"urgent": {"repeat_hours": NaN}}}',
            headers={"Content-Type": "application/json"},
        )
        assert "urgent.repeat_hours must be a finite number" in refused_policy(response)
        listed = admin.patch(f"/communities/{place[0]}", json={"alerting_overrides": [1]})
        assert "valid dictionary" in refused_policy(listed)
        assert one(db, "SELECT alerting_overrides FROM communities") == ({},)


class TestContacts:
    def path(self, resident_id: int) -> str:
        return f"/residents/{resident_id}/contacts"

    def test_create_with_quiet_hours(self, admin, db, resident_id):
        hours = {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}
        contact = new(admin, self.path(resident_id), **SON, relationship="son", **hours)
        assert contact["escalation_order"] == 1
        query = "SELECT phone, relationship, quiet_hours_start, quiet_hours_end FROM contacts"
        row = one(db, query)
        assert row == ("+8613800138000", "son", time(22, 0), time(7, 0))

    def test_listed_in_escalation_order(self, admin, resident_id):
        path = self.path(resident_id)
        new(admin, path, **{**SON, "name": "李阿姨", "kind": "neighbour"}, escalation_order=5)
        new(admin, path, **SON, escalation_order=2)
        last = new(admin, path, **{**SON, "name": "王丽"})
        assert last["escalation_order"] == 6
        listed = admin.get(self.path(resident_id)).json()
        orders = [(c["name"], c["escalation_order"]) for c in listed]
        assert orders == [("王明", 2), ("李阿姨", 5), ("王丽", 6)]

    def test_a_phone_not_in_e164_is_422(self, admin, db, resident_id):
        for phone in ["13800138000", "+0123456789", "+86 138 0013 8000", "+123"]:
            errors = detail(admin.post(self.path(resident_id), json={**SON, "phone": phone}), 422)
            assert "E.164" in errors[0]["msg"], phone
        assert count(db, "contacts") == 0

    def test_a_phone_that_no_country_uses_is_422(self, admin, db, resident_id):
        # E.164 in form, one digit short of a Chinese mobile number.
        response = admin.post(self.path(resident_id), json={**SON, "phone": "+861380013800"})
        (error,) = detail(response, 422)
        assert error["loc"] == ["body", "phone"]
        assert "+861380013800 is not a valid phone number for its country" in error["msg"]
        contact = new(admin, self.path(resident_id), **SON)
        patched = admin.patch(f"/contacts/{contact['id']}", json={"phone": "+861380013800"})
        assert "not a valid phone number" in detail(patched, 422)[0]["msg"]
        assert one(db, "SELECT phone FROM contacts") == ("+8613800138000",)

    def test_a_time_zone_of_their_own(self, admin, db, resident_id):
        contact = new(admin, self.path(resident_id), **SON, time_zone="Europe/London")
        assert contact["time_zone"] == "Europe/London"
        assert contact["sms_stopped_at"] is None
        path = f"/contacts/{contact['id']}"
        assert admin.get(path).json()["time_zone"] == "Europe/London"
        changed = admin.patch(path, json={"time_zone": "Asia/Chongqing"})
        assert changed.json()["time_zone"] == "Asia/Chongqing"
        assert admin.patch(path, json={"name": "王小明"}).json()["time_zone"] == "Asia/Chongqing"
        assert admin.patch(path, json={"time_zone": None}).json()["time_zone"] is None
        assert one(db, "SELECT time_zone FROM contacts") == (None,)
        without = new(admin, self.path(resident_id), **{**SON, "name": "王丽"})
        assert without["time_zone"] is None

    def test_an_unknown_time_zone_is_422(self, admin, db, resident_id):
        for zone in ["Mars/Olympus", "Asia", ""]:
            body = {**SON, "time_zone": zone}
            (error,) = detail(admin.post(self.path(resident_id), json=body), 422)
            assert error["loc"] == ["body", "time_zone"]
            assert f"unknown time zone {zone!r}" in error["msg"], zone
        assert count(db, "contacts") == 0

    def test_sms_stopped_at_is_shown_and_cannot_be_set(self, admin, db, resident_id):
        contact = new(admin, self.path(resident_id), **SON)
        db.execute("UPDATE contacts SET sms_stopped_at = '2026-11-26 08:00+08'")
        path = f"/contacts/{contact['id']}"
        stopped = datetime.fromisoformat(admin.get(path).json()["sms_stopped_at"])
        assert stopped == datetime(2026, 11, 26, tzinfo=UTC)
        listed = admin.get(self.path(resident_id)).json()
        assert listed[0]["sms_stopped_at"] is not None
        assert admin.patch(path, json={"sms_stopped_at": None}).status_code == 422
        body = {**SON, "name": "王丽", "sms_stopped_at": "2026-11-26T08:00:00+08:00"}
        assert admin.post(self.path(resident_id), json=body).status_code == 422

    def test_a_taken_escalation_order_is_409(self, admin, resident_id):
        body = {**SON, "escalation_order": 1}
        new(admin, self.path(resident_id), **body)
        assert admin.post(self.path(resident_id), json=body).status_code == 409

    def test_half_quiet_hours_are_422(self, admin, resident_id):
        half = admin.post(self.path(resident_id), json={**SON, "quiet_hours_start": "22:00"})
        assert half.status_code == 422
        contact = new(admin, self.path(resident_id), **SON)
        patched = admin.patch(f"/contacts/{contact['id']}", json={"quiet_hours_end": "07:00"})
        assert detail(patched, 422) == "quiet hours need both a start and an end"

    def test_update_get_and_delete(self, admin, db, resident_id):
        contact = new(admin, self.path(resident_id), **SON)
        path = f"/contacts/{contact['id']}"
        assert admin.patch(path, json={"phone": "+8613911112222"}).status_code == 200
        assert admin.get(path).json()["phone"] == "+8613911112222"
        assert admin.patch(path, json={"phone": "12345"}).status_code == 422
        assert admin.delete(path).status_code == 204
        assert count(db, "contacts") == 0
        assert admin.get(path).status_code == 404

    def test_contacts_of_a_missing_resident_are_404(self, admin):
        assert detail(admin.post(self.path(999), json=SON), 404) == "no resident 999"
        assert admin.get(self.path(999)).status_code == 404


class TestUsers:
    def test_create_hashes_the_password_and_never_returns_it(self, admin, db):
        body = {"username": "dr.li", "display_name": "李医生", "role": "doctor"}
        user = new(admin, "/users", **body, password="correct horse")
        assert user["has_password"] is True
        assert "correct horse" not in str(user)
        assert "password_hash" not in user
        (stored,) = one(db, "SELECT password_hash FROM users WHERE id = %s", user["id"])
        assert verify_password("correct horse", stored)

    def test_usernames_are_unique_regardless_of_case(self, admin, db):
        body = {"username": "Dr.Li", "display_name": "李医生", "role": "doctor"}
        new(admin, "/users", **body)
        again = admin.post("/users", json={**body, "username": "dr.li"})
        assert detail(again, 409) == "username 'dr.li' is taken"
        bad = admin.post("/users", json={**body, "username": "李 医生"})
        assert bad.status_code == 422

    def test_update_and_list(self, admin, db):
        body = {"username": "wang", "display_name": "王", "role": "family", "password": "12345678"}
        user = new(admin, "/users", **body)
        response = admin.patch(
            f"/users/{user['id']}", json={"display_name": "王明", "password": None}
        )
        assert (response.json()["display_name"], response.json()["has_password"]) == ("王明", False)
        assert [u["username"] for u in admin.get("/users").json()] == ["root", "wang"]
        assert admin.patch("/users/999", json={"language": "en"}).status_code == 404

    def test_phone_and_time_zone(self, admin, db):
        body = {"username": "dr.li", "display_name": "李医生", "role": "doctor"}
        user = new(admin, "/users", **body, phone="+8613911112222", time_zone="Asia/Urumqi")
        assert (user["phone"], user["time_zone"]) == ("+8613911112222", "Asia/Urumqi")
        path = f"/users/{user['id']}"
        assert admin.get(path).json()["phone"] == "+8613911112222"
        stored = "SELECT phone, time_zone FROM users WHERE id = %s"
        assert one(db, stored, user["id"]) == ("+8613911112222", "Asia/Urumqi")
        changed = admin.patch(path, json={"time_zone": "Asia/Shanghai"}).json()
        assert (changed["phone"], changed["time_zone"]) == ("+8613911112222", "Asia/Shanghai")
        removed = admin.patch(path, json={"phone": None}).json()
        assert (removed["phone"], removed["time_zone"]) == (None, "Asia/Shanghai")
        assert one(db, stored, user["id"]) == (None, "Asia/Shanghai")
        other = new(admin, "/users", **{**body, "username": "dr.wang"})
        assert (other["phone"], other["time_zone"]) == (None, "Asia/Shanghai")

    def test_a_bad_phone_or_time_zone_is_422(self, admin, db):
        body = {"username": "dr.li", "display_name": "李医生", "role": "doctor"}
        for bad, where, message in [
            ({"phone": "+861380013800"}, "phone", "not a valid phone number for its country"),
            ({"phone": "13800138000"}, "phone", "E.164"),
            ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone 'Mars/Olympus'"),
        ]:
            (error,) = detail(admin.post("/users", json={**body, **bad}), 422)
            assert error["loc"] == ["body", where], bad
            assert message in error["msg"], bad
        assert [u["username"] for u in admin.get("/users").json()] == ["root"]
        user = new(admin, "/users", **body)
        path = f"/users/{user['id']}"
        assert (
            "not a valid phone"
            in detail(admin.patch(path, json={"phone": "+861380013800"}), 422)[0]["msg"]
        )
        null = admin.patch(path, json={"time_zone": None})
        assert detail(null, 422)[0]["msg"].endswith("time_zone cannot be null")
        assert one(db, "SELECT phone, time_zone FROM users WHERE id = %s", user["id"]) == (
            None,
            "Asia/Shanghai",
        )

    def test_a_doctor_is_granted_and_revoked_a_community(self, admin, db, place):
        doctor = new_user(admin, "dr.li", "doctor")
        path = f"/users/{doctor['id']}/communities/{place[0]}"
        assert admin.put(path).json()["community_ids"] == [place[0]]
        assert admin.put(path).status_code == 200
        assert one(db, "SELECT * FROM user_communities") == (doctor["id"], place[0])
        assert admin.delete(path).status_code == 204
        assert count(db, "user_communities") == 0
        assert admin.delete(path).status_code == 404
        missing = admin.put(f"/users/{doctor['id']}/communities/999")
        assert detail(missing, 404) == "no community 999"

    def test_family_is_granted_residents_only(self, admin, db, place, resident_id):
        family = new_user(admin, "wang", "family")
        grant = admin.put(f"/users/{family['id']}/residents/{resident_id}")
        assert grant.json()["resident_ids"] == [resident_id]
        assert one(db, "SELECT * FROM user_residents") == (family["id"], resident_id)
        wrong = admin.put(f"/users/{family['id']}/communities/{place[0]}")
        assert "only doctors serve communities" in detail(wrong, 422)
        assert admin.put(f"/users/999/residents/{resident_id}").status_code == 404
        revoke = admin.delete(f"/users/{family['id']}/residents/{resident_id}")
        assert revoke.status_code == 204
        assert count(db, "user_residents") == 0

    def test_a_token_is_shown_once_stored_hashed_and_can_be_revoked(self, api, admin, db):
        doctor = new_user(admin, "dr.li", "doctor")
        issued = created(admin.post(f"/users/{doctor['id']}/tokens"))
        assert issued["token"].startswith("lus_")
        stored = one(db, "SELECT token_hash FROM user_tokens WHERE id = %s", issued["id"])
        assert stored == (token_hash(issued["token"]),)
        listed = admin.get(f"/users/{doctor['id']}/tokens").json()
        assert issued["token"] not in str(listed)
        assert [t["id"] for t in listed] == [issued["id"]]
        # The doctor's token authenticates (403: known, but not an admin) until revoked (401).
        as_doctor = auth(issued["token"])
        assert api.get("/v1/admin/users", headers=as_doctor).status_code == 403
        revoked = admin.post(f"/users/{doctor['id']}/tokens/{issued['id']}/revoke")
        assert revoked.json()["revoked_at"] is not None
        assert api.get("/v1/admin/users", headers=as_doctor).status_code == 401

    def test_a_disabled_user_is_locked_out(self, api, admin, database_url, db):
        user_id, token = make_user(database_url, "other.admin", "admin")
        assert api.get("/v1/admin/users", headers=auth(token)).status_code == 200
        disabled = admin.post(f"/users/{user_id}/disable")
        assert disabled.json()["disabled_at"] is not None
        assert api.get("/v1/admin/users", headers=auth(token)).status_code == 401
        assert admin.post(f"/users/{user_id}/tokens").status_code == 422
        assert admin.post("/users/999/disable").status_code == 404


class TestGateways:
    def test_the_token_is_shown_once_and_works_until_revoked(self, api, admin, db):
        gateway = new(admin, "/gateways", name="王家")
        assert gateway["token"].startswith("lgw_")
        row = one(db, "SELECT name, token_hash FROM gateways")
        assert row == ("王家", token_hash(gateway["token"]))
        listed = admin.get("/gateways").json()
        assert [g["name"] for g in listed] == ["王家"]
        assert "token" not in listed[0]
        upload = {"readings": [blood_pressure()]}
        assert api.post("/v1/readings", json=upload, headers=auth(gateway["token"])).is_success
        revoked = admin.post(f"/gateways/{gateway['id']}/revoke")
        assert revoked.json()["revoked_at"] is not None
        refused = api.post("/v1/readings", json=upload, headers=auth(gateway["token"]))
        assert refused.status_code == 401
        assert admin.post("/gateways/999/revoke").status_code == 404


class TestDevices:
    @pytest.fixture
    def uploaded(self, api, admin):
        """A gateway that uploaded two readings of monitor BP-1 (device user 1)."""
        gateway = new(admin, "/gateways", name="王家")
        readings = [blood_pressure("BP-1", minutes=i, user_index=1) for i in range(2)]
        response = api.post(
            "/v1/readings", json={"readings": readings}, headers=auth(gateway["token"])
        )
        assert response.json()["accepted"] == 2

    def test_assign_attaches_waiting_readings(self, admin, db, uploaded, resident_id):
        waiting = admin.get("/devices", params={"unassigned_only": True}).json()
        assert [(d["serial"], d["unassigned_readings"]) for d in waiting] == [("BP-1", 2)]
        response = admin.put("/devices/BP-1/users/1", json={"resident_id": resident_id})
        assert response.status_code == 200, response.text
        assert response.json()["readings_attached"] == 2
        rows = db.execute("SELECT DISTINCT resident_id FROM blood_pressure_readings").fetchall()
        assert rows == [(resident_id,)]
        assert admin.get("/devices", params={"unassigned_only": True}).json() == []
        assert [d["serial"] for d in admin.get("/devices").json()] == ["BP-1"]

    def test_unassign_keeps_stored_readings(self, admin, db, uploaded, resident_id):
        admin.put("/devices/BP-1/users/1", json={"resident_id": resident_id})
        assert admin.delete("/devices/BP-1/users/1").status_code == 204
        assert count(db, "device_users") == 0
        rows = db.execute("SELECT DISTINCT resident_id FROM blood_pressure_readings").fetchall()
        assert rows == [(resident_id,)]
        assert admin.delete("/devices/BP-1/users/1").status_code == 404

    def test_unknown_devices_residents_and_user_indexes(self, admin, uploaded, resident_id):
        body = {"resident_id": resident_id}
        assert detail(admin.put("/devices/NOPE/users/1", json=body), 404) == ("no device NOPE")
        missing = admin.put("/devices/BP-1/users/1", json={"resident_id": 999})
        assert detail(missing, 404) == "no resident 999"
        assert admin.put("/devices/BP-1/users/256", json=body).status_code == 422
