"""The dashboard benchmark's data: two communities of residents, their doctor, devices and
readings, open alerts and data-quality findings. The readings are COPYed as binary rows built
with numpy, a few days at a time, oldest first: laid out on disk as live ingest would."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from service.passwords import hash_password

DOCTOR = "dr.bench"
PASSWORD = "bench-password-2026"  # noqa: S105 (a scratch database's doctor)
COMMUNITIES = ("敦仁社区", "兴华社区")  # the doctor's; a city has more, numbered
DOCTOR_COMMUNITIES = 2
RESIDENTS_PER_COMMUNITY = 2500  # at most, so that the doctor serves about 5,000 in a city
GRIDS = 10  # per community
RESIDENTS_PER_GATEWAY = 50
OPEN_ALERTS = 300
_CHUNK_DAYS = 10
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in Unix microseconds
_DAY_US = 86_400_000_000
_LOCAL_US = 8 * 3_600_000_000  # China Standard Time, UTC+8
_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)  # binary COPY: signature, flags, no extension
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("秀英", "桂兰", "建国", "淑珍", "玉兰", "志强", "德明", "凤英", "国华", "兰英")
_ALERT_RULES = (
    ("bp.uncontrolled", "warning"),
    ("bp.urgent", "urgent"),
    ("bp.drift.up", "warning"),
    ("glucose.uncontrolled", "warning"),
    ("adherence.missed", "info"),
    ("bp.crisis", "critical"),
)
_QUALITY = ("quality.device", "quality.implausible", "quality.clock")
_BP_COLUMNS = (
    "device_id", "user_index", "sequence_number", "resident_id", "measured_at", "received_at",
    "systolic", "diastolic", "pulse", "unit_sent", "body_movement", "cuff_loose",
    "irregular_pulse",
)  # fmt: skip
_GLUCOSE_COLUMNS = (
    "device_id", "user_index", "sequence_number", "resident_id", "measured_at", "received_at",
    "glucose_mmol", "value_sent", "unit_sent", "meal", "sensor_status",
)  # fmt: skip

Flagged = tuple[np.ndarray, np.ndarray, np.ndarray]  # resident ids, measured_at µs, rule index
Column = tuple[str, np.ndarray | bytes | int]  # numpy dtype, values (or one for every row)


@dataclass(frozen=True)
class Population:
    """Who the residents are and how they measure; arrays are indexed by resident."""

    ids: np.ndarray  # residents.id
    diabetic: np.ndarray  # bool
    habit: np.ndarray  # BP 0: twice a day (70%), 1: daily (20%), 2: every 3 days (10%)
    stopped: np.ndarray  # the day from which on they no longer measure (5%), else `days`
    systolic: np.ndarray  # the resident's usual systolic and diastolic, mmHg
    diastolic: np.ndarray
    bp_device: np.ndarray  # devices.id
    glucose_device: np.ndarray
    doctors: np.ndarray  # bool: in a community the benchmark's doctor serves


@dataclass(frozen=True)
class Loaded:
    """What was written, and how long it took."""

    population: Population
    community_ids: tuple[int, ...]
    rows: dict[str, int]
    readings_seconds: float  # the COPY of the readings alone
    seconds: float  # everything, ANALYZE included


@dataclass(frozen=True)
class Chunk:
    """Readings of a few days of one table: COPY payloads, and which readings get a finding."""

    table: str
    columns: tuple[str, ...]
    payloads: list[bytes]
    count: int
    flagged: Flagged


# -- people and devices ----------------------------------------------------------------------


def _copy_rows(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Sequence[Any]
) -> None:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _copy_ids(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Sequence[Any]
) -> np.ndarray:
    """COPY rows into an empty table; return the ids they got, in order."""
    _copy_rows(conn, table, columns, rows)
    query = sql.SQL("SELECT id FROM {} ORDER BY id").format(sql.Identifier(table))
    return np.array([r[0] for r in conn.execute(query)], dtype=np.int64)


def _places(conn: psycopg.Connection[Any], count: int) -> tuple[tuple[int, ...], np.ndarray]:
    """The communities and their grids: community ids, grid ids by [community, grid]."""
    names = [*COMMUNITIES, *(f"第{k}社区" for k in range(len(COMMUNITIES) + 1, count + 1))]
    ids = _copy_ids(conn, "communities", ["name"], [(name,) for name in names[:count]])
    communities = tuple(int(i) for i in ids)
    rows = [(c, f"第{g + 1}网格") for c in communities for g in range(GRIDS)]
    grids = _copy_ids(conn, "grids", ["community_id", "name"], rows)
    return communities, grids.reshape(len(communities), GRIDS)


def _residents(
    conn: psycopg.Connection[Any], n: int, days: int, rng: np.random.Generator
) -> tuple[tuple[int, ...], Population]:
    """Residents spread over the communities (two for up to 5,000 residents, then one more for
    every 2,500) and grids: hypertension ~80%, diabetes ~40%."""
    count = max(DOCTOR_COMMUNITIES, -(-n // RESIDENTS_PER_COMMUNITY))
    communities, grids = _places(conn, count)
    community, grid = rng.integers(0, len(communities), n), rng.integers(0, GRIDS, n)
    diabetic = rng.random(n) < 0.4
    hypertensive = ~diabetic | (rng.random(n) < 0.5)
    born = datetime.now(UTC).date() - timedelta(days=60 * 365)
    rows = [
        (
            f"{_SURNAMES[i % 20]}{_GIVEN[i // 20 % 10]}{i}",
            "female" if i % 2 else "male",
            born - timedelta(days=int(rng.integers(0, 32 * 365))),
            ["hypertension"] * bool(hypertensive[i]) + ["diabetes"] * bool(diabetic[i]),
            communities[community[i]],
            int(grids[community[i], grid[i]]),
        )
        for i in range(n)
    ]
    columns = ["name", "sex", "birth_date", "conditions", "community_id", "grid_id"]
    population = Population(
        ids=_copy_ids(conn, "residents", columns, rows),
        diabetic=diabetic,
        habit=rng.choice(3, n, p=[0.7, 0.2, 0.1]),
        stopped=np.where(rng.random(n) < 0.05, days - rng.integers(8, 60, n), days),
        systolic=np.clip(rng.normal(138, 9, n), 112, 172),
        diastolic=np.clip(rng.normal(84, 5, n), 68, 100),
        bp_device=np.zeros(n, dtype=np.int64),
        glucose_device=np.zeros(n, dtype=np.int64),
        doctors=community < DOCTOR_COMMUNITIES,
    )
    return communities, population


def _doctor(conn: psycopg.Connection[Any], communities: Sequence[int]) -> None:
    """The doctor who serves the first two communities (every resident up to 5,000; about
    5,000 of a city), with a known password."""
    row = conn.execute(
        """INSERT INTO users (username, display_name, role, password_hash, language)
           VALUES (%s, 'Dr Bench', 'doctor', %s, 'en') RETURNING id""",
        (DOCTOR, hash_password(PASSWORD)),
    ).fetchone()
    assert row is not None
    rows = [(row[0], c) for c in communities]
    _copy_rows(conn, "user_communities", ["user_id", "community_id"], rows)


def _devices(conn: psycopg.Connection[Any], p: Population) -> Population:
    """A gateway per 50 residents; a BP monitor, a glucose meter and a contact each."""
    n, per = len(p.ids), RESIDENTS_PER_GATEWAY
    homes = [(f"bench home {g}", secrets.token_bytes(32)) for g in range(-(-n // per))]
    gateway = _copy_ids(conn, "gateways", ["name", "token_hash"], homes)
    kinds = (("BP", "blood_pressure", "HEM-7361T", "OMRON"), ("GL", "glucose", "Guide", "Roche"))
    rows = [
        (f"{prefix}-{i:06d}", kind, model, maker, 20 + i * 7 % 80, int(gateway[i // per]))
        for prefix, kind, model, maker in kinds
        for i in range(n)
    ]
    columns = ["serial", "kind", "model", "manufacturer", "battery_percent", "gateway_id"]
    devices = _copy_ids(conn, "devices", columns, rows)
    links = [(int(d), 255, int(r)) for d, r in zip(devices, np.tile(p.ids, 2), strict=True)]
    _copy_rows(conn, "device_users", ["device_id", "user_index", "resident_id"], links)
    contacts = [
        (int(r), "家属", "family", "女儿", f"+86138{i:08d}", 1) for i, r in enumerate(p.ids)
    ]
    columns = ["resident_id", "name", "kind", "relationship", "phone", "escalation_order"]
    _copy_rows(conn, "contacts", columns, contacts)
    return replace(p, bp_device=devices[:n], glucose_device=devices[n:])


# -- readings --------------------------------------------------------------------------------


def binary_rows(columns: Sequence[Column]) -> bytes:
    """Rows of fixed-width fields in COPY's binary format, from (dtype, values) per column."""
    n = max(len(v) for _, v in columns if isinstance(v, np.ndarray))
    fields = [("count", ">i2")]
    for i, (dtype, _) in enumerate(columns):
        fields += [(f"length{i}", ">i4"), (f"value{i}", dtype)]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, (dtype, values) in enumerate(columns):
        rows[f"length{i}"] = np.dtype(dtype).itemsize
        rows[f"value{i}"] = values
    return rows.tobytes()


