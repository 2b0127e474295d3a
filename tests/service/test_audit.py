"""The audit trail over HTTP against a live server and a real PostgreSQL: every read of a
resident's data and every change to it, by the API and the pages, says who, what (field
names, never values), which resident, when and from where; the admin reads it back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from service.admin.users import create_user_token, find_user
from tests.dashboards.clinic import (  # noqa: F401 (clinic, site: fixtures)
    Clinic,
    clinic,
    site,
)
from tests.dashboards.test_pages import browser, form_token, sign_in
from tests.effort import record
from tests.factories import auth, in_transaction

LOCAL = "127.0.0.1"


def token_of(conninfo: str, username: str) -> tuple[int, str]:
    """A clinic user's id and a fresh API token of theirs."""

    async def work(conn: Any) -> tuple[int, str]:
        user = await find_user(conn, username)
        return user.id, (await create_user_token(conn, user.id)).token

    return in_transaction(conninfo, work)


def trail(db, since_id: int = 0) -> list[tuple[Any, ...]]:
    """(user_id, action, resident_id, client, detail) of the entries after `since_id`."""
    rows = db.execute(
        """SELECT user_id, action, resident_id, client, detail FROM audit_log
           WHERE id > %s ORDER BY id""",
        (since_id,),
    ).fetchall()
    return [tuple(row) for row in rows]


def last_id(db) -> int:
    row = db.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()
    return int(row[0])


class TestReads:
    def test_every_read_of_a_residents_data_by_the_api_is_audited(
        self, site, db, clinic, database_url
    ):
        doctor, token = token_of(database_url, "dr.li")
        mother, alert = clinic.mother, clinic.alert_id
        reads = [
            (f"/v1/residents/{mother}/readings", {"kind": "blood_pressure"}),
            (f"/v1/residents/{mother}/daily", {"kind": "glucose"}),
            (f"/v1/residents/{mother}/alerts", {}),
            (f"/v1/residents/{mother}/findings", {}),
            (f"/v1/alerts/{alert}/messages", {}),
            ("/v1/alerts", {}),
            ("/v1/alerting/gaps", {}),
        ]
        with httpx.Client(base_url=site, headers=auth(token), timeout=30) as api:
            for path, params in reads:
                answer = api.get(path, params=params)
                assert answer.status_code == 200, (path, answer.text)
        assert trail(db) == [
            (doctor, "read readings", mother, LOCAL, {"kind": "blood_pressure"}),
            (doctor, "read daily summaries", mother, LOCAL, {"kind": "glucose"}),
            (doctor, "read alerts", mother, LOCAL, {}),
            (doctor, "read findings", mother, LOCAL, {}),
            (doctor, "read alert messages", mother, LOCAL, {"alert_id": alert}),
            (doctor, "list alerts", None, LOCAL, {"residents": 2}),
            # The mother has a daughter who takes SMS; neither has a doctor with a phone.
            (doctor, "list reachability gaps", None, LOCAL, {"residents": 2}),
        ]
        record("audit.api_reads", "routes checked", len(reads))

    def test_a_read_refused_leaves_no_entry(self, site, db, clinic, database_url):
        _, daughter = token_of(database_url, "xiaohong")
        with httpx.Client(base_url=site, headers=auth(daughter), timeout=30) as api:
            neighbour = clinic.neighbour
            assert api.get(f"/v1/residents/{neighbour}/findings").status_code == 404
            assert api.get(f"/v1/residents/{neighbour}/alerts").status_code == 404
            assert api.get("/v1/residents/999999/readings?kind=glucose").status_code == 404
            assert api.get(f"/v1/residents/{clinic.mother}/alerts").status_code == 200
        assert [(action, resident) for _, action, resident, _, _ in trail(db)] == [
            ("read alerts", clinic.mother)
        ]

    def test_the_admins_reads_of_a_resident_and_their_contacts_are_audited(
        self, site, db, clinic, database_url
    ):
        admin, token = token_of(database_url, "admin")
        contact = db.execute("SELECT id FROM contacts").fetchone()[0]
        with httpx.Client(base_url=f"{site}/v1/admin", headers=auth(token), timeout=30) as api:
            assert api.get(f"/residents/{clinic.mother}").status_code == 200
            assert api.get(f"/residents/{clinic.mother}/contacts").status_code == 200
            assert api.get(f"/contacts/{contact}").status_code == 200
            assert api.get("/residents").status_code == 200
        assert trail(db) == [
            (admin, "read resident", clinic.mother, LOCAL, {}),
            (admin, "read contacts", clinic.mother, LOCAL, {}),
            (admin, "read contacts", clinic.mother, LOCAL, {"contact_id": contact}),
            (admin, "list residents", None, LOCAL, {"residents": 2}),
        ]


