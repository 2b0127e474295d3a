"""The uploader against a real Linli service on the embedded database."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from devices.outbox import Outbox
from devices.uploader import Backoff, ServiceUnavailable, TokenRefused, Uploader
from service.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.factories import auth, blood_pressure, count, glucose, new_gateway, revoke


@pytest.fixture
def token(database_url: str) -> str:
    return new_gateway(database_url)[1]


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        yield box


def upload(url: str, outbox: Outbox, token: str, **options: object):
    async def main():
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            return await Uploader(outbox, client, token, **options).upload_pending()

    return asyncio.run(main())


class TestDelivery:
    def test_everything_pending_reaches_the_database_once(self, live_server, outbox, token, db):
        outbox.record([blood_pressure(minutes=i) for i in range(700)])
        outbox.record([glucose(sequence=i, minutes=i) for i in range(1, 501)])
        report = upload(live_server.url, outbox, token, batch_size=300)
        assert report.delivered == 1200
        assert outbox.stats().pending == 0
        assert count(db, "blood_pressure_readings") == 700
        assert count(db, "glucose_readings") == 500

    def test_readings_the_service_already_has_leave_the_outbox(
        self, live_server, api, outbox, token, db
    ):
        readings = [glucose(sequence=i, minutes=i) for i in range(1, 11)]
        # The service stored them, but the gateway died before it could forget them.
        api.post("/v1/readings", json={"readings": readings[:6]}, headers=auth(token))
        outbox.record(readings)
        report = upload(live_server.url, outbox, token)
        assert report.delivered == 10
        assert outbox.stats().pending == 0
        assert count(db, "glucose_readings") == 10

    def test_a_refused_reading_becomes_a_dead_letter_and_the_rest_go_on(
        self, live_server, outbox, token, db
    ):
        bad = glucose(sequence=2, unit="mg/dL", concentration=90_000)
        outbox.record([glucose(sequence=1), bad, glucose(sequence=3, minutes=3)])
        report = upload(live_server.url, outbox, token)
        assert (report.delivered, report.refused) == (2, 1)
        [dead] = outbox.dead_letters()
        assert dead.item["sequence_number"] == 2
        assert "outside what a meter measures" in dead.reason
        assert count(db, "glucose_readings") == 2

    def test_bad_device_metadata_does_not_hold_back_the_readings(
        self, live_server, outbox, token, db
    ):
        report = {"serial": "GL-1", "kind": "glucose", "battery_percent": 400}
        outbox.record([glucose(sequence=1)], device_report=report)
        assert upload(live_server.url, outbox, token).delivered == 1
        assert outbox.dead_letters() == []
        assert count(db, "glucose_readings") == 1

    def test_batches_too_large_for_the_service_are_made_smaller(
        self, outbox, token, database_url, tmp_path, db
    ):
        settings = Settings(database_url=database_url, data_dir=tmp_path, max_batch_readings=40)
        outbox.record([blood_pressure(minutes=i) for i in range(100)])
        with LiveServer(settings) as server:
            assert upload(server.url, outbox, token, batch_size=100).delivered == 100
        assert count(db, "blood_pressure_readings") == 100


class TestHeartbeat:
    def test_a_gateway_with_nothing_to_send_is_still_heard_from(
        self, live_server, outbox, database_url, db
    ):
        gateway_id, token = new_gateway(database_url, "quiet home")

        async def main() -> None:
            async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
                uploader = Uploader(outbox, client, token)
                wake = asyncio.Event()
                task = asyncio.create_task(uploader.run(wake, idle_seconds=0.05))
                for _ in range(200):
                    row = db.execute(
                        "SELECT last_seen_at FROM gateways WHERE id = %s", (gateway_id,)
                    ).fetchone()
                    if row[0] is not None:
                        break
                    await asyncio.sleep(0.05)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        asyncio.run(main())
        seen = db.execute("SELECT last_seen_at FROM gateways WHERE id = %s", (gateway_id,))
        assert seen.fetchone()[0] is not None

    def test_a_heartbeat_with_a_revoked_token_is_refused(self, api, database_url):
        gateway_id, token = new_gateway(database_url)
        assert api.post("/v1/heartbeat", headers=auth(token)).status_code == 204
        revoke(database_url, gateway_id)
        assert api.post("/v1/heartbeat", headers=auth(token)).status_code == 401


class TestServiceAway:
    def test_nothing_is_lost_while_the_service_is_unreachable(self, settings, outbox, token, db):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        outbox.record([glucose(sequence=i, minutes=i) for i in range(1, 51)])
        with pytest.raises(ServiceUnavailable):
            upload(url, outbox, token)
        assert outbox.stats().pending == 50
        with LiveServer(settings, port):
            assert upload(url, outbox, token).delivered == 50
        assert count(db, "glucose_readings") == 50

    def test_run_backs_off_and_delivers_when_the_service_returns(self, settings, outbox, token, db):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        outbox.record([blood_pressure(minutes=i) for i in range(20)])
        waits: list[float] = []

        async def main() -> None:
            server = LiveServer(settings, port)

            async def sleep(seconds: float) -> None:
                waits.append(seconds)
                if len(waits) == 3:  # the service comes back after the third failure
                    await asyncio.to_thread(server.__enter__)
                await asyncio.sleep(0)

            async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                backoff = Backoff(base_seconds=1, max_seconds=60, rng=random.Random(7))
                uploader = Uploader(outbox, client, token, backoff=backoff, sleep=sleep)
                wake = asyncio.Event()
                task = asyncio.create_task(uploader.run(wake, idle_seconds=0.05))
                while outbox.stats().pending and not task.done():  # noqa: ASYNC110 - polls a file
                    await asyncio.sleep(0.05)
                task.cancel()
            await asyncio.to_thread(server.__exit__)

        asyncio.run(main())
        assert outbox.stats().pending == 0
        assert count(db, "blood_pressure_readings") == 20
        assert len(waits) >= 3
        assert [w <= c for w, c in zip(waits[:3], (1, 2, 4), strict=True)] == [True] * 3

    def test_a_revoked_token_keeps_everything_for_the_operator(self, live_server, outbox, db):
        outbox.record([glucose(sequence=1)])
        with pytest.raises(TokenRefused, match="refuses this gateway's token"):
            upload(live_server.url, outbox, "lgw_" + "0" * 43)
        assert outbox.stats().pending == 1
        assert outbox.dead_letters() == []


class TestBackoff:
    def test_delays_grow_exponentially_up_to_the_cap_with_jitter(self):
        backoff = Backoff(base_seconds=2, max_seconds=30, rng=random.Random(1))
        delays = [backoff.next_delay() for _ in range(8)]
        ceilings = [2, 4, 8, 16, 30, 30, 30, 30]
        assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
        assert len(set(delays)) == len(delays)  # jittered, so gateways do not retry in step
        backoff.reset()
        assert backoff.next_delay() <= 2


UPLOAD_FOREVER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    import httpx
    from devices.outbox import Outbox
    from devices.uploader import Uploader

    async def main():
        with Outbox(Path(sys.argv[1])) as outbox:
            async with httpx.AsyncClient(base_url=sys.argv[2], timeout=30) as client:
                await Uploader(outbox, client, sys.argv[3], batch_size=50).upload_pending()

    asyncio.run(main())
    """
)


def test_killed_in_the_middle_of_uploads_loses_and_doubles_nothing(
    live_server, token, tmp_path, db
):
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as outbox:
        outbox.record([blood_pressure(minutes=i) for i in range(4000)])
    rng = random.Random(2026)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(4):
        stored = count(db, "blood_pressure_readings")
        worker = subprocess.Popen(
            [sys.executable, "-c", UPLOAD_FOREVER, str(path), live_server.url, token], env=env
        )
        deadline = time.monotonic() + 30
        while count(db, "blood_pressure_readings") == stored and time.monotonic() < deadline:
            time.sleep(0.005)  # kill only once this worker is uploading
        time.sleep(rng.uniform(0, 0.05))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    with Outbox(path) as outbox:
        left = outbox.stats().pending
        assert 0 < left < 4000, "the kills should land in the middle of the uploads"
        upload(live_server.url, outbox, token)
        assert outbox.stats().pending == 0
        assert outbox.dead_letters() == []
    assert count(db, "blood_pressure_readings") == 4000
