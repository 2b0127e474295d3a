"""`linli outbox`: an operator sees what waits and what the service refused."""

from __future__ import annotations

import json
from pathlib import Path

from devices.outbox import Outbox
from tests.factories import glucose
from tests.processes import linli


def test_pending_and_dead_letters_are_shown(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'service_url = "http://127.0.0.1:9"\ntoken = "lgw_x"\ndata_dir = "{tmp_path}"\n'
        "max_pending = 3\n"
    )
    with Outbox(tmp_path / "outbox.sqlite3", max_pending=4) as box:
        box.record([glucose(sequence=i) for i in range(1, 5)])
        refused = box.next_batch(1)[0]
        box.settle([], {refused.id: "concentration: outside what a meter measures"})
    result = linli("outbox", "--config", str(config), "--dead-letters", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "pending: 3 of at most 3  (nearly full: is the service reachable?)"
    assert lines[1] == "dead letters: 1"
    letter = json.loads(lines[2])
    assert letter["reason"] == "concentration: outside what a meter measures"
    assert letter["reading"]["sequence_number"] == 1


def test_a_broken_configuration_is_one_line(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text('service_url = "http://x"\n')
    result = linli("outbox", "--config", str(config), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "token" in result.stderr
