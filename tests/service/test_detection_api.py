"""Detection settings set through the admin API, and the routes that read alerts and findings:
what they return, in which order, and to whom."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from service.detection.service import check_resident
from service.settings import Settings
from tests.factories import auth, new_gateway, user_token

RESIDENT = {"name": "王秀英", "sex": "female", "birth_date": "1944-03-02"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service's settings without its worker: the tests run detection themselves."""
    return settings.model_copy(update={"run_worker": False})


def bp(minutes_ago: float, systolic: float, diastolic: float) -> dict[str, Any]:
    """A blood-pressure reading as a gateway sends it (time and serial are set by `upload`)."""
    return {
        "kind": "blood_pressure",
        "minutes_ago": minutes_ago,
        "unit": "mmHg",
        "systolic": systolic,
        "diastolic": diastolic,
        "pulse": 72,
    }


def glucose(minutes_ago: float, mmol: float) -> dict[str, Any]:
    """A glucose reading as a gateway sends it (time and serial are set by `upload`)."""
    return {
        "kind": "glucose",
        "minutes_ago": minutes_ago,
        "unit": "mmol/L",
        "concentration": mmol,
    }


@dataclass
class Clinic:
    """Admin-made communities and residents, each resident with a monitor and a meter behind
    one gateway; readings uploaded over HTTP and checked by live detection. Readings are
    taken minutes before `now` and sent at once: never stale, never from the future."""

    api: httpx.Client
    database_url: str
    admin: str
    gateway: str
    now: datetime

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        response = self.api.post(f"/v1/admin{path}", json=body, headers=auth(self.admin))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def community(self, name: str, **body: Any) -> int:
        return int(self.post("/communities", name=name, **body)["id"])

    def resident(self, community_id: int, name: str, **body: Any) -> int:
        fields = {**RESIDENT, "name": name, "community_id": community_id, **body}
        resident_id = int(self.post("/residents", **fields)["id"])
        # The devices' first upload registers them; it is attached to the resident but was
        # never queued, so detection does not see it.
        self.upload(resident_id, bp(60 * 24 * 30, 120, 80), glucose(60 * 24 * 30, 6.0))
        for serial in (f"BP-{resident_id}", f"GL-{resident_id}"):
            path = f"/v1/admin/devices/{serial}/users/255"
            assignment = {"resident_id": resident_id}
            assert self.api.put(path, json=assignment, headers=auth(self.admin)).is_success
        return resident_id

    def upload(self, resident_id: int, *readings: dict[str, Any]) -> None:
        items = []
        for reading in readings:
            item = dict(reading)
            measured_at = self.now - timedelta(minutes=item.pop("minutes_ago"))
            kind = "BP" if item["kind"] == "blood_pressure" else "GL"
            items.append(
                item
                | {"measured_at": measured_at.isoformat(), "device_serial": f"{kind}-{resident_id}"}
            )
        response = self.api.post(
            "/v1/readings", json={"readings": items}, headers=auth(self.gateway)
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0, response.text

    def check(self, resident_id: int) -> None:
        """Run detection over the resident's new readings, as the worker would."""

        async def main() -> None:
            async with AsyncConnectionPool(self.database_url, min_size=1, max_size=2) as pool:
                await check_resident(pool, resident_id)

        asyncio.run(main())

    def urgent_pressure(self, resident_id: int, minutes_ago: float = 30) -> None:
        """172/90, re-measured three minutes later at 174/92: confirmed."""
        self.upload(resident_id, bp(minutes_ago, 172, 90))
        self.check(resident_id)
        self.upload(resident_id, bp(minutes_ago - 3, 174, 92))
        self.check(resident_id)


@pytest.fixture
def clinic(api: httpx.Client, db: psycopg.Connection[Any], database_url: str) -> Clinic:
    _, gateway = new_gateway(database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    return Clinic(api, database_url, user_token(db, "admin"), gateway, now)


def get(api: httpx.Client, token: str, path: str, **params: Any) -> Any:
    """GET a route as the token's user; the JSON answer (after checking for 200)."""
    response = api.get(path, params=params, headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def open_rules(api: httpx.Client, token: str, resident_id: int) -> list[tuple[str, str]]:
    """(rule, severity) of the resident's open alerts, as the API lists them."""
    alerts = get(api, token, f"/v1/residents/{resident_id}/alerts")
    return [(a["rule"], a["severity"]) for a in alerts]


class TestOverridesChangeDetection:
    def test_a_residents_lower_urgent_line_raises_an_alert(self, api, clinic):
        place = clinic.community("敦仁社区")
        lowered = clinic.resident(place, "王秀英", detection_overrides={"bp_urgent_systolic": 170})
        default = clinic.resident(place, "李桂兰")
        clinic.urgent_pressure(lowered)
        clinic.urgent_pressure(default)
        assert open_rules(api, clinic.admin, lowered) == [("bp.urgent", "urgent")]
        assert open_rules(api, clinic.admin, default) == []  # 172 is below the default 180

    def test_the_residents_settings_override_the_communitys(self, api, clinic):
        place = clinic.community("敦仁社区")
        changed = api.patch(
            f"/v1/admin/communities/{place}",
            json={"detection_overrides": {"bp_urgent_systolic": 170}},
            headers=auth(clinic.admin),
        )
        assert changed.json()["detection_overrides"] == {"bp_urgent_systolic": 170}
        inherits = clinic.resident(place, "王秀英")
        own = clinic.resident(place, "李桂兰", detection_overrides={"bp_urgent_systolic": 190})
        clinic.urgent_pressure(inherits)
        clinic.urgent_pressure(own)
        assert open_rules(api, clinic.admin, inherits) == [("bp.urgent", "urgent")]
        assert open_rules(api, clinic.admin, own) == []

    def test_a_bad_setting_is_refused_and_detection_keeps_the_defaults(self, api, clinic, db):
        place = clinic.community("敦仁社区")
        resident_id = clinic.resident(place, "王秀英")
        refused = api.patch(
            f"/v1/admin/residents/{resident_id}",
            json={"detection_overrides": {"bp_urgent_systolic": -170}},
            headers=auth(clinic.admin),
        )
        assert refused.status_code == 422
        error = refused.json()["detail"][0]
        assert error["loc"] == ["body", "detection_overrides"]
        assert "threshold 'bp_urgent_systolic' cannot be negative" in error["msg"]
        row = db.execute("SELECT detection_overrides FROM residents").fetchone()
        assert row == ({},)
        clinic.urgent_pressure(resident_id)
        assert open_rules(api, clinic.admin, resident_id) == []


@dataclass
class World:
    """Two communities, each with its doctor, and residents with alerts of every severity."""

    clinic: Clinic
    dunren: int
    chongyi: int
    urgent: int  # 王秀英, 敦仁: bp.urgent
    critical: int  # 李桂兰, 敦仁: glucose.hypo.level2, measured 20 minutes ago
    older_critical: int  # 张淑芬, 敦仁: glucose.hypo.level2, measured 50 minutes ago
    warning: int  # 刘玉珍, 崇义: glucose.hypo.level1
    dunren_doctor: str
    chongyi_doctor: str


@pytest.fixture
def world(clinic: Clinic, db: psycopg.Connection[Any]) -> World:
    dunren = clinic.community("敦仁社区", detection_overrides={"bp_urgent_systolic": 170})
    chongyi = clinic.community("崇义社区")
    urgent = clinic.resident(dunren, "王秀英")
    clinic.urgent_pressure(urgent)
    critical = clinic.resident(dunren, "李桂兰")
    clinic.upload(critical, glucose(20, 2.6))
    clinic.check(critical)
    # Checked after the other, but measured before it: the older alert.
    older_critical = clinic.resident(dunren, "张淑芬")
    clinic.upload(older_critical, glucose(50, 2.5))
    clinic.check(older_critical)
    warning = clinic.resident(chongyi, "刘玉珍")
    clinic.upload(warning, glucose(40, 3.5))
    clinic.check(warning)
    clinic.upload(warning, glucose(20, 3.7))
    clinic.check(warning)
    return World(
        clinic,
        dunren,
        chongyi,
        urgent,
        critical,
        older_critical,
        warning,
        user_token(db, "doctor", communities=(dunren,)),
        user_token(db, "doctor", communities=(chongyi,)),
    )


def listed(api: httpx.Client, token: str, **params: Any) -> list[tuple[int, str, str]]:
    """(resident_id, resident_name, severity) of /v1/alerts, in the order given."""
    return [
        (a["resident_id"], a["resident_name"], a["severity"])
        for a in get(api, token, "/v1/alerts", **params)
    ]


class TestResidentAlertsAndFindings:
    def test_the_alert_and_its_finding_are_what_detection_stored(self, api, world, db):
        admin = world.clinic.admin
        (alert,) = get(api, admin, f"/v1/residents/{world.urgent}/alerts")
        stored = db.execute(
            """SELECT id, rule, severity, state, message, opened_at FROM alerts
               WHERE resident_id = %s""",
            (world.urgent,),
        ).fetchone()
        assert stored is not None
        assert (alert["id"], alert["rule"], alert["severity"], alert["state"]) == stored[:4]
        assert alert["message"] == stored[4]
        assert datetime.fromisoformat(alert["opened_at"]) == stored[5]
        assert alert["resident_id"] == world.urgent
        assert "doctor" in alert["audience"]
        assert alert["resolved_at"] is None

        (finding,) = get(api, admin, f"/v1/residents/{world.urgent}/findings")
        assert finding["rule"] == "bp.urgent"
        assert (finding["severity"], finding["status"]) == ("urgent", "open")
        assert finding["alert_id"] == alert["id"]
        assert finding["message"] == alert["message"]
        assert finding["evidence"] == alert["evidence"]
        assert datetime.fromisoformat(finding["reading_at"]) <= world.clinic.now

    def test_a_cleared_alert_leaves_the_open_list_but_not_the_history(self, api, world):
        clinic, admin = world.clinic, world.clinic.admin
        clinic.upload(world.urgent, bp(5, 150, 85))  # below the community's 170: all clear
        clinic.check(world.urgent)
        assert get(api, admin, f"/v1/residents/{world.urgent}/alerts") == []
        (resolved,) = get(api, admin, f"/v1/residents/{world.urgent}/alerts", state="all")
        assert (resolved["rule"], resolved["state"]) == ("bp.urgent", "resolved")
        assert resolved["resolved_at"] is not None
        findings = get(api, admin, f"/v1/residents/{world.urgent}/findings")
        assert [(f["status"], f["alert_id"]) for f in findings] == [
            ("open", resolved["id"]),
            ("cleared", resolved["id"]),
        ]
        opened, cleared = (datetime.fromisoformat(f["at"]) for f in findings)
        assert opened < cleared
        assert world.urgent not in [r for r, _, _ in listed(api, admin)]

    def test_alerts_of_a_resident_come_newest_first(self, api, world):
        clinic, admin = world.clinic, world.clinic.admin
        clinic.urgent_pressure(world.critical, minutes_ago=10)
        alerts = get(api, admin, f"/v1/residents/{world.critical}/alerts")
        assert [a["rule"] for a in alerts] == ["bp.urgent", "glucose.hypo.level2"]

    def test_the_findings_window(self, api, world):
        admin, path = world.clinic.admin, f"/v1/residents/{world.urgent}/findings"
        before = (world.clinic.now - timedelta(days=2)).isoformat()
        earlier = (world.clinic.now - timedelta(days=1)).isoformat()
        assert get(api, admin, path, since=before, until=earlier) == []
        assert len(get(api, admin, path, since=earlier)) == 1
        backwards = api.get(path, params={"since": earlier, "until": before}, headers=auth(admin))
        assert backwards.status_code == 422


class TestWhoNeedsMe:
    def test_most_severe_first_then_oldest_first(self, api, world):
        assert listed(api, world.clinic.admin) == [
            (world.older_critical, "张淑芬", "critical"),
            (world.critical, "李桂兰", "critical"),
            (world.urgent, "王秀英", "urgent"),
            (world.warning, "刘玉珍", "warning"),
        ]

    def test_filters(self, api, world):
        admin = world.clinic.admin
        serious = listed(api, admin, severity_at_least="urgent")
        assert [r for r, _, _ in serious] == [world.older_critical, world.critical, world.urgent]
        only = listed(api, admin, community_id=world.chongyi)
        assert only == [(world.warning, "刘玉珍", "warning")]
        bad = api.get("/v1/alerts", params={"severity_at_least": "bad"}, headers=auth(admin))
        assert bad.status_code == 422

    def test_a_doctor_sees_their_communities_only(self, api, world):
        mine = listed(api, world.dunren_doctor)
        assert [r for r, _, _ in mine] == [world.older_critical, world.critical, world.urgent]
        assert [r for r, _, _ in listed(api, world.chongyi_doctor)] == [world.warning]
        assert listed(api, world.chongyi_doctor, community_id=world.dunren) == []

    def test_a_doctor_of_another_community_gets_404(self, api, world):
        for what in ("alerts", "findings"):
            path = f"/v1/residents/{world.urgent}/{what}"
            response = api.get(path, headers=auth(world.chongyi_doctor))
            assert response.status_code == 404, what
            assert response.json()["detail"] == f"no resident {world.urgent}"
        assert get(api, world.dunren_doctor, f"/v1/residents/{world.urgent}/alerts") != []

    def test_family_see_their_own_resident_only(self, api, world, db):
        family = user_token(db, "family", residents=(world.critical,))
        assert listed(api, family) == [(world.critical, "李桂兰", "critical")]
        assert len(get(api, family, f"/v1/residents/{world.critical}/findings")) == 1
        other = api.get(f"/v1/residents/{world.older_critical}/alerts", headers=auth(family))
        assert other.status_code == 404

    def test_family_do_not_see_what_is_for_the_doctor_alone(self, api, world, db):
        # A drift the doctor follows up on over days: not for the family's list.
        opened = db.execute(
            """INSERT INTO alerts (resident_id, rule, severity, audience, message, opened_at,
                                   updated_at)
               VALUES (%s, 'bp.drift.up', 'info', '{doctor}', 'drift', now(), now())
               RETURNING id""",
            (world.critical,),
        ).fetchone()
        assert opened is not None
        db.execute(
            """INSERT INTO findings (resident_id, rule, severity, status, at, audience, message,
                                     alert_id)
               VALUES (%s, 'bp.drift.up', 'info', 'open', now(), '{doctor}', 'drift', %s)""",
            (world.critical, opened[0]),
        )
        family = user_token(db, "family", residents=(world.critical,))
        assert [a["rule"] for a in get(api, family, "/v1/alerts")] == ["glucose.hypo.level2"]
        mine = f"/v1/residents/{world.critical}"
        assert [a["rule"] for a in get(api, family, f"{mine}/alerts")] == ["glucose.hypo.level2"]
        assert [f["rule"] for f in get(api, family, f"{mine}/findings")] == ["glucose.hypo.level2"]
        doctor = world.dunren_doctor
        assert {a["rule"] for a in get(api, doctor, f"{mine}/alerts")} == {
            "glucose.hypo.level2",
            "bp.drift.up",
        }
        assert len(get(api, doctor, f"{mine}/findings")) == 2

    def test_without_a_user_token_it_is_401(self, api, world):
        assert api.get("/v1/alerts").status_code == 401
        assert api.get(f"/v1/residents/{world.urgent}/alerts").status_code == 401
        gateway = api.get("/v1/alerts", headers=auth(world.clinic.gateway))
        assert gateway.status_code == 401
