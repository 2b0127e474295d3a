"""`linli serve` and `linli worker` as separate processes deliver a real alert through the
fake Twilio, take the acknowledgement, and survive a worker killed in the middle of a send."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from service.settings import Settings
from tests.conftest import free_port
from tests.fake_twilio import FakeTwilio
from tests.homes import Home, bp, make_home
from tests.processes import Running
from tests.service.alerting_home import DAUGHTER, DOCTOR, SENDER, add_people


def process_settings(settings: Settings, twilio: FakeTwilio, port: int) -> dict[str, str]:
    return {
        "LINLI_DATABASE_URL": settings.database_url or "",
        "LINLI_PORT": str(port),
        "LINLI_RUN_WORKER": "false",
        "LINLI_TWILIO_ACCOUNT_SID": twilio.account_sid,
        "LINLI_TWILIO_AUTH_TOKEN": twilio.auth_token,
        "LINLI_TWILIO_FROM": SENDER,
        "LINLI_TWILIO_BASE_URL": twilio.url,
        "LINLI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LINLI_SEND_TIMEOUT_SECONDS": "2",
    }


def wait_until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)


class Service:
    """`linli serve` with no worker of its own, and a home uploading to it."""

    def __init__(self, settings: Settings, db: psycopg.Connection[Any], twilio: FakeTwilio):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = process_settings(settings, twilio, self.port)
        self.serve = Running("serve", settings=self.env)
        self.api = httpx.Client(base_url=self.url, timeout=30)
        wait_until(self._healthy, 60)
        self.home: Home = make_home(settings, db, self.api)
        add_people(db, self.home.resident_id)

    def _healthy(self) -> bool:
        if self.serve.process.poll() is not None:
            raise AssertionError(f"linli serve ended:\n{self.serve.output()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def close(self) -> None:
        self.api.close()
        self.serve.stop()


@pytest.fixture
def service(settings, db, twilio) -> Iterator[Service]:
    running = Service(settings, db, twilio)
    try:
        yield running
    finally:
        running.close()


def test_serve_and_a_worker_deliver_an_alert_and_take_its_acknowledgement(service, twilio, db):
    with Running("worker", settings=service.env) as worker:
        worker.wait_for("worker ready")
        service.home.upload(bp(datetime.now(UTC) - timedelta(minutes=1), 206, 124))
        uploaded = time.monotonic()
        sent = twilio.wait_for_messages(2, timeout=30)  # critical: the daughter and the doctor
        first = min(r.received for r in twilio.requests if r.path.endswith("Messages.json"))
        assert first - uploaded < 1.0  # the bound; bench/alert_latency.py measures it
        assert {m["to"] for m in sent} == {DAUGHTER, DOCTOR}
        assert all("206/124" in m["body"] for m in sent)
        answer = twilio.reply(f"{service.url}/v1/twilio/inbound", DAUGHTER, "1", to=SENDER)
        assert "谢谢" in answer.text
    state = db.execute("SELECT rule, state, acknowledged_via FROM alerts").fetchall()
    assert state == [("bp.crisis", "acknowledged", "sms")]
    statuses = db.execute(
        "SELECT status FROM notifications WHERE purpose = 'escalation' ORDER BY id"
    ).fetchall()
    assert statuses
    assert {s for (s,) in statuses} == {"cancelled"}


def test_a_worker_killed_mid_send_loses_nothing_and_doubles_nothing(service, twilio, db):
    twilio.stall_next(1, seconds=1.5, then_create=True)  # Twilio takes it, answers late
    sending = "SELECT count(*) FROM notifications WHERE status = 'sending'"
    with Running("worker", settings=service.env) as first:
        first.wait_for("worker ready")
        service.home.upload(bp(datetime.now(UTC) - timedelta(minutes=1), 206, 124))
        wait_until(lambda: db.execute(sending).fetchone() == (1,))
        time.sleep(0.3)  # the request is at Twilio
        first.kill()
    twilio.wait_for_messages(1)
    with Running("worker", settings=service.env) as second:
        second.wait_for("worker ready")
        settled = (
            "SELECT count(*) FROM notifications WHERE purpose = 'alert' AND provider_id IS NOT NULL"
        )
        wait_until(lambda: db.execute(settled).fetchone() == (2,), seconds=30)
    to = sorted(m["to"] for m in twilio.messages)
    assert to == sorted([DAUGHTER, DOCTOR])  # each once
    recorded = db.execute(
        "SELECT provider_id FROM notifications WHERE purpose = 'alert' ORDER BY provider_id"
    ).fetchall()
    assert [sid for (sid,) in recorded] == sorted(m["sid"] for m in twilio.messages)


def test_a_text_reported_undelivered_moves_on_at_once_not_at_the_next_tick(service, twilio):
    """The daughter's phone is off: Twilio reports her text undelivered to `linli serve`, and
    the worker calls her within seconds instead of at the next minute's tick."""
    twilio.final_status[DAUGHTER] = "undelivered"
    with Running("worker", settings=service.env) as worker:
        worker.wait_for("worker ready")
        service.home.upload(bp(datetime.now(UTC) - timedelta(minutes=1), 206, 124))
        twilio.wait_for_messages(2, timeout=30)

        def undelivered() -> list[float]:
            return [
                attempt.sent
                for attempt in twilio.callbacks
                if attempt.ok and attempt.params.get("MessageStatus") == "undelivered"
            ]

        wait_until(undelivered, 30)
        reported = undelivered()[0]
        (call,) = twilio.wait_for_calls(1, timeout=30)
        called = min(r.received for r in twilio.requests if r.path.endswith("Calls.json"))
    assert call["to"] == DAUGHTER
    assert called - reported < 10