class TestAcknowledging:
    def test_acknowledging_by_the_api_is_audited_once(self, site, db, clinic, database_url):
        doctor, token = token_of(database_url, "dr.li")
        with httpx.Client(base_url=site, headers=auth(token), timeout=30) as api:
            assert api.post(f"/v1/alerts/{clinic.alert_id}/acknowledge").status_code == 204
            assert api.post(f"/v1/alerts/{clinic.alert_id}/acknowledge").status_code == 409
        assert trail(db) == [
            (doctor, "acknowledge alert", clinic.mother, LOCAL, {"alert_id": clinic.alert_id})
        ]

    def test_the_pages_changes_are_audited_without_the_notes_words(self, site, db, clinic):
        doctor = db.execute("SELECT id FROM users WHERE username = 'dr.li'").fetchone()[0]
        with browser(site) as client:
            sign_in(client, "dr.li")
            page = client.get(f"/residents/{clinic.mother}")
            client.post(
                f"/alerts/{clinic.alert_id}/acknowledge",
                data={"csrf": form_token(page.text), "note": "已电话联系女儿"},
            )
            client.post(
                f"/residents/{clinic.mother}/notes",
                data={"csrf": form_token(page.text), "text": "下周复诊，带上血压计"},
            )
            # The neighbour's alert, resolved from the same session.
            other = db.execute(
                "SELECT id FROM alerts WHERE resident_id = %s", (clinic.neighbour,)
            ).fetchone()[0]
            client.post(f"/alerts/{other}/resolve", data={"csrf": form_token(page.text)})
        notes = [row[0] for row in db.execute("SELECT id FROM notes ORDER BY id").fetchall()]
        assert len(notes) == 2
        mother = clinic.mother
        assert trail(db) == [
            (doctor, "view resident", mother, LOCAL, {}),
            (
                doctor,
                "acknowledge alert",
                mother,
                None,
                {"alert_id": clinic.alert_id, "via": "web"},
            ),
            (doctor, "add note", mother, None, {"note_id": notes[0], "via": "web"}),
            (doctor, "add note", mother, None, {"note_id": notes[1], "via": "web"}),
            (doctor, "view resident", mother, LOCAL, {}),  # the page again, after the note
            (doctor, "resolve alert", clinic.neighbour, None, {"alert_id": other, "via": "web"}),
        ]
        everything = " ".join(str(row) for row in trail(db))
        assert "复诊" not in everything
        assert "电话" not in everything


@pytest.fixture
def admin_api(site, database_url) -> Iterator[tuple[int, httpx.Client]]:
    admin, token = token_of(database_url, "admin")
    with httpx.Client(base_url=f"{site}/v1/admin", headers=auth(token), timeout=30) as api:
        yield admin, api


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


