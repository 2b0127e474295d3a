"""The homes of `bench.alert_latency`: residents with a monitor, a gateway and a family contact
(measured), homes that only upload ordinary readings (background load), and their uploads."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg

from bench._servers import BenchError
from service.admin.devices import assign_device
from service.admin.gateways import create_gateway
from tests.fake_twilio import FakeTwilio

DOCTOR_PHONE = "+8613911112222"
LOAD_BATCH = 20  # readings per background upload
_SENDERS = 4  # concurrent background uploads at most
_LOAD_START = timedelta(hours=6)  # background readings start this long before the run
_LOAD_ROOM = timedelta(minutes=5)  # and never come closer to now than this
_SETTLE_SECONDS = 2.0  # the background load runs this long before the first measurement
_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class BenchHome:
    """One home: its gateway's token, its monitor, the family contact's mobile (if any)."""

    token: str
    serial: str
    phone: str | None


def contact_phone(index: int) -> str:
    """A unique, valid Chinese mobile number (+86 138...) for measured resident `index`."""
    return f"+86138{10_000_000 + index:08d}"


async def _insert_id(
    conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...]
) -> int:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _add_home(
    conn: psycopg.AsyncConnection[Any], community: int, label: str, phone: str | None
) -> BenchHome:
    """A resident, their gateway and assigned blood-pressure monitor, and their contact."""
    resident = await _insert_id(
        conn,
        """INSERT INTO residents (name, sex, birth_date, conditions, community_id)
           VALUES (%s, 'female', '1946-05-01', '{hypertension}', %s) RETURNING id""",
        (f"bench {label}", community),
    )
    gateway, token = await create_gateway(conn, f"bench {label}")
    serial = f"BENCH-{label}-BP"
    # As if the gateway had reported the monitor; then assigned like an admin does.
    await conn.execute(
        "INSERT INTO devices (serial, kind, gateway_id) VALUES (%s, 'blood_pressure', %s)",
        (serial, gateway.id),
    )
    await assign_device(conn, serial, 255, resident)
    if phone is not None:
        await conn.execute(
            """INSERT INTO contacts (resident_id, name, kind, phone, escalation_order)
               VALUES (%s, %s, 'family', %s, 1)""",
            (resident, f"family of {label}", phone),
        )
    return BenchHome(token, serial, phone)


Homes = tuple[list[BenchHome], list[BenchHome]]  # the measured ones, the background ones


async def _create(conninfo: str, residents: int, load_homes: int) -> Homes:
    async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
        community = await _insert_id(
            conn, "INSERT INTO communities (name) VALUES ('bench community') RETURNING id", ()
        )
        doctor = await _insert_id(
            conn,
            """INSERT INTO users (username, display_name, role, phone)
               VALUES ('bench.doctor', 'bench doctor', 'doctor', %s) RETURNING id""",
            (DOCTOR_PHONE,),
        )
        await conn.execute("INSERT INTO user_communities VALUES (%s, %s)", (doctor, community))
        measured = [
            await _add_home(conn, community, f"R{i:04d}", contact_phone(i))
            for i in range(residents)
        ]
        background = [
            await _add_home(conn, community, f"L{i:04d}", None) for i in range(load_homes)
        ]
    return measured, background


def create_homes(conninfo: str, residents: int, load_homes: int) -> Homes:
    """One community with its doctor; `residents` measured homes and `load_homes` others."""
    return asyncio.run(_create(conninfo, residents, load_homes))


def _reading(
    serial: str, at: datetime, systolic: int, diastolic: int, pulse: int
) -> dict[str, Any]:
    return {
        "kind": "blood_pressure",
        "device_serial": serial,
        "measured_at": at.isoformat(),
        "unit": "mmHg",
        "systolic": systolic,
        "diastolic": diastolic,
        "pulse": pulse,
    }


def crisis_body(home: BenchHome, rng: random.Random) -> bytes:
    """One hypertensive-crisis reading (205-215/125 mmHg) measured a minute ago."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    reading = _reading(home.serial, at, rng.randint(205, 215), 125, rng.randint(80, 95))
    return orjson.dumps({"readings": [reading]})


def headers(token: str) -> dict[str, str]:
    """A gateway's headers."""
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def check_answer(response: httpx.Response, sent: int) -> None:
    """Every reading of the upload must come back accepted."""
    if response.status_code != 200:
        raise BenchError(f"POST /v1/readings: {response.status_code} {response.text[:300]}")
    accepted = orjson.loads(response.content)["accepted"]
    if accepted != sent:
        raise BenchError(f"{accepted} of {sent} readings accepted: {response.text[:300]}")


