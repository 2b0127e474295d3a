"""The pages over HTTP, as a browser's requests would reach them: signing in, the doctor's
Today, acknowledging, a resident, the family view, the audit trail; forms without their
token, other people's residents and wrong passwords change nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.dashboards.clinic import (  # noqa: F401 (clinic, site: fixtures)
    PASSWORD,
    Clinic,
    clinic,
    site,
)
from tests.factories import assign, auth, blood_pressure, new_gateway


def browser(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, follow_redirects=True)


def form_token(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None, html[:500]
    return match.group(1)


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": form_token(page.text)},
    )


class TestSignIn:
    def test_a_doctor_signs_in_to_today(self, site):
        with browser(site) as client:
            page = sign_in(client, "dr.li")
            assert page.url.path == "/today"
            assert "今天谁需要您" in page.text
            cookie = next(c for c in client.cookies.jar if c.name == "linli_session")
            assert cookie.has_nonstandard_attr("HttpOnly")

    def test_pages_need_a_session(self, site):
        with browser(site) as client:
            assert client.get("/today").url.path == "/login"
            assert client.get("/residents/1").url.path == "/login"

    def test_a_wrong_password_is_refused_and_repeated_ones_lock_the_name(self, site, db):
        with browser(site) as client:
            for _ in range(5):
                assert "用户名或密码错误" in sign_in(client, "dr.li", "wrong").text
            locked = sign_in(client, "dr.li")  # the right password, too late
            assert "请15分钟后再试" in locked.text
            assert locked.url.path == "/login"

    def test_a_sign_in_form_not_from_the_page_is_refused(self, site):
        with browser(site) as client:
            answer = client.post("/login", data={"username": "dr.li", "password": PASSWORD})
            assert answer.status_code == 403

    def test_signing_out_ends_the_session(self, site):
        with browser(site) as client:
            page = sign_in(client, "dr.li")
            client.post("/logout", data={"csrf": form_token(page.text)})
            assert client.get("/today").url.path == "/login"


class TestDoctor:
    def test_today_lists_open_alerts_and_residents_to_follow_up(self, site, db, clinic):
        opened = db.execute("SELECT opened_at FROM alerts WHERE id = %s", (clinic.alert_id,))
        (at,) = opened.fetchone() or ()
        local = at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        with browser(site) as client:
            page = sign_in(client, "dr.li").text
            assert local in page  # the community's clock, not UTC
            assert "王秀英" in page
            assert "血压超过紧急转诊线" in page
            assert "血压连续两个周期未达标" in page  # the neighbour, to follow up

    def test_acknowledging_from_today_with_a_note(self, site, db, clinic):
        with browser(site) as client:
            page = sign_in(client, "dr.li")
            answer = client.post(
                f"/alerts/{clinic.alert_id}/acknowledge",
                data={"csrf": form_token(page.text), "note": "已电话联系，明天复诊"},
            )
            assert answer.status_code == 200
            assert "已确认" in answer.text
        state = db.execute(
            "SELECT state, acknowledged_via FROM alerts WHERE id = %s", (clinic.alert_id,)
        )
        assert state.fetchone() == ("acknowledged", "web")
        assert db.execute("SELECT text FROM notes").fetchall() == [("已电话联系，明天复诊",)]

    def test_a_form_without_its_token_changes_nothing(self, site, db, clinic):
        with browser(site) as client:
            sign_in(client, "dr.li")
            answer = client.post(f"/alerts/{clinic.alert_id}/acknowledge", data={"csrf": "forged"})
            assert answer.status_code == 403
        state = db.execute("SELECT state FROM alerts WHERE id = %s", (clinic.alert_id,))
        assert state.fetchone() == ("open",)

    def test_a_resident_page_shows_the_charts_and_is_audited(self, site, db, clinic):
        with browser(site) as client:
            sign_in(client, "dr.li")
            page = client.get(f"/residents/{clinic.mother}?days=30")
            assert page.status_code == 200
            assert "plotly" in page.text
            assert "/static/plotly.min.js" in page.text
            assert "王小红" in page.text  # the contact
            assert "BP-MOTHER" in page.text
            assert client.get("/static/plotly.min.js").status_code == 200
        audit = db.execute("SELECT action, resident_id FROM audit_log").fetchall()
        assert audit == [("view resident", clinic.mother)]

    def test_a_doctor_writes_a_note_on_a_resident(self, site, db, clinic):
        with browser(site) as client:
            page = sign_in(client, "dr.li")
            answer = client.post(
                f"/residents/{clinic.mother}/notes",
                data={"csrf": form_token(page.text), "text": "建议下周复查肾功能"},
            )
            assert "建议下周复查肾功能" in answer.text
        assert db.execute("SELECT text FROM notes").fetchall() == [("建议下周复查肾功能",)]

    def test_a_year_is_shown_as_daily_summaries(self, site, clinic):
        with browser(site) as client:
            sign_in(client, "dr.li")
            assert client.get(f"/residents/{clinic.mother}?days=365").status_code == 200
            assert client.get(f"/residents/{clinic.mother}?days=100000").status_code == 200

    def test_the_community_page_shows_control_rates_with_their_definition(self, site):
        with browser(site) as client:
            sign_in(client, "dr.li")
            page = client.get("/community")
            assert page.status_code == 200
            assert "血压控制率" in page.text
            assert 'id="managed">2<' in page.text

    def test_the_panel_lists_residents_with_their_figures_filtered_and_sorted(self, site):
        with browser(site) as client:
            sign_in(client, "dr.li")
            page = client.get("/panel").text
            rows = re.findall(r'<a href="/residents/\d+">([^<]+)</a>', page)
            assert rows == ["王秀英", "李桂兰"]  # the urgent alert first
            assert "186/86" in page  # the mother's latest reading
            assert "<polyline" in page  # a month's trend
            by_name = client.get("/panel?sort=name").text
            assert re.findall(r'<a href="/residents/\d+">([^<]+)</a>', by_name) == [
                "李桂兰",
                "王秀英",
            ]
            urgent_only = client.get("/panel?status=alerts&condition=diabetes").text
            assert "(2)" in urgent_only  # both have diabetes and an open alert
            nobody = client.get("/panel?status=not_measuring").text
            assert "没有符合条件的居民" in nobody

    def test_the_panel_shows_a_new_reading_at_once_with_no_worker_running(
        self, site, settings, clinic
    ):
        with browser(site) as client:
            sign_in(client, "dr.li")
            assert "186/86" in client.get("/panel").text  # the figures are kept from here on
            _, token = new_gateway(settings.database_url, "王家")
            measured = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
            reading = blood_pressure(
                "BP-NEW", systolic=201, diastolic=99, measured_at=measured.isoformat()
            )
            answer = client.post("/v1/readings", json={"readings": [reading]}, headers=auth(token))
            assert answer.json()["accepted"] == 1, answer.text
            assign(settings.database_url, "BP-NEW", clinic.mother)
            page = client.get("/panel").text
            assert "201/99" in page
            assert "186/86" not in page

    def test_unknown_ids_and_tampered_addresses_are_404(self, site):
        with browser(site) as client:
            sign_in(client, "dr.li")
            assert client.get("/residents/999999").status_code == 404
            assert client.get("/residents/abc").status_code == 404
            assert client.get("/panel?status=everything&page=0").status_code == 404
            assert client.post("/alerts/1/explode", data={"csrf": "x"}).status_code == 404
            assert client.get("/community?community=999999").status_code == 404

    def test_switching_language_is_remembered(self, site):
        with browser(site) as client:
            page = sign_in(client, "dr.li")
            switched = client.post(
                "/language",
                data={"language": "en", "csrf": form_token(page.text), "back": "/today"},
            )
            assert "Who needs you today" in switched.text
            assert "Who needs you today" in client.get("/today").text


class TestFamily:
    def test_a_daughter_sees_her_mother_and_only_her(self, site, clinic, db):
        with browser(site) as client:
            page = sign_in(client, "xiaohong")
            assert page.url.path == "/family"
            assert "王秀英" in page.text
            assert "李桂兰" not in page.text
            assert client.get(f"/residents/{clinic.neighbour}").status_code == 404
            assert client.get("/today").status_code == 404
            assert client.get("/audit").status_code == 404
            answer = client.post(
                f"/alerts/{clinic.alert_id}/acknowledge", data={"csrf": form_token(page.text)}
            )
            assert answer.status_code == 404
        assert db.execute(
            "SELECT state FROM alerts WHERE id = %s", (clinic.alert_id,)
        ).fetchone() == ("open",)

    def test_a_daughter_is_not_shown_what_is_for_the_doctor_alone(self, site, clinic, db):
        db.execute(
            """INSERT INTO alerts (resident_id, rule, severity, audience, message, opened_at,
                                   updated_at)
               VALUES (%s, 'bp.drift.up', 'info', '{doctor}', 'drift', now(), now())""",
            (clinic.mother,),
        )
        with browser(site) as client:
            page = sign_in(client, "xiaohong")
            assert "血压超过紧急转诊线" in page.text  # her mother's urgent alert
            assert "血压高于个人基线并持续" not in page.text
        with browser(site) as client:
            sign_in(client, "dr.li")
            assert "血压高于个人基线并持续" in client.get(f"/residents/{clinic.mother}").text


class TestAdmin:
    def test_an_admin_reads_who_looked_at_whom(self, site, clinic):
        with browser(site) as client:
            sign_in(client, "xiaohong")  # the daughter looks at her mother
        with browser(site) as client:
            page = sign_in(client, "admin")
            trail = client.get("/audit")
            assert trail.status_code == 200
            assert "王小红" in trail.text
            assert f"(#{clinic.mother})" in trail.text
            assert "Audit trail" in page.text or "Audit trail" in trail.text