class TestAdminChanges:
    def test_each_change_names_its_fields_and_never_their_values(self, admin_api, db, clinic):
        admin, api = admin_api
        person = {"name": "赵淑芬", "sex": "female", "birth_date": "1946-05-01"}
        new = ok(api.post("/residents", json={**person, "community_id": clinic.community_id}), 201)
        rid = new["id"]
        ok(api.patch(f"/residents/{rid}", json={"name": "赵淑芳", "target_systolic": 135}))
        son = {"name": "赵国强", "kind": "family", "phone": "+8613912345678"}
        contact = ok(api.post(f"/residents/{rid}/contacts", json=son), 201)["id"]
        ok(api.patch(f"/contacts/{contact}", json={"phone": "+8613987654321"}))
        ok(api.delete(f"/contacts/{contact}"), 204)
        family = ok(
            api.post("/users", json={"username": "zhao", "display_name": "赵", "role": "family"}),
            201,
        )["id"]
        ok(api.put(f"/users/{family}/residents/{rid}"))
        ok(api.put(f"/users/{family}/residents/{rid}"))  # again: nothing changes
        ok(api.delete(f"/users/{family}/residents/{rid}"), 204)
        # The mother's monitor goes to the new resident: taken from one, given to the other.
        device = db.execute("SELECT id FROM devices WHERE serial = 'BP-MOTHER'").fetchone()[0]
        ok(api.put("/devices/BP-MOTHER/users/255", json={"resident_id": rid}))
        ok(api.delete("/devices/BP-MOTHER/users/255"), 204)
        where = {"device_id": device, "user_index": 255}

        entries = ok(api.get("/audit", params={"resident_id": rid}))
        assert [(e["user_id"], e["username"], e["client"]) for e in entries] == [
            (admin, "admin", LOCAL)
        ] * len(entries)
        assert [(e["action"], e["detail"]) for e in reversed(entries)] == [
            ("create resident", {"fields": ["birth_date", "community_id", "name", "sex"]}),
            ("update resident", {"fields": ["name", "target_systolic"]}),
            ("add contact", {"contact_id": contact, "fields": ["kind", "name", "phone"]}),
            ("update contact", {"contact_id": contact, "fields": ["phone"]}),
            ("remove contact", {"contact_id": contact}),
            ("link family member", {"family_user_id": family}),
            ("unlink family member", {"family_user_id": family}),
            ("assign device", {**where, "readings_attached": 0}),
            ("unassign device", where),
        ]
        mothers = ok(api.get("/audit", params={"resident_id": clinic.mother, "limit": 1}))
        assert [(e["action"], e["detail"]) for e in mothers] == [("unassign device", where)]
        stored = db.execute("SELECT t::text FROM audit_log t").fetchall()
        for value in ("赵", "+86139", "1946-05-01"):
            assert not any(value in row[0] for row in stored), value

    def test_a_change_refused_writes_no_entry(self, admin_api, db, clinic):
        _, api = admin_api
        before = last_id(db)
        taken = {"name": "王小明", "kind": "family", "phone": "+8613800138002"}
        first = {**taken, "escalation_order": 1}  # the daughter's place
        assert api.post(f"/residents/{clinic.mother}/contacts", json=first).status_code == 409
        assert api.post("/residents/999999/contacts", json=taken).status_code == 404
        no_doctor = {"doctor_id": 999999}
        assert api.patch(f"/residents/{clinic.mother}", json=no_doctor).status_code == 422
        assert api.delete("/residents/999999").status_code == 404
        assert api.get("/residents/999999/export").status_code == 404
        assert trail(db, before) == []


class TestReadingTheTrail:
    def test_filters_and_pages_newest_first(self, site, admin_api, db, clinic, database_url):
        _, api = admin_api
        doctor, token = token_of(database_url, "dr.li")
        with httpx.Client(base_url=site, headers=auth(token)) as other:
            for _ in range(3):
                assert other.get(f"/v1/residents/{clinic.mother}/alerts").status_code == 200
        for _ in range(4):
            ok(api.get(f"/residents/{clinic.neighbour}"))

        everything = ok(api.get("/audit"))
        ids = [e["id"] for e in everything]
        assert ids == sorted(ids, reverse=True)
        assert len(ids) == 7
        by_doctor = ok(api.get("/audit", params={"user_id": doctor}))
        assert {(e["user_id"], e["resident_id"]) for e in by_doctor} == {(doctor, clinic.mother)}
        assert len(by_doctor) == 3
        pages: list[list[int]] = []
        params: dict[str, int] = {"limit": 2}
        while page := ok(api.get("/audit", params=params)):
            pages.append([e["id"] for e in page])
            params["before_id"] = page[-1]["id"]
        assert [i for page in pages for i in page] == ids
        assert [len(page) for page in pages] == [2, 2, 2, 1]
        later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert ok(api.get("/audit", params={"since": later})) == []
        earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        assert len(ok(api.get("/audit", params={"since": earlier}))) == 7
        assert api.get("/audit", params={"limit": 0}).status_code == 422
        assert api.get("/audit", params={"since": "yesterday"}).status_code == 422
        assert api.get("/audit", params={"since": "2026-11-01T08:00:00"}).status_code == 422

    def test_only_admins_read_it(self, site, database_url):
        _, token = token_of(database_url, "dr.li")
        with httpx.Client(base_url=site, headers=auth(token)) as api:
            assert api.get("/v1/admin/audit").status_code == 403
        with httpx.Client(base_url=site) as api:
            assert api.get("/v1/admin/audit").status_code == 401
