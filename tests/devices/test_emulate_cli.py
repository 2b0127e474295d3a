"""`linli emulate`: emulated homes served over HCI, as an operator runs them."""

from __future__ import annotations

import signal
import socket

from tests.processes import Running, linli


def test_it_lists_what_it_offers_and_runs_until_ctrl_c():
    with Running("emulate", "--homes=2", "--hci=tcp-server:127.0.0.1:0") as emulator:
        emulator.wait_for(r"^ready: gateways connect with --hci tcp-client:127\.0\.0\.1:\d+$")
        offered = [line.split() for line in emulator.lines if line.startswith("F0:")]
        assert [(words[0], words[1], words[-1]) for words in offered] == [
            ("F0:00:00:00:00:01", "blood_pressure", "EMU-BP-001"),
            ("F0:00:00:00:00:02", "glucose", "EMU-GL-001"),
            ("F0:00:00:00:00:03", "blood_pressure", "EMU-BP-002"),
            ("F0:00:00:00:00:04", "glucose", "EMU-GL-002"),
        ]
        emulator.process.send_signal(signal.SIGINT)
        assert emulator.process.wait(timeout=30) == 0, emulator.output()


def test_a_spec_it_cannot_serve_is_one_line():
    result = linli("emulate", "--hci", "tcp-client:127.0.0.1:9000")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "expected tcp-server:HOST:PORT" in result.stderr


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = linli("emulate", "--hci", f"tcp-server:127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "cannot listen on" in result.stderr
