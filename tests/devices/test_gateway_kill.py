"""A gateway process killed with SIGKILL in the middle of a glucose meter's download, then
started again: the service ends with exactly the meter's records, none lost, none twice.

The meter lives in another process (`linli emulate`), reached over HCI on TCP as a real
gateway reaches its USB dongle, so the kill takes the gateway and nothing else.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from devices.outbox import DEFAULT_MAX_PENDING
from tests.factories import new_gateway
from tests.processes import Running, linli

RECORDS = 300
# Slow enough to be killed in the middle, fast enough for the whole download to take ~6 s.
RECORD_INTERVAL = 0.02
KILL_AFTER = 120  # records sent when the gateway dies: past a chunk or two of the outbox


def gateway_toml(tmp_path: Path, service_url: str, token: str, hci: str, meter: str) -> Path:
    """A gateway that reads only the meter, through the emulator's controller."""
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'service_url = "{service_url}"\ntoken = "{token}"\ndata_dir = "{tmp_path / "gw"}"\n'
        f'scan_seconds = 1.0\n[bluetooth]\ntransport = "{hci}"\n'
        f'[[devices]]\naddress = "{meter}"\n'
    )
    return config


def test_a_gateway_killed_mid_download_loses_nothing_and_doubles_nothing(
    live_server, database_url, db, tmp_path: Path
):
    _, token = new_gateway(database_url, "王家")
    with Running(
        "emulate",
        "--homes=1",
        f"--records={RECORDS}",
        f"--record-interval={RECORD_INTERVAL}",
        "--hci=tcp-server:127.0.0.1:0",
    ) as emulator:
        hci = emulator.wait_for(r"^ready: gateways connect with --hci (\S+)$")[1]
        [meter] = [line.split()[0] for line in emulator.lines if " glucose " in line]
        config = gateway_toml(tmp_path, live_server.url, token, hci, meter)

        with Running("collect", "--config", str(config), "--rounds=1") as first:
            emulator.wait_for(
                rf"Glucose Meter 1: sent (\d+) of {RECORDS} records",
                accept=lambda sent: int(sent[1]) >= KILL_AFTER,
                meanwhile=first.process,
            )
            os.kill(first.process.pid, signal.SIGKILL)
            assert first.process.wait(timeout=30) == -signal.SIGKILL

        second = linli("collect", "--config", str(config), "--rounds=1")
        assert second.returncode == 0, second.stderr[-3000:]
        assert "outbox: 0 readings pending, 0 dead letters" in second.stdout
        assert emulator.stop() == 0, emulator.output()

    sequences = db.execute(
        """SELECT g.sequence_number FROM glucose_readings g JOIN devices d ON d.id = g.device_id
           WHERE d.serial = 'EMU-GL-001' ORDER BY 1"""
    ).fetchall()
    numbers = [row[0] for row in sequences]
    assert (len(numbers), len(set(numbers))) == (RECORDS, RECORDS)  # none lost, none twice
    assert numbers == list(range(1, RECORDS + 1))
    outbox = linli("outbox", "--config", str(config))
    assert outbox.returncode == 0, outbox.stderr
    assert outbox.stdout.splitlines()[:2] == [
        f"pending: 0 of at most {DEFAULT_MAX_PENDING}",
        "dead letters: 0",
    ]
