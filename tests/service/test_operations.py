"""What an operator watches: /health, /ready and /metrics on a real database, and the log
lines of `linli serve` and `linli worker` in JSON."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from service.logs import formatter
from service.migrate import load_migrations, migrate
from service.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.factories import auth, blood_pressure, glucose, new_gateway
from tests.processes import Running, linli
from tests.service.alerting_home import DAUGHTER, urgent_pressure

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(api: httpx.Client) -> Samples:
    """Every sample GET /metrics answers, by name and labels."""
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def wait_until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.2)


@pytest.fixture
def unreachable(server_conninfo: str, settings: Settings) -> Iterator[Any]:
    """A switch that makes the test database refuse connections, and lets them in again."""
    name = conninfo_to_dict(settings.database_url or "")["dbname"]

    def refuse(refused: bool) -> None:
        with psycopg.connect(server_conninfo, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                    sql.Identifier(str(name)), sql.Literal(not refused)
                )
            )
            if refused:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )

    yield refuse
    refuse(False)


class TestHealthAndReady:
    def test_health_is_ok(self, api):
        answer = api.get("/health")
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok"}

    def test_ready_on_a_migrated_database_names_the_mode(self, api):
        answer = api.get("/ready")
        assert answer.status_code == 200
        assert answer.json() == {
            "status": "ready",
            "database": "postgresql",
            "embedded": False,
            "pending_migrations": [],
            "reason": None,
        }

    def test_not_ready_while_migrations_are_pending(self, empty_database_url, tmp_path):
        settings = Settings(
            database_url=empty_database_url,
            data_dir=tmp_path,
            migrate_on_start=False,
            run_worker=False,
        )
        with (
            LiveServer(settings) as server,
            httpx.Client(base_url=server.url, timeout=30) as api,
        ):
            answer = api.get("/ready")
            assert answer.status_code == 503
            body = answer.json()
            names = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
            assert body["status"] == "unavailable"
            assert body["database"] == "postgresql"
            assert body["pending_migrations"] == names
            assert "migrations pending" in body["reason"]
            assert "0001_people" in body["reason"]
            assert api.get("/health").status_code == 200  # alive all the same

            asyncio.run(migrate(empty_database_url))
            assert api.get("/ready").status_code == 200

    def test_database_out_of_reach(self, settings, unreachable):
        quiet = settings.model_copy(update={"run_worker": False})
        with (
            LiveServer(quiet) as server,
            httpx.Client(base_url=server.url, timeout=30) as api,
        ):
            assert api.get("/ready").status_code == 200
            unreachable(True)

            alive = api.get("/health")
            assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
            answer = api.get("/ready")
            assert answer.status_code == 503
            assert answer.json()["reason"].startswith("database unreachable")
            assert answer.json()["database"] is None
            samples = scrape(api)
            assert value(samples, "linli_database_up") == 0
            assert ("process_resident_memory_bytes", frozenset()) in samples
            assert (
                value(samples, "linli_readings_ingested_total", kind="glucose", outcome="accepted")
                == 0
            )
            assert not any(name == "linli_alerts_open" for name, _ in samples)

            unreachable(False)
            wait_until(lambda: api.get("/ready").status_code == 200)
            assert value(scrape(api), "linli_database_up") == 1


class TestMetrics:
    def test_readings_are_counted_by_kind_and_outcome(self, settings, api):
        _, token = new_gateway(settings.database_url or "")
        before = scrape(api)
        first = api.post(
            "/v1/readings",
            headers=auth(token),
            json={
                "readings": [
                    *(blood_pressure("BP-1", minutes=m) for m in range(3)),
                    *(glucose("GL-1", sequence=n, minutes=n) for n in (1, 2)),
                    glucose("GL-1", sequence=9, unit="stones"),
                    {"kind": "thermometer", "device_serial": "T-1"},
                ]
            },
        ).json()
        assert (first["accepted"], first["duplicates"], first["rejected"]) == (5, 0, 2)
        second = api.post(
            "/v1/readings",
            headers=auth(token),
            json={
                "readings": [
                    *(blood_pressure("BP-1", minutes=m) for m in range(2)),
                    blood_pressure("GL-1", minutes=5),  # a meter's serial: rejected
                    glucose("GL-1", sequence=3, minutes=3),
                ]
            },
        ).json()
        assert (second["accepted"], second["duplicates"], second["rejected"]) == (1, 2, 1)
        refused = api.post("/v1/readings", headers=auth("lgw_nobody"), json={"readings": []})
        assert refused.status_code == 401
        after = scrape(api)

        def added(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        counted = "linli_readings_ingested_total"
        assert added(counted, kind="blood_pressure", outcome="accepted") == 3
        assert added(counted, kind="blood_pressure", outcome="duplicate") == 2
        assert added(counted, kind="blood_pressure", outcome="rejected") == 1
        assert added(counted, kind="glucose", outcome="accepted") == 3
        assert added(counted, kind="glucose", outcome="duplicate") == 0
        assert added(counted, kind="glucose", outcome="rejected") == 1
        assert added(counted, kind="unknown", outcome="rejected") == 1
        assert added("linli_ingest_duration_seconds_count") == 3  # the refused one too
        assert added("linli_ingest_duration_seconds_sum") > 0

    def test_alerts_and_the_outbox_are_read_from_the_database(self, household):
        h = household
        api = h.home.api
        quiet = scrape(api)
        assert value(quiet, "linli_database_up") == 1
        assert value(quiet, "linli_alerts_open", severity="urgent") == 0
        assert value(quiet, "linli_outbox_notifications", status="pending") == 0

        # Detection and delivery run outside the server (as `linli worker` would): what the
        # server reports comes from the database, not from its own counting.
        noticed = urgent_pressure(h)
        opened = scrape(api)
        assert value(opened, "linli_alerts_open", severity="urgent") == 1
        for severity in ("info", "warning", "critical"):
            assert value(opened, "linli_alerts_open", severity=severity) == 0
        # The daughter's SMS now, the doctor's in 15 minutes unless she acknowledges.
        assert value(opened, "linli_outbox_notifications", status="pending") == 2
        assert value(opened, "linli_outbox_notifications", status="sending") == 0

        assert h.deliver(noticed) == 1
        h.reply(DAUGHTER, "1")  # acknowledged: the doctor's message is cancelled
        h.twilio.wait_for_callbacks(2)
        settled = scrape(api)
        assert value(settled, "linli_outbox_notifications", status="pending") == 0
        assert value(settled, "linli_notifications", status="delivered") == 1
        assert value(settled, "linli_notifications", status="cancelled") == 1
        assert value(settled, "linli_notifications", status="failed") == 0
        assert value(settled, "linli_alerts_open", severity="urgent") == 1  # not resolved yet


def json_lines(process: Running) -> list[dict[str, Any]]:
    """Every line the process wrote so far, each parsed as one JSON object."""
    process.output()
    records = [json.loads(line) for line in process.lines]
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert datetime.fromisoformat(record["time"]).tzinfo is not None
        assert "color_message" not in record
    return records


class TestLogs:
    def test_serve_and_worker_write_json_lines(self, database_url):
        port = free_port()
        env = {
            "LINLI_DATABASE_URL": database_url,
            "LINLI_PORT": str(port),
            "LINLI_RUN_WORKER": "false",
            "LINLI_LOG_FORMAT": "json",
        }
        with Running("serve", settings=env) as serve:
            serve.wait_for(r'"message":"Linli ready')
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
            serve.wait_for(r"GET /health")
            records = json_lines(serve)
        by_logger = {record["logger"]: record for record in records}
        assert by_logger["service.app"]["level"] == "INFO"
        assert "GET /health" in by_logger["uvicorn.access"]["message"]
        assert "uvicorn.error" in by_logger  # uvicorn's own lines are JSON too

        with Running("worker", settings=env) as worker:
            worker.wait_for("worker ready")
            assert any("worker ready" in r["message"] for r in json_lines(worker))

    def test_an_exception_comes_with_its_traceback(self):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter("json"))
        log = logging.getLogger("tests.operations")
        log.addHandler(handler)
        try:
            try:
                _ = 1 / 0
            except ZeroDivisionError:
                log.exception("could not divide")
        finally:
            log.removeHandler(handler)
        (line,) = stream.getvalue().splitlines()
        record = json.loads(line)
        assert record["message"] == "could not divide"
        assert record["level"] == "ERROR"
        assert "ZeroDivisionError: division by zero" in record["exception"]

    def test_text_is_the_default_and_the_case_does_not_matter(self, tmp_path: Path):
        assert Settings(data_dir=tmp_path).log_format == "text"
        assert Settings(data_dir=tmp_path, log_format="JSON").log_format == "json"

    def test_an_unknown_format_is_refused_in_one_line(self, tmp_path):
        settings = {"LINLI_DATA_DIR": str(tmp_path), "LINLI_LOG_FORMAT": "yaml"}
        result = linli("serve", settings=settings)
        assert result.returncode == 2
        assert result.stderr.strip().count("\n") == 0
        assert "LINLI_LOG_FORMAT" in result.stderr
        assert "'text' or 'json'" in result.stderr
