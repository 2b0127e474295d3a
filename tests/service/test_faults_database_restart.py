"""PostgreSQL stopped and started again under load: `linli serve` and `linli worker` run as
processes on a server of the test's own while a gateway keeps uploading. While the database
is away /ready and uploads answer 503 with a reason and the gateway's outbox keeps the
readings; once it is back both processes recover by themselves, without a restart: /ready
answers 200, uploads go through, and the worker checks a reading sent after the restart.

A fast shutdown ends every session cleanly; an immediate one is a crash of the server, which
replays its WAL when it starts again."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from service.embedded import ensure_database
from service.settings import Settings
from tests.conftest import free_port
from tests.effort import record, tries
from tests.homes import Home, bp, glucose, item, make_home
from tests.processes import Running, wait_until
from tests.service.faults import (
    RestartablePostgres,
    UploadingGateway,
    process_env,
    reading_key,
    serve,
    stored_keys,
    twice_or_more,
    upload,
)

TEST = "database_restart"
# How long the API may take to serve again once PostgreSQL is back, and the worker to check
# a reading sent then. Either takes a second or two; the bounds are loose because the
# machine running the tests is shared, yet the first is below what a pool left to back off
# (psycopg_pool's defaults) takes after an outage of half a minute: 20 s and more.
SERVING_SECONDS = 15
CHECKING_SECONDS = 30


def restarts() -> list[tuple[str, float]]:
    """The shutdown modes to go through, fast and immediate in turn, each with how long
    PostgreSQL then stays away besides the checks; the long variant ends with an outage
    long enough for a reconnecting pool's backoff to grow."""
    return [("fast", 0.0), ("immediate", 0.0)] * tries(1, 3) + [("fast", 30.0)] * tries(0, 1)


def checked(conninfo: str, at: datetime) -> bool:
    """True once the worker checked the resident's glucose reading measured `at`."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM readings_to_check WHERE kind = 'glucose' AND measured_at = %s",
            (at,),
        ).fetchone()
    return row == (0,)


def open_alerts(conninfo: str) -> list[tuple[str, str]]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return [
            (str(rule), str(state))
            for rule, state in conn.execute("SELECT rule, state FROM alerts ORDER BY id")
        ]


def test_serve_and_worker_recover_by_themselves_when_postgresql_restarts(tmp_path: Path):
    with RestartablePostgres() as postgres:
        ensure_database(postgres.conninfo(), "linli")
        url = postgres.conninfo("linli")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # A request waits 3 s for a connection before its 503 (10 s by default).
        env = process_env(url, port, LINLI_POOL_MAX_SIZE="4", LINLI_POOL_WAIT_SECONDS="3")
        with serve(env) as api_process, Running("worker", settings=env) as worker:
            worker.wait_for("worker ready")
            with psycopg.connect(url, autocommit=True) as db, httpx.Client(base_url=base) as api:
                home = make_home(Settings(database_url=url, data_dir=tmp_path), db, api)
            first = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

            def measured(n: int) -> dict[str, object]:
                return item(bp(first + timedelta(seconds=n), 118, 76))

            gateway = UploadingGateway(base, home.token, tmp_path / "outbox.db", measured)
            with gateway:
                gateway.wait_for_acknowledgements(50)
                for number, restart in enumerate(restarts()):
                    survive_a_restart(postgres, restart, number, base, url, home, gateway)
                    assert api_process.process.poll() is None, api_process.output()
                    assert worker.process.poll() is None, worker.output()
                gateway.drain(60)
            logs = {"worker": worker.output(last=10**6), "serve": api_process.output(last=10**6)}
        stored = stored_keys(url)
    for name, lines in logs.items():  # each failure one line: no traceback, no continuation
        storm = [line for line in lines.splitlines() if line[:1].isspace() or "Traceback" in line]
        assert storm == [], f"linli {name}:\n{lines}"
    assert "job worker: database unavailable" in logs["worker"]
    assert twice_or_more(stored) == []
    assert set(gateway.entered) <= set(stored)  # nothing the outbox took was lost
    # Besides: the two readings that registered the home's devices, each restart's critical one.
    assert len(stored) == len(gateway.entered) + 2 + len(restarts())
    record(TEST, "restarts survived", len(restarts()))
    record(TEST, "readings uploaded through the restarts", len(gateway.entered))


def survive_a_restart(
    postgres: RestartablePostgres,
    restart: tuple[str, float],
    number: int,
    base: str,
    url: str,
    home: Home,
    gateway: UploadingGateway,
) -> None:
    """Stop PostgreSQL (mode, seconds away), see the service say so, start it again, see
    it recover."""
    mode, away = restart
    postgres.stop(mode)
    kept = gateway.pending
    with ThreadPoolExecutor(2) as both:
        asked = both.submit(httpx.get, f"{base}/ready", timeout=30)
        sent = both.submit(upload, base, home.token, item(glucose(datetime.now(UTC), 5.5)))
        ready, refused = asked.result(), sent.result()
    assert ready.status_code == 503, ready.text
    assert ready.json()["reason"].startswith("database unreachable"), ready.text
    assert refused.status_code == 503, refused.text
    assert refused.json()["detail"].startswith("database unavailable"), refused.text
    assert gateway.pending > kept  # the outbox keeps what cannot be sent
    time.sleep(away)

    postgres.start()
    started = time.monotonic()
    if away:
        mode = f"{mode} (away {away:.0f} s)"
    wait_until(lambda: httpx.get(f"{base}/ready", timeout=30).status_code == 200, SERVING_SECONDS)
    record(TEST, f"seconds to ready after a {mode} restart", time.monotonic() - started)
    critical = glucose(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1), 2.6)
    wait_until(lambda: upload(base, home.token, item(critical)).status_code == 200, SERVING_SECONDS)
    record(TEST, f"seconds to the first upload after a {mode} restart", time.monotonic() - started)
    wait_until(lambda: checked(url, critical.measured_at), CHECKING_SECONDS)
    record(TEST, f"seconds to a checked reading after a {mode} restart", time.monotonic() - started)
    if number == 0:
        assert ("glucose.hypo.level2", "open") in open_alerts(url)
    wait_until(gateway.caught_up, CHECKING_SECONDS)
    assert reading_key(item(critical)) in stored_keys(url)