class BackgroundLoad:
    """Homes uploading batches of ordinary readings at a target rate, on a thread of its own.

    Upload k goes out at start + k * batch / rate (at most `_SENDERS` at a time; late ones
    go out at once), from the homes in turn; each home's readings are a second apart,
    starting six hours ago.
    """

    def __init__(self, url: str, homes: list[BenchHome], rate: float, seed: int) -> None:
        self.url, self.homes, self.interval = url, homes, LOAD_BATCH / rate
        self.rng = random.Random(seed)
        self.base = datetime.now(UTC).replace(microsecond=0) - _LOAD_START
        self.sent = [0] * len(homes)  # readings each home uploaded so far
        self.accepted = 0
        self.started = self.stopped = 0.0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._slots = itertools.count()
        self._thread = threading.Thread(target=self._run, name="background-load", daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Stop uploading (uploads under way finish); raise what made the load fail."""
        self._stop.set()
        self._thread.join()
        self.check()

    def check(self) -> None:
        """Raise what made the load fail, if it did."""
        if isinstance(self.error, BenchError):
            raise self.error
        if self.error is not None:
            raise BenchError(f"the background load failed: {self.error!r}") from self.error

    @property
    def rate(self) -> float:
        """Readings per second accepted while the load ran."""
        seconds = (self.stopped or time.monotonic()) - self.started
        return self.accepted / seconds if seconds > 0 else 0.0

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by check() in the main thread
            self.error = exc
        finally:
            self.stopped = time.monotonic()
            self._stop.set()

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=_SENDERS)
        async with httpx.AsyncClient(base_url=self.url, timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._sender(http) for _ in range(_SENDERS)))

    async def _sender(self, http: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            slot = next(self._slots)  # one event loop: never interleaves
            delay = self.started + slot * self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._stop.is_set():
                return
            home = slot % len(self.homes)
            body = self._body(home)
            response = await http.post(
                "/v1/readings", content=body, headers=headers(self.homes[home].token)
            )
            check_answer(response, LOAD_BATCH)
            self.accepted += LOAD_BATCH

    def _body(self, home: int) -> bytes:
        """The home's next batch: ordinary readings (120-135/75-85 mmHg), a second apart."""
        first, self.sent[home] = self.sent[home], self.sent[home] + LOAD_BATCH
        last = self.base + timedelta(seconds=first + LOAD_BATCH)
        if last > datetime.now(UTC) - _LOAD_ROOM:
            raise BenchError("the background homes ran out of past timestamps: add --load-homes")
        r = self.rng
        readings = [
            _reading(
                self.homes[home].serial,
                self.base + timedelta(seconds=first + i),
                r.randint(120, 135),
                r.randint(75, 85),
                r.randint(62, 80),
            )
            for i in range(LOAD_BATCH)
        ]
        return orjson.dumps({"readings": readings})


# -- measuring


@dataclass(frozen=True)
class Pace:
    """How the measurement goes: background readings/s, mean pause and longest wait (s)."""

    load_rate: float
    pause: float
    wait: float
    seed: int


class SmsWatch:
    """When the fake Twilio first received a POST of an SMS to each number."""

    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake
        self.first: dict[str, float] = {}
        self._seen = 0

    def received(self, number: str) -> float | None:
        """time.monotonic() of the first SMS request to `number`, None while there is none."""
        new = self.fake.requests[self._seen :]
        self._seen += len(new)
        for r in new:
            if r.method == "POST" and r.path.endswith("/Messages.json") and "To" in r.form:
                self.first.setdefault(r.form["To"], r.received)
        return self.first.get(number)

    def wait(self, number: str, deadline: float) -> float | None:
        """Poll until an SMS to `number` arrived or `deadline` passed."""
        while (at := self.received(number)) is None and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        return at


def measure_one(
    http: httpx.Client, watch: SmsWatch, home: BenchHome, rng: random.Random, wait: float
) -> float | None:
    """Upload a crisis reading; milliseconds until its SMS reached Twilio (None: not in time)."""
    assert home.phone is not None
    response = http.post(
        "/v1/readings", content=crisis_body(home, rng), headers=headers(home.token)
    )
    t0 = time.monotonic()
    check_answer(response, 1)
    at = watch.wait(home.phone, t0 + wait)
    return None if at is None else (at - t0) * 1000


def measure(
    url: str, fake: FakeTwilio, homes: list[BenchHome], load: BackgroundLoad, pace: Pace
) -> list[float | None]:
    """Each measured resident in turn, with a pause; their latencies in milliseconds."""
    rng = random.Random(pace.seed)
    watch = SmsWatch(fake)
    latencies: list[float | None] = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for home in homes:
            load.check()
            latencies.append(measure_one(http, watch, home, rng, pace.wait))
            time.sleep(pace.pause * rng.uniform(0.5, 1.5))
    return latencies


def measure_under_load(
    url: str, fake: FakeTwilio, homes: Homes, pace: Pace
) -> tuple[list[float | None], BackgroundLoad]:
    """Start the background load, let it settle, measure every resident, stop the load."""
    measured, background = homes
    load = BackgroundLoad(url, background, pace.load_rate, pace.seed)
    load.start()
    try:
        time.sleep(_SETTLE_SECONDS)
        latencies = measure(url, fake, measured, load, pace)
    finally:
        load.stop()
    return latencies, load
