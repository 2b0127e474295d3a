"""`linli collect --emulate` and `linli ble scan --emulate`, as an operator runs them."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.factories import assign, auth, community, count, new_gateway, resident, user_token
from tests.processes import Running, linli


def test_collect_from_two_emulated_homes_fills_what_the_read_api_returns(
    live_server, api, database_url, db, tmp_path: Path
):
    _, token = new_gateway(database_url, "demo gateway")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'service_url = "{live_server.url}"\ntoken = "{token}"\ndata_dir = "{tmp_path / "gw"}"\n'
        "scan_seconds = 0.5\n"
    )
    result = linli(
        "collect", "--config", str(config), "--emulate", "2", "--rounds", "1", timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "outbox: 0 readings pending, 0 dead letters" in result.stdout
    assert count(db, "blood_pressure_readings") == 14  # 7 days x 2 homes
    assert count(db, "glucose_readings") == 14
    mother = resident(db, community(db))
    assign(database_url, "EMU-GL-001", mother)
    admin = user_token(db, "admin")
    readings = api.get(
        f"/v1/residents/{mother}/readings",
        params={"kind": "glucose", "since": "2020-01-01T00:00:00Z"},
        headers=auth(admin),
    ).json()
    assert len(readings) == 7
    assert {r["device_serial"] for r in readings} == {"EMU-GL-001"}
    assert all(r["time_source"] == "device" for r in readings)


def test_scan_lists_the_emulated_devices():
    result = linli("ble", "scan", "--emulate", "2", "--seconds", "0.5", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted(line.split("  ", 1)[1] for line in result.stdout.splitlines())
    assert names == ["BP Monitor 1", "BP Monitor 2", "Glucose Meter 1", "Glucose Meter 2"]


def test_collect_with_a_broken_configuration_is_one_line(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text("service_url = 3\n")
    result = linli(
        "collect", "--config", str(config), "--emulate", "1", "--rounds", "1", timeout=180
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0


def test_collect_with_a_bad_hci_transport_is_one_line(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    base = f'service_url = "http://127.0.0.1:9"\ntoken = "lgw_x"\ndata_dir = "{tmp_path}"\n'
    config.write_text(base + '[bluetooth]\ntransport = "tcp-client:nowhere"\n')
    for args, words in [
        ([], "[bluetooth] transport: bad HCI transport 'tcp-client:nowhere'"),
        (["--hci", "bluetooth:0"], "--hci: unknown HCI transport 'bluetooth:0'"),
        (["--hci", "usb:0", "--emulate", "1"], "--emulate and --hci exclude each other"),
    ]:
        result = linli("collect", "--config", str(config), "--rounds", "1", *args, timeout=180)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().count("\n") == 0
        assert words in result.stderr


def test_collect_with_no_controller_at_the_hci_transport_is_one_line(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'service_url = "http://127.0.0.1:9"\ntoken = "lgw_x"\ndata_dir = "{tmp_path}"\n'
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nobody listens on it
    result = linli(
        "collect", "--config", str(config), "--hci", f"tcp-client:127.0.0.1:{port}", timeout=180
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "cannot open HCI transport" in result.stderr


def test_collect_stops_cleanly_on_sigterm(live_server, database_url, db, tmp_path: Path):
    # As `docker compose stop` or systemd stop it: the round under way ends, what is pending
    # is uploaded once more, and the outbox's state is the last line.
    _, token = new_gateway(database_url, "demo gateway")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'service_url = "{live_server.url}"\ntoken = "{token}"\ndata_dir = "{tmp_path / "gw"}"\n'
        "scan_seconds = 0.5\nsync_interval_seconds = 3600\n"
    )
    with Running("collect", "--config", str(config), "--emulate", "1") as collecting:
        collecting.wait_for(r"EMU-GL-001\): 7 new readings", seconds=180)
        assert collecting.stop(seconds=30) == 0, collecting.output()
        collecting.wait_for(r"outbox: 0 readings pending, 0 dead letters", seconds=10)
    assert count(db, "glucose_readings") == 7