def _taken(p: Population, d0: int, d1: int, slots: int, rng: np.random.Generator) -> np.ndarray:
    """Day x resident x slot: who measured when (habit, stopping, and 6% forgotten)."""
    day = np.arange(d0, d1)[:, None, None]
    who = np.arange(len(p.ids))[None, :, None]
    slot = np.arange(slots)[None, None, :]
    habit = p.habit[None, :, None]
    taken = np.where(habit == 0, True, slot == 0) & ((habit != 2) | ((day + who) % 3 == 0))
    taken &= day < p.stopped[None, :, None]
    found: np.ndarray = taken & (rng.random(taken.shape) > 0.06)
    return found


def _when(
    grid: np.ndarray, d0: int, minutes: np.ndarray, clock: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """Day, resident, slot and time (PostgreSQL µs) of each reading taken, oldest first;
    `minutes` (local time of day) by slot, readings after now left out."""
    d, r, s = np.nonzero(grid)
    at = (
        clock[0]
        + (d + d0) * _DAY_US
        + ((minutes[s] + rng.normal(0, 35, len(d))) * 60e6).astype(np.int64)
    )
    keep = np.flatnonzero(at <= clock[1])
    order = keep[np.argsort(at[keep], kind="stable")]
    return d[order] + d0, r[order], s[order], at[order]


def _flags(n: int, rng: np.random.Generator) -> np.ndarray:
    """Per reading: -1, or the index of the quality rule it breaks (1% of readings)."""
    return np.where(rng.random(n) < 0.01, rng.integers(0, len(_QUALITY), n), -1)


def _bp(p: Population, d0: int, d1: int, clock: tuple[int, int], rng: np.random.Generator) -> Chunk:
    """Twice a day about 07:00 and 19:30; 0.2% urgent (182-206/108-122 mmHg)."""
    minutes = np.array([7 * 60, 19 * 60 + 30])
    day, r, s, at = _when(_taken(p, d0, d1, 2, rng), d0, minutes, clock, rng)
    n = len(at)
    urgent = rng.random(n) < 0.002
    systolic = p.systolic[r] + 5 * (s == 0) + rng.normal(0, 8, n)
    diastolic = p.diastolic[r] + rng.normal(0, 5, n)
    flag = _flags(n, rng)
    payload = binary_rows(
        [
            (">i8", p.bp_device[r]),
            (">i2", 255),
            (">i4", day * 2 + s),
            (">i8", p.ids[r]),
            (">i8", at),
            (">i8", at + rng.integers(30, 7200, n) * 1_000_000),
            (">f4", np.where(urgent, rng.uniform(182, 206, n), systolic).round()),
            (">f4", np.where(urgent, rng.uniform(108, 122, n), diastolic).round()),
            (">f4", rng.normal(72, 8, n).round()),
            ("S4", b"mmHg"),
            ("?", (flag == 0) & (s == 0)),  # body movement
            ("?", (flag == 0) & (s == 1)),  # cuff loose
            ("?", rng.random(n) < 0.02),  # irregular pulse
        ]
    )
    picked = flag >= 0
    flagged = (p.ids[r[picked]], at[picked], flag[picked])
    return Chunk("blood_pressure_readings", _BP_COLUMNS, [payload], n, flagged)


def _glucose(
    p: Population, d0: int, d1: int, clock: tuple[int, int], rng: np.random.Generator
) -> Chunk:
    """Diabetics, once a day: fasting about 06:45 (85%), else after breakfast or lunch."""
    taken = _taken(p, d0, d1, 1, rng) & p.diabetic[None, :, None]
    day, r, _, at = _when(taken, d0, np.array([6 * 60 + 45]), clock, rng)
    s = np.where(rng.random(len(at)) < 0.85, 0, rng.integers(1, 3, len(at)))  # 0: fasting
    at = at + np.array([0, 165, 375])[s] * 60_000_000
    past = at <= clock[1]
    day, r, s, at, n = day[past], r[past], s[past], at[past], int(past.sum())
    usual = 6.2 + (p.systolic[r] - 138) / 15  # the resident's own level, mmol/L
    mmol = usual + 2.8 * (s > 0) + rng.normal(0, 1.1, n)
    mmol = np.where(rng.random(n) < 0.003, rng.uniform(3.0, 3.8, n), mmol).clip(2.5, 25).round(1)
    flag = _flags(n, rng)
    payloads = []
    for rows, name in ((s == 0, b"fasting"), (s > 0, b"postprandial")):
        if not rows.any():
            continue
        i = np.flatnonzero(rows)
        columns: list[Column] = [
            (">i8", p.glucose_device[r[i]]),
            (">i2", 255),
            (">i4", day[i]),
            (">i8", p.ids[r[i]]),
            (">i8", at[i]),
            (">i8", at[i] + rng.integers(30, 7200, len(i)) * 1_000_000),
            (">f4", mmol[i]),
            (">f8", mmol[i]),
            ("S6", b"mmol/L"),
            (f"S{len(name)}", name),  # meal
            (">i4", np.where(flag[i] == 0, 0x0008, 0)),  # sensor status: sample size
        ]
        payloads.append(binary_rows(columns))
    picked = flag >= 0
    flagged = (p.ids[r[picked]], at[picked], flag[picked])
    return Chunk("glucose_readings", _GLUCOSE_COLUMNS, payloads, n, flagged)


def _chunks(p: Population, days: int, seed: int) -> Iterator[Chunk]:
    """The readings of `days` days up to now, `_CHUNK_DAYS` at a time, oldest first."""
    rng = np.random.default_rng(seed)
    now = int(datetime.now(UTC).timestamp() * 1_000_000) - _PG_EPOCH_US
    today = (now + _LOCAL_US) // _DAY_US * _DAY_US - _LOCAL_US  # local midnight, in UTC
    clock = (today - (days - 1) * _DAY_US, now)
    for d0 in range(0, days, _CHUNK_DAYS):
        d1 = min(days, d0 + _CHUNK_DAYS)
        yield _bp(p, d0, d1, clock, rng)
        yield _glucose(p, d0, d1, clock, rng)


def _copy_binary(conn: psycopg.Connection[Any], chunk: Chunk) -> None:
    names = sql.SQL(", ").join(map(sql.Identifier, chunk.columns))
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)")
    for payload in chunk.payloads:
        with conn.cursor().copy(statement.format(sql.Identifier(chunk.table), names)) as copy:
            copy.write(_SIGNATURE + payload + b"\xff\xff")


