"""A copy of a resident's data on request: the admin API's export and `linli admin
export-resident` give one JSON document with everything Linli holds about them (readings
uploaded through the API, an alert texted through the fake Twilio, notes, contacts, family
members, devices, the audit entries about them), nothing of anyone else's, audited."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests import processes
from tests.effort import record, tries
from tests.factories import auth, resident, user_token
from tests.homes import bp, glucose, start_of
from tests.service.alerting_home import DAUGHTER, SON, Household, urgent_pressure
from tests.service.test_erasure import NOTE, _note

STRANGER_PHONE = "+8613700002222"


def year_of_readings(h: Household, count: int) -> None:
    """`count` blood-pressure readings over the last year, and a glucose reading a day."""
    start, step = start_of(365), timedelta(days=364) / count
    readings = [bp(start + i * step, 115 + i % 30, 75 + i % 15) for i in range(count)]
    readings += [glucose(start + timedelta(days=d, hours=1), 5 + d % 7 * 0.5) for d in range(300)]
    for at in range(0, len(readings), 1000):
        h.home.upload(*readings[at : at + 1000])


@pytest.fixture
def filled(household: Household) -> tuple[Household, str]:
    """The household's resident with a year of readings, an alert texted to her daughter, a
    note and her daughter's account; a stranger in the same community; an admin's token."""
    h, db = household, household.db
    admin = user_token(db, "admin")
    assert h.deliver(urgent_pressure(h)) == 1
    h.twilio.wait_for_callbacks(2)  # sent, delivered: the status stays from here on
    h.run(lambda pool: _note(pool, h.doctor, h.home.resident_id))
    family = h.home.api.post(
        "/v1/admin/users",
        json={"username": "xiaohong", "display_name": "Xiaohong", "role": "family"},
        headers=auth(admin),
    ).json()["id"]
    h.home.api.put(f"/v1/admin/users/{family}/residents/{h.home.resident_id}", headers=auth(admin))
    place = db.execute("SELECT id FROM communities").fetchone()[0]
    stranger = resident(db, place, "李桂兰")
    db.execute(
        """INSERT INTO contacts (resident_id, name, kind, phone, escalation_order)
           VALUES (%s, '李建国', 'family', %s, 1)""",
        (stranger, STRANGER_PHONE),
    )
    # Uploaded after the check: they wait for the next one, as a gateway's late uploads do.
    year_of_readings(h, tries(2500, 30_000))
    return h, admin


def exported(h: Household, admin: str) -> tuple[httpx.Response, dict[str, Any]]:
    answer = h.home.api.get(f"/v1/admin/residents/{h.home.resident_id}/export", headers=auth(admin))
    assert answer.status_code == 200, answer.text
    return answer, answer.json()


def column(db: Any, query: str, *params: object) -> list[Any]:
    return [row[0] for row in db.execute(query, params).fetchall()]


def test_the_export_holds_everything_about_the_resident(filled) -> None:
    h, admin = filled
    db, her = h.db, h.home.resident_id
    answer, doc = exported(h, admin)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["transfer-encoding"] == "chunked"  # written as it is read
    assert f"resident-{her}.json" in answer.headers["content-disposition"]

    assert (doc["format"], doc["resident_id"]) == ("linli-resident-export/1", her)
    assert doc["resident"]["name"] == "王秀英"
    assert doc["resident"]["birth_date"] == "1944-03-02"
    assert doc["resident"]["community_name"] == "敦仁社区"
    assert [(c["name"], c["phone"]) for c in doc["contacts"]] == [
        ("王小红", DAUGHTER),
        ("王小明", SON),
    ]
    assert [m["username"] for m in doc["family_members"]] == ["xiaohong"]
    assert {(d["serial"], d["user_index"]) for d in doc["devices"]} == {
        ("BP-HOME", 255),
        ("GL-HOME", 255),
    }
    # Every reading, in time order, as stored.
    for kind, value in (("blood_pressure", "systolic"), ("glucose", "glucose_mmol")):
        stored = column(
            db,
            f"""SELECT {value} FROM {kind}_readings WHERE resident_id = %s
                ORDER BY measured_at, id""",
            her,
        )
        assert [r[value] for r in doc[f"{kind}_readings"]] == pytest.approx(stored)
        times = [r["measured_at"] for r in doc[f"{kind}_readings"]]
        assert times == sorted(times)
    assert len(doc["findings"]) == len(
        column(db, "SELECT id FROM findings WHERE resident_id = %s", her)
    )
    assert [a["rule"] for a in doc["alerts"]] == ["bp.urgent"]
    (text,) = [n for n in doc["notifications"] if n["address"] == DAUGHTER]
    assert "王秀英" in text["body"]
    assert text["status"] == "delivered"
    assert [n["text"] for n in doc["notes"]] == [NOTE]
    assert doc["notes"][0]["author"] == "李医生"
    assert doc["detection_state"]["state"]
    assert doc["summary"]["last_systolic"] is not None
    assert doc["months"]
    # The trail about her, this export included (written before the document was read).
    assert doc["audit"][-1]["action"] == "export resident"
    assert doc["audit"][-1]["username"].startswith("admin")  # the factory numbers them
    assert {"assign device", "link family member", "add note"} <= {
        e["action"] for e in doc["audit"]
    }
    # Nothing of anyone else's.
    assert "王秀英" in answer.text
    assert "李桂兰" not in answer.text
    assert STRANGER_PHONE not in answer.text
    record(
        "export.api",
        "readings exported",
        len(doc["blood_pressure_readings"]) + len(doc["glucose_readings"]),
    )
    record("export.api", "bytes", len(answer.content))


def test_only_an_admin_exports_and_only_someone_who_exists(filled) -> None:
    h, admin = filled
    db = h.db
    before = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    doctor = user_token(db, "doctor")
    path = f"/v1/admin/residents/{h.home.resident_id}/export"
    assert h.home.api.get(path, headers=auth(doctor)).status_code == 403
    assert h.home.api.get(path).status_code == 401
    missing = h.home.api.get("/v1/admin/residents/999999/export", headers=auth(admin))
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no resident 999999"
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before


def test_the_command_line_writes_the_same_document(filled, tmp_path) -> None:
    h, admin = filled
    her = h.home.resident_id
    _, from_api = exported(h, admin)
    settings = {
        "LINLI_DATABASE_URL": h.settings.database_url or "",
        "LINLI_DATA_DIR": str(tmp_path),
    }
    out = tmp_path / "export.json"
    done = processes.linli(
        "admin", "export-resident", str(her), "--out", str(out), settings=settings
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"resident {her} exported to {out}"
    from_cli = json.loads(out.read_text(encoding="utf-8"))
    # The same document, but for when it was made and its own line in the trail.
    assert from_cli["audit"][:-1] == from_api["audit"]
    last = from_cli["audit"][-1]
    assert (last["action"], last["user_id"], last["client"]) == ("export resident", None, "cli")
    for section in from_api.keys() - {"exported_at", "audit"}:
        assert from_cli[section] == from_api[section], section

    nobody = tmp_path / "nobody.json"
    refused = processes.linli(
        "admin", "export-resident", "999999", "--out", str(nobody), settings=settings
    )
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == ["linli: no resident 999999"]
    assert "Traceback" not in refused.stderr
    assert not nobody.exists()
