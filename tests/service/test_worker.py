"""`linli worker`: detection jobs in a process of their own, beside an API that runs none."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx
import pytest

from tests.conftest import LiveServer
from tests.homes import alerts, glucose, make_home, start_of
from tests.processes import clean_env, linli_command


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_separate_worker_checks_what_the_api_stored(settings, db, stop):
    api_settings = settings.model_copy(update={"run_worker": False})
    env = clean_env({"LINLI_DATABASE_URL": settings.database_url or ""})
    with LiveServer(api_settings) as server, httpx.Client(base_url=server.url) as api:
        home = make_home(api_settings, db, api)
        home.upload(glucose(start_of(0.1), 2.6))
        time.sleep(1)
        assert alerts(db) == []  # the API itself checks nothing
        worker = subprocess.Popen(
            linli_command("worker"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not alerts(db) and time.monotonic() < deadline:
                time.sleep(0.2)  # the minute tick's sweep, or the job, finds the reading
        finally:
            worker.send_signal(stop)
            output, _ = worker.communicate(timeout=30)
    assert alerts(db) == [("glucose.hypo.level2", "critical", "open")], output
    assert worker.returncode == 0, output
    assert "worker stopped" in output