def _load_readings(
    conninfo: str, p: Population, days: int, seed: int
) -> tuple[dict[str, int], list[Flagged]]:
    """COPY the readings, skipping the foreign-key checks where it may (as a superuser): the
    generated readings refer only to devices and residents written before them."""
    rows = {"blood_pressure_readings": 0, "glucose_readings": 0}
    flagged = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")
        with _indexes_built_after(conn, list(rows)):
            for chunk in _chunks(p, days, seed):
                _copy_binary(conn, chunk)
                rows[chunk.table] += chunk.count
                flagged.append(chunk.flagged)
    return rows, flagged


@contextlib.contextmanager
def _indexes_built_after(conn: psycopg.Connection[Any], tables: list[str]) -> Iterator[None]:
    """Drop the tables' indexes (primary keys included) for a bulk load and build them again
    afterwards, as one sort each: a city's year of readings COPYed into indexed tables spends
    most of its hour on random index pages. Plain PostgreSQL only (left alone on hypertables,
    whose chunks keep indexes of their own)."""
    plain = conn.execute(
        "SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')"
    ).fetchone()
    if not (plain and plain[0]):
        yield
        return
    found = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
                  c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid)
           FROM pg_index i
           LEFT JOIN pg_constraint c
                  ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype <> 'f'
           WHERE i.indrelid = ANY(%s::regclass[])""",
        (tables,),
    ).fetchall()
    for index, _, constraint, table, _ in found:
        if constraint:
            drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}")
            conn.execute(drop.format(sql.SQL(table), sql.Identifier(constraint)))
        else:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
    try:
        yield
    finally:
        for _, definition, constraint, table, constraint_definition in found:
            if constraint:
                add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}")
                conn.execute(
                    add.format(
                        sql.SQL(table), sql.Identifier(constraint), sql.SQL(constraint_definition)
                    )
                )
            else:
                conn.execute(sql.SQL(definition))


# -- what detection and alerting would have left ---------------------------------------------


def _findings(conn: psycopg.Connection[Any], flagged: list[Flagged]) -> int:
    """A data-quality finding for each flagged reading."""
    residents, at, rule = (np.concatenate(column) for column in zip(*flagged, strict=True))
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    rows = [
        (int(r), _QUALITY[k], "info", "raised", t + timedelta(minutes=1), t, ["doctor"], "bench")
        for r, t, k in zip(
            residents, [epoch + timedelta(microseconds=int(v)) for v in at], rule, strict=True
        )
    ]
    columns = ["resident_id", "rule", "severity", "status", "at", "reading_at", "audience"]
    _copy_rows(conn, "findings", [*columns, "message"], rows)
    return len(rows)


def _alerts(conn: psycopg.Connection[Any], p: Population, days: int, seed: int) -> int:
    """OPEN_ALERTS open alerts, one each on as many residents; ten times as many resolved."""
    rng = np.random.default_rng(seed + 1)
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    for n, resident in enumerate(rng.permutation(p.ids)[:OPEN_ALERTS]):
        at = now - timedelta(hours=float(rng.uniform(1, 24 * 14)))
        state = ("open", "notified", "acknowledged")[n % 3]
        rows.append((int(resident), *_ALERT_RULES[n % len(_ALERT_RULES)], state, at, None))
    for n, resident in enumerate(rng.choice(p.ids, OPEN_ALERTS * 10)):
        at = now - timedelta(days=float(rng.uniform(1, max(2, days))))
        rule = _ALERT_RULES[n % len(_ALERT_RULES)]
        rows.append((int(resident), *rule, "resolved", at, at + timedelta(hours=6)))
    columns = ["resident_id", "rule", "severity", "state", "opened_at", "resolved_at"]
    full = [(*r, r[4], ["family", "doctor"], "bench alert") for r in rows]
    _copy_rows(conn, "alerts", [*columns, "updated_at", "audience", "message"], full)
    return len(rows)


def load(conninfo: str, residents: int, days: int, seed: int) -> Loaded:
    """Write everything, then ANALYZE; return the population, row counts and seconds."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with conn.transaction():
            communities, population = _residents(conn, residents, days, rng)
            _doctor(conn, communities[:DOCTOR_COMMUNITIES])
            population = _devices(conn, population)
        copying = time.perf_counter()
        rows, flagged = _load_readings(conninfo, population, days, seed)
        readings_seconds = time.perf_counter() - copying
        rows["findings"] = _findings(conn, flagged)
        rows["alerts"] = _alerts(conn, population, days, seed)
        conn.execute("ANALYZE")
    seconds = time.perf_counter() - started
    return Loaded(population, communities, rows, readings_seconds, seconds)


def load_homes(conninfo: str, residents: int, days: int, seed: int) -> Loaded:
    """Residents with their gateways, devices, contacts and readings only (no doctor, findings
    or alerts), then ANALYZE: the homes of a city, for the worker's benchmarks."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with conn.transaction():
            communities, population = _residents(conn, residents, days, rng)
            population = _devices(conn, population)
        copying = time.perf_counter()
        rows, _ = _load_readings(conninfo, population, days, seed)
        readings_seconds = time.perf_counter() - copying
        conn.execute("ANALYZE")
    seconds = time.perf_counter() - started
    return Loaded(population, communities, rows, readings_seconds, seconds)
