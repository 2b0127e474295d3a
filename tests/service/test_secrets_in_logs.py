"""Secrets never reach a log, and are stored only hashed.

`linli serve` and `linli worker` run as processes at their most verbose (LINLI_LOG_LEVEL=debug;
the API in JSON lines, the worker in text), on a database URL that carries a password and with
Twilio (the fake) configured. Real flows go through them: an admin creates a doctor with a
password, issues tokens, registers a gateway; the gateway uploads, a critical reading makes
the worker text the family through Twilio, Twilio calls back and the daughter replies; the
doctor signs in to the pages (after a typo); someone tries a near-miss token. Then nothing
either process wrote may contain a token, a password, the session cookie or its form token,
the Twilio auth token (plain or as the Basic credentials) or the database password; neither
may `linli collect`'s output contain its gateway token. Last, every text, bytea and JSON
column of every table is searched for the same values in plain form: passwords are kept as
argon2id hashes, tokens and sessions as their SHA-256.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import free_port
from tests.dashboards.test_pages import form_token
from tests.factories import auth, count, user_token
from tests.fake_twilio import FakeTwilio
from tests.processes import Running, linli
from tests.service.alerting_home import DAUGHTER, DOCTOR, SENDER
from tests.service.test_alerting_processes import process_settings, wait_until

TEXT_TYPES = ("text", "character varying", "character", "bytea", "json", "jsonb", "ARRAY")


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(auth_token=secrets.token_hex(16)) as fake:
        yield fake


def database_with_password(db: psycopg.Connection[Any], database_url: str) -> tuple[str, str]:
    """A login role with a password on the test's database; its URL, and the password."""
    role, password = f"linli_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
    db.execute(
        sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    return make_conninfo(database_url, user=role, password=password), password


class Flows:
    """The service's processes and the secrets that went through them."""

    def __init__(self, url: str, admin_token: str) -> None:
        self.url = url
        self.secrets: dict[str, str] = {"admin token": admin_token}
        # Form tokens are kept out of the logs too; the session's is stored as it is, for the
        # pages to put in their forms: it is worth nothing without the session's cookie.
        self.form_tokens: dict[str, str] = {}
        self.admin = httpx.Client(base_url=url, timeout=30, headers=auth(admin_token))
        self.plain = httpx.Client(base_url=url, timeout=30)

    def close(self) -> None:
        self.admin.close()
        self.plain.close()

    def created(self, method: str, path: str, **body: Any) -> Any:
        answer = self.admin.request(method, path, json=body or None)
        assert answer.status_code in (200, 201), f"{method} {path}: {answer.text}"
        return answer.json()

    def set_up_a_home(self) -> tuple[int, str]:
        """An admin's day: a community, a resident and her daughter, a doctor with a password
        and a token, a gateway. The resident's id and the gateway's token."""
        place = self.created("POST", "/v1/admin/communities", name="敦仁社区")["id"]
        resident = self.created(
            "POST",
            "/v1/admin/residents",
            name="王秀英",
            sex="female",
            birth_date="1944-03-02",
            conditions=["hypertension"],
            community_id=place,
        )["id"]
        self.created(
            "POST",
            f"/v1/admin/residents/{resident}/contacts",
            name="王小红",
            kind="family",
            phone=DAUGHTER,
        )
        self.secrets["first password"] = "first " + secrets.token_urlsafe(12)
        doctor = self.created(
            "POST",
            "/v1/admin/users",
            username="dr.wang",
            display_name="王医生",
            role="doctor",
            password=self.secrets["first password"],
            phone=DOCTOR,
        )["id"]
        self.created("PUT", f"/v1/admin/users/{doctor}/communities/{place}")
        self.secrets["password"] = "pass " + secrets.token_urlsafe(12)
        self.created("PATCH", f"/v1/admin/users/{doctor}", password=self.secrets["password"])
        issued = self.created("POST", f"/v1/admin/users/{doctor}/tokens")
        self.secrets["user token"] = issued["token"]
        gateway = self.created("POST", "/v1/admin/gateways", name="王家")
        self.secrets["gateway token"] = gateway["token"]
        return resident, gateway["token"]

    def upload(self, token: str, at: datetime, systolic: float, diastolic: float) -> None:
        reading = {
            "kind": "blood_pressure",
            "device_serial": "BP-WANG",
            "measured_at": at.isoformat(),
            "unit": "mmHg",
            "systolic": systolic,
            "diastolic": diastolic,
        }
        answer = self.plain.post("/v1/readings", json={"readings": [reading]}, headers=auth(token))
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1, answer.text

    def use_tokens(self) -> None:
        """The doctor's token reads; a near miss of the gateway's and an unknown one fail."""
        doctor = auth(self.secrets["user token"])
        assert self.plain.get("/v1/alerts", headers=doctor).status_code == 200
        near_miss = self.secrets["gateway token"][:-4] + "AAAA"
        self.secrets["near-miss token"] = near_miss
        assert self.plain.post("/v1/heartbeat", headers=auth(near_miss)).status_code == 401
        self.secrets["unknown token"] = "lus_" + secrets.token_urlsafe(32)
        unknown = auth(self.secrets["unknown token"])
        assert self.plain.get("/v1/alerts", headers=unknown).status_code == 401

    def sign_in_to_the_pages(self) -> None:
        """The doctor mistypes the password once, then signs in and looks at Today."""
        self.secrets["mistyped password"] = self.secrets["password"] + "x"
        with httpx.Client(base_url=self.url, timeout=30, follow_redirects=True) as browser:
            for password in (self.secrets["mistyped password"], self.secrets["password"]):
                page = browser.get("/login")
                self.form_tokens["sign-in"] = form_token(page.text)
                answer = browser.post(
                    "/login",
                    data={
                        "username": "dr.wang",
                        "password": password,
                        "csrf": form_token(page.text),
                    },
                )
            assert answer.url.path == "/today", answer.text[:300]
            self.secrets["session cookie"] = browser.cookies["linli_session"]
            self.form_tokens["session"] = form_token(answer.text)
            assert "王秀英" in browser.get("/today").text


def collector_output(url: str, token: str, tmp_path: Path) -> str:
    """What `linli collect` prints while it uploads one emulated home with `token`."""
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'service_url = "{url}"\ntoken = "{token}"\ndata_dir = "{tmp_path / "gw"}"\n'
        "scan_seconds = 0.5\n"
    )
    result = linli("collect", "--config", str(config), "--emulate", "1", "--rounds", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "outbox: 0 readings pending" in result.stdout
    return result.stdout + result.stderr


def leaks(text: str, secrets_: dict[str, str]) -> list[str]:
    return sorted(name for name, value in secrets_.items() if value in text)


def stored_values(db: psycopg.Connection[Any]) -> Iterator[tuple[str, str]]:
    """(table.column, value as text) of every text, bytea, JSON and array column."""
    columns = db.execute(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND data_type = ANY(%s)""",
        (list(TEXT_TYPES),),
    ).fetchall()
    for table, column in columns:
        query = sql.SQL("SELECT {}::text FROM {} WHERE {} IS NOT NULL").format(
            sql.Identifier(column), sql.Identifier(table), sql.Identifier(column)
        )
        for (value,) in db.execute(query):
            yield f"{table}.{column}", value
        if column in ("token_hash",):  # bytea: its bytes, too
            raw = sql.SQL("SELECT {} FROM {}").format(sql.Identifier(column), sql.Identifier(table))
            for (data,) in db.execute(raw):
                yield f"{table}.{column}", bytes(data).decode("latin-1")


def test_no_secret_in_any_log_and_none_stored_in_plain(
    settings, db, database_url, twilio, tmp_path
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database, database_password = database_with_password(db, database_url)
    env = process_settings(settings, twilio, port) | {
        "LINLI_DATABASE_URL": database,
        "LINLI_LOG_LEVEL": "debug",
        "LINLI_LOG_FORMAT": "json",
    }
    flows = Flows(url, user_token(db, "admin"))  # the first admin, as `linli admin` makes one
    flows.secrets |= {
        "database password": database_password,
        "Twilio auth token": twilio.auth_token,
        "Twilio credentials": base64.b64encode(
            f"{twilio.account_sid}:{twilio.auth_token}".encode()
        ).decode(),
    }
    serve = Running("serve", settings=env)
    worker = Running("worker", settings=env | {"LINLI_LOG_FORMAT": "text"})
    try:
        wait_until(lambda: _healthy(url, serve), 60)
        worker.wait_for("worker ready")
        resident, gateway = flows.set_up_a_home()
        now = datetime.now(UTC).replace(microsecond=0)
        flows.upload(gateway, now - timedelta(days=400), 120, 80)  # registers the monitor
        flows.created("PUT", "/v1/admin/devices/BP-WANG/users/255", resident_id=resident)
        flows.upload(gateway, now - timedelta(minutes=1), 206, 124)  # critical
        sent = twilio.wait_for_messages(2, timeout=60)
        assert {m["to"] for m in sent} == {DAUGHTER, DOCTOR}
        twilio.wait_for_callbacks(2, timeout=30)  # the delivery reports
        answer = twilio.reply(f"{url}/v1/twilio/inbound", DAUGHTER, "1", to=SENDER)
        assert answer.status_code == 200, answer.text
        flows.use_tokens()
        flows.sign_in_to_the_pages()
        collected = collector_output(url, gateway, tmp_path)
        assert count(db, "glucose_readings") == 7  # the collector's token did work
    finally:
        flows.close()
        serve.stop()
        worker.stop()
    served, worked = serve.everything(), worker.everything()
    logged = flows.secrets | flows.form_tokens
    assert '"level":"DEBUG"' in served.replace(" ", "")  # the most verbose level, really
    assert "DEBUG " in worked
    assert db.execute("SELECT state, acknowledged_via FROM alerts").fetchall() == [
        ("acknowledged", "sms")
    ]
    assert leaks(served, logged) == [], "linli serve logged a secret"
    assert leaks(worked, logged) == [], "linli worker logged a secret"
    assert leaks(collected, {"gateway token": gateway}) == [], "linli collect printed its token"
    stored = [
        (where, name) for where, value in stored_values(db) for name in leaks(value, flows.secrets)
    ]
    assert stored == [], "secrets stored in plain form"
    hashes = db.execute(
        "SELECT password_hash FROM users WHERE password_hash IS NOT NULL"
    ).fetchall()
    assert len(hashes) == 1
    assert hashes[0][0].startswith("$argon2id$")


def test_a_malformed_database_url_is_reported_without_its_password():
    # psycopg's own message quotes the part it could not read: here, the password.
    password = secrets.token_urlsafe(12) + " x"  # a space left unencoded
    url = f"postgresql://linli:{password}@db/linli"
    result = linli("worker", settings={"LINLI_DATABASE_URL": url})
    assert result.returncode == 2
    assert "bad setting LINLI_DATABASE_URL" in result.stderr
    assert password not in result.stdout + result.stderr


def _healthy(url: str, serve: Running) -> bool:
    if serve.process.poll() is not None:
        raise AssertionError(f"linli serve ended:\n{serve.output()}")
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        time.sleep(0.1)
        return False
