"""`linli demo` as a new user runs it: a district seeded once on the embedded database, the
API, pages and worker, emulated homes read over an emulated radio, an alert going out within
the minute; a second run reuses the district; bad set-ups get one line and start nothing."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from service.demo.district import PASSWORD, SUBDISTRICTS
from service.embedded import embedded_server
from tests.conftest import free_port
from tests.factories import community, resident
from tests.processes import Running, linli

FICTION = re.compile(r"^\+1\d{3}5550(1\d\d)$")  # North American numbers reserved for fiction


@dataclass
class FirstRun:
    """What a new user sees of a first `linli demo --headless --duration 60`."""

    data_dir: Path
    first_home: str
    crisis_sms: str
    today: str
    panel: str
    family: str
    exit_code: int
    ended: tuple[int, int, int]
    output: str


def sign_in(client: httpx.Client, username: str) -> None:
    client.get("/login")
    form = {"username": username, "password": PASSWORD, "csrf": client.cookies["linli_login_csrf"]}
    assert client.post("/login", data=form).status_code == 200


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    data_dir = tmp_path_factory.mktemp("demo")
    settings = {"LINLI_DATA_DIR": str(data_dir), "LINLI_PORT": str(free_port())}
    with Running("demo", "--headless", "--duration", "60", settings=settings) as demo:
        url = demo.wait_for(r"Linli demo running: (\S+)", seconds=300).group(1)
        homes = demo.wait_for(r"Homes measuring at 1440x speed: ([^.]+)\.").group(1)
        first_home = homes.split(", ")[0]
        # The first home's crisis goes through the gateway, detection and alerting to the
        # family's phone (the log, with no Twilio configured).
        crisis = demo.wait_for(rf"SMS to \+1\d+: .*{first_home}.*204/122", seconds=60).string
        with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as doctor:
            sign_in(doctor, "doctor")
            today, panel = doctor.get("/today").text, doctor.get("/panel").text
        with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as daughter:
            sign_in(daughter, "family")
            family = daughter.get("/family").text
        code = demo.process.wait(timeout=180)
        ended = demo.wait_for(r"(\d+) readings stored, (\d+) alerts opened, (\d+) messages")
        readings, alerts, messages = (int(n) for n in ended.groups())
        return FirstRun(
            data_dir,
            first_home,
            crisis,
            today,
            panel,
            family,
            code,
            (readings, alerts, messages),
            demo.output(200),
        )


@pytest.fixture
def demo_db(first_run: FirstRun) -> Iterator[psycopg.Connection[Any]]:
    """The demo's database after the demo stopped (its embedded server started again)."""
    with (
        embedded_server(first_run.data_dir, "linli_demo") as conninfo,
        psycopg.connect(conninfo) as conn,
    ):
        yield conn


class TestTheDemo:
    def test_an_alert_goes_out_within_the_minute_and_the_check_passes(self, first_run):
        assert first_run.exit_code == 0, first_run.output
        assert "严重偏高" in first_run.crisis_sms  # the family's message, in Chinese
        assert all(n > 0 for n in first_run.ended), first_run.ended

    def test_the_doctor_and_the_family_see_it_on_their_pages(self, first_run):
        assert first_run.first_home in first_run.today
        assert "204/122" in first_run.panel
        assert first_run.first_home in first_run.family

    def test_the_district_is_fulings_with_fictional_phones_and_90_days(self, demo_db):
        assert demo_db.execute("SELECT count(*) FROM residents").fetchone() == (300,)
        places = demo_db.execute("SELECT DISTINCT subdistrict FROM communities").fetchall()
        assert {p for (p,) in places} == set(SUBDISTRICTS)
        phones = demo_db.execute("SELECT phone FROM contacts UNION ALL SELECT phone FROM users")
        numbers = [p for (p,) in phones if p is not None]
        assert len(numbers) >= 300
        assert all(FICTION.match(n) for n in numbers), [n for n in numbers if not FICTION.match(n)]
        span = demo_db.execute(
            """SELECT min(measured_at) > now() - interval '92 days',
                      max(measured_at) < now() + interval '1 minute',
                      count(DISTINCT resident_id)
               FROM blood_pressure_readings"""
        ).fetchone()
        assert span is not None
        assert span[0]
        assert span[1]
        assert span[2] > 200  # most residents measure blood pressure

    def test_detection_ran_over_the_history_without_messaging_about_the_past(self, demo_db):
        open_alerts = demo_db.execute(
            "SELECT count(*) FROM alerts WHERE state <> 'resolved' AND opened_at < "
            "(SELECT seeded_at FROM linli_demo)"
        ).fetchone()
        assert open_alerts is not None
        assert open_alerts[0] > 10
        about_the_past = demo_db.execute(
            """SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id
               WHERE a.opened_at < (SELECT seeded_at FROM linli_demo)"""
        ).fetchone()
        assert about_the_past == (0,)

    def test_a_second_run_reuses_the_district(self, first_run):
        settings = {"LINLI_DATA_DIR": str(first_run.data_dir), "LINLI_PORT": str(free_port())}
        again = linli("demo", "--duration", "3", settings=settings, timeout=300)
        assert again.returncode == 0, again.stderr
        assert "Reusing the demo district" in again.stdout
        with (
            embedded_server(first_run.data_dir, "linli_demo") as conninfo,
            psycopg.connect(conninfo) as conn,
        ):
            assert conn.execute("SELECT count(*) FROM residents").fetchone() == (300,)


class TestBadSetUps:
    def test_a_port_in_use_is_one_line_and_nothing_starts(self, tmp_path):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            settings = {"LINLI_DATA_DIR": str(tmp_path), "LINLI_PORT": str(port)}
            answer = linli("demo", "--headless", "--duration", "5", settings=settings)
        assert answer.returncode != 0
        assert answer.stderr.count("\n") == 1
        assert f"port {port}" in answer.stderr
        assert "LINLI_PORT" in answer.stderr
        assert not (tmp_path / "postgres").exists()  # no database was started

    def test_a_data_directory_that_cannot_be_written_is_one_line(self, tmp_path):
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        settings = {"LINLI_DATA_DIR": str(blocker / "linli"), "LINLI_PORT": str(free_port())}
        answer = linli("demo", "--headless", "--duration", "5", settings=settings)
        assert answer.returncode != 0
        assert answer.stderr.count("\n") == 1
        assert "not writable" in answer.stderr
        assert "LINLI_DATA_DIR" in answer.stderr

    def test_an_unreachable_database_is_one_line(self, tmp_path):
        nowhere = f"postgresql://linli@127.0.0.1:{free_port()}/linli"
        settings = {
            "LINLI_DATA_DIR": str(tmp_path),
            "LINLI_PORT": str(free_port()),
            "LINLI_DATABASE_URL": nowhere,
        }
        answer = linli("demo", "--headless", "--duration", "5", settings=settings)
        assert answer.returncode != 0
        assert answer.stderr.count("\n") == 1
        assert "cannot reach the database" in answer.stderr

    def test_a_database_with_other_data_is_neither_seeded_nor_reset(
        self, tmp_path, db, database_url
    ):
        someone = resident(db, community(db))
        settings = {
            "LINLI_DATA_DIR": str(tmp_path),
            "LINLI_PORT": str(free_port()),
            "LINLI_DATABASE_URL": database_url,
        }
        for extra in ((), ("--reset",)):
            answer = linli("demo", "--headless", "--duration", "5", *extra, settings=settings)
            assert answer.returncode != 0
            assert answer.stderr.count("\n") == 1
            assert "did not seed" in answer.stderr
        assert db.execute("SELECT id FROM residents").fetchall() == [(someone,)]
