"""`linli serve` killed with SIGKILL while a gateway uploads, and started again, round after
round. The gateway is the real one: its SQLite outbox and its uploader, retrying through
every kill.

Half the kills land at a random moment of an upload (before its commit, mostly: storing is
most of an upload's time); the other half just after an upload's commit became visible,
before its answer went out: the gateway never hears that the batch was stored, sends it
again, and must be answered `duplicate`. At the end every reading that entered the outbox
is stored exactly once, every reading the service acknowledged among them, and the outbox
is empty."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devices.outbox import Outbox
from tests.conftest import free_port
from tests.effort import record, tries
from tests.factories import BASE_TIME, blood_pressure, glucose, new_gateway
from tests.processes import Running
from tests.service.faults import (
    Item,
    UploadingGateway,
    process_env,
    serve,
    stored_keys,
    twice_or_more,
)

TEST = "api_kill"
TABLES = {"blood_pressure": "blood_pressure_readings", "glucose": "glucose_readings"}


def measured(n: int) -> dict[str, Any]:
    """The n-th reading of the home: a monitor's and a meter's in turn, a second apart."""
    at = (BASE_TIME + timedelta(seconds=n)).isoformat()
    if n % 2:
        return glucose("GL-KILL", sequence=n, measured_at=at)
    return blood_pressure("BP-KILL", sequence_number=n, measured_at=at)


def is_stored(conn: psycopg.Connection[Any], item: Item) -> bool:
    """True once the reading's batch committed."""
    row = conn.execute(
        sql.SQL(
            """SELECT 1 FROM {} r JOIN devices d ON d.id = r.device_id
               WHERE d.serial = %s AND r.user_index = 255 AND r.sequence_number = %s
                 AND r.measured_at = %s"""
        ).format(sql.Identifier(TABLES[item["kind"]])),
        (item["device_serial"], item["sequence_number"], item["measured_at"]),
    ).fetchone()
    return row is not None


def kill_at_random(api: Running, gateway: UploadingGateway, rng: random.Random) -> None:
    """Kill the API at a random moment of an upload (or just after it)."""
    typical = statistics.median(gateway.elapsed[-20:])
    gateway.sending.clear()
    assert gateway.sending.wait(30), "the gateway sends nothing"
    time.sleep(rng.uniform(0, 1.5 * typical))
    api.kill()


def kill_after_a_commit(api: Running, gateway: UploadingGateway, conninfo: str) -> bool:
    """Kill the API as soon as an upload's readings are stored; True when the gateway had
    not read the answer by then (it may still arrive: the figure of resends answered
    `duplicate` tells how many were lost)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        gateway.sending.clear()
        assert gateway.sending.wait(30), "the gateway sends nothing"
        first = gateway.last_sent[0]
        deadline = time.monotonic() + 30
        while gateway.sending.is_set() and not is_stored(conn, first):
            assert time.monotonic() < deadline, "an upload neither stored nor answered"
        api.kill()
        return gateway.sending.is_set()


def test_an_api_killed_mid_upload_loses_nothing_and_doubles_nothing(database_url, tmp_path: Path):
    rounds = tries(4, 40)
    rng = random.Random()
    _, token = new_gateway(database_url, "李家")
    port = free_port()
    env = process_env(database_url, port, LINLI_POOL_MAX_SIZE="4")
    outbox = tmp_path / "outbox.db"
    url = f"http://127.0.0.1:{port}"
    gateway = UploadingGateway(url, token, outbox, measured, per_tick=2, batch_size=40)
    unanswered = 0
    api = serve(env)
    try:
        with gateway:
            for number in range(rounds):
                gateway.wait_for_acknowledgements()  # the API serves the gateway
                if number % 2:
                    unanswered += kill_after_a_commit(api, gateway, database_url)
                else:
                    kill_at_random(api, gateway, rng)
                api = serve(env)
            gateway.drain(120)
    finally:
        api.stop()

    stored = stored_keys(database_url)
    assert twice_or_more(stored) == []
    assert len(stored) == len(gateway.entered)
    assert set(stored) == set(gateway.entered)  # nothing lost, nothing that was not measured
    assert set(gateway.acknowledged) <= set(stored)
    with Outbox(outbox) as left:
        stats = left.stats()
    assert (stats.pending, stats.dead_letters) == (0, 0)
    record(TEST, "kills survived", rounds)
    record(TEST, "kills just after a commit, its answer unread", unanswered)
    record(TEST, "resent readings answered duplicate", gateway.results["duplicate"])
    record(TEST, "readings checked", len(stored))
