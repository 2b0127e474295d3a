"""The scheduled-checks benchmark's city: homes and readings (bench/_dashboard_data.py), and
every resident's detection state as the live service has it just before a daily check.

The states come from the service's own detection: a sample of residents has its readings
queued and checked by `check_resident` (`tell=False`, as the demo's seeding does), a few at
a time; every other resident gets the state, and the open alerts, of a sample resident with
the same conditions. The daily check reads nothing but the state, the profile and the
gateway, so the copies give the check the sample's work, resident for resident.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from analytics.thresholds import DEFAULT_THRESHOLDS
from bench._dashboard_data import Loaded, load_homes
from bench._servers import BenchError
from service.detection.service import check_resident

LOCAL = ZoneInfo(DEFAULT_THRESHOLDS.time_zone)  # the residents' (the schema's default)
SAMPLE_CONNECTIONS = 4  # residents of the sample checked at a time
OFFLINE_EVERY = 100  # one gateway in this many was last heard from three days ago
_COPY_ATTEMPTS = 30


@dataclass(frozen=True)
class City:
    """What was built, and how long each part took."""

    loaded: Loaded
    history_end: datetime  # detection has seen every reading up to here
    check_at: datetime  # the next daily check, when everyone is due
    sample: int  # residents whose state detection computed from their readings
    sample_readings: int
    detection_seconds: float  # the sample's readings through check_resident
    copied: int  # residents who got a sample resident's state
    due: int  # residents due at `check_at`
    seconds: float  # everything


def next_check(after: datetime) -> datetime:
    """The first daily check (09:00 local) after `after`."""
    day, hour = after.astimezone(LOCAL).date(), clock_time(DEFAULT_THRESHOLDS.daily_check_hour)
    check = datetime.combine(day, hour, LOCAL)
    if check <= after:
        check = datetime.combine(day + timedelta(days=1), hour, LOCAL)
    return check.astimezone(UTC)


def _gateways_heard(conn: psycopg.Connection[Any], at: datetime) -> None:
    """Every gateway heard from a few minutes before `at`; one in OFFLINE_EVERY days earlier."""
    conn.execute(
        """UPDATE gateways SET last_seen_at = %s - CASE WHEN id %% %s = 1
               THEN interval '3 days' ELSE interval '5 minutes' END""",
        (at, OFFLINE_EVERY),
    )


def _queue(conn: psycopg.Connection[Any], sample: list[int]) -> int:
    """Queue the sample's readings for detection, as ingest queues new ones."""
    cur = conn.execute(
        """INSERT INTO readings_to_check
               (resident_id, kind, device_id, user_index, sequence_number, measured_at)
           SELECT * FROM (
               SELECT resident_id, 'blood_pressure', device_id, user_index, sequence_number,
                      measured_at
               FROM blood_pressure_readings WHERE resident_id = ANY(%(sample)s)
               UNION ALL
               SELECT resident_id, 'glucose', device_id, user_index, sequence_number,
                      measured_at
               FROM glucose_readings WHERE resident_id = ANY(%(sample)s)) r
           ORDER BY resident_id, measured_at""",
        {"sample": sample},
    )
    return cur.rowcount


async def _detect(conninfo: str, sample: list[int], now: datetime) -> None:
    """`check_resident` for each resident of the sample, SAMPLE_CONNECTIONS at a time."""
    pending = iter(sample)

    async def check_some(pool: AsyncConnectionPool) -> None:
        for resident_id in pending:
            await check_resident(pool, resident_id, now, tell=False)

    size = SAMPLE_CONNECTIONS
    pool = AsyncConnectionPool(conninfo, min_size=size, max_size=size, open=False)
    async with pool, asyncio.TaskGroup() as group:
        for _ in range(size):
            group.create_task(check_some(pool))


def _copy_states(conn: psycopg.Connection[Any], sample: set[int]) -> int:
    """Give everyone outside the sample the state and open alerts of a sample resident with
    the same conditions (any sample resident when none has them)."""
    everyone = conn.execute("SELECT id, conditions FROM residents ORDER BY id").fetchall()
    groups: dict[tuple[str, ...], list[int]] = {}
    for resident_id, conditions in everyone:
        if resident_id in sample:
            groups.setdefault(tuple(sorted(conditions)), []).append(resident_id)
    anyone = sorted(sample)
    pairs = []
    for n, (resident_id, conditions) in enumerate(everyone):
        if resident_id not in sample:
            group = groups.get(tuple(sorted(conditions)), anyone)
            pairs.append((resident_id, group[n % len(group)]))
    conn.execute("CREATE TEMPORARY TABLE state_of (resident_id bigint, template_id bigint)")
    with conn.cursor().copy("COPY state_of (resident_id, template_id) FROM STDIN") as copy:
        for pair in pairs:
            copy.write_row(pair)
    conn.execute(
        """INSERT INTO detection_states (resident_id, state, due_at)
           SELECT m.resident_id, s.state, s.due_at
           FROM state_of m JOIN detection_states s ON s.resident_id = m.template_id"""
    )
    columns = (
        "rule, severity, state, audience, message, evidence, reading_at, opened_at, updated_at"
    )
    conn.execute(
        sql.SQL(
            """INSERT INTO alerts (resident_id, {columns})
               SELECT m.resident_id, {taken}
               FROM state_of m JOIN alerts a ON a.resident_id = m.template_id
               WHERE a.state <> 'resolved'"""
        ).format(
            columns=sql.SQL(columns),
            taken=sql.SQL(", ").join(sql.Identifier("a", c) for c in columns.split(", ")),
        )
    )
    return len(pairs)


def _stagger_control(conn: psycopg.Connection[Any], check_at: datetime) -> None:
    """The weekly control check due today for a seventh of the residents, on the other days
    for the rest: as for residents who began measuring on different days."""
    today = check_at.astimezone(LOCAL).date().toordinal()
    conn.execute(
        """UPDATE detection_states
           SET state = jsonb_set(state, '{next_control_day}', to_jsonb(%s + resident_id %% %s))
           WHERE jsonb_typeof(state -> 'next_control_day') = 'number'""",
        (today, DEFAULT_THRESHOLDS.control_period_days),
    )


def build_city(conninfo: str, residents: int, days: int, sample_size: int, seed: int) -> City:
    """Load the homes, compute the sample's states, copy them to everyone; all due at 09:00."""
    started = time.perf_counter()
    loaded = load_homes(conninfo, residents, days, seed)
    history_end = datetime.now(UTC)
    rng = np.random.default_rng(seed + 3)
    ids = loaded.population.ids
    sample = sorted(int(i) for i in rng.choice(ids, min(sample_size, len(ids)), replace=False))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _gateways_heard(conn, history_end)
        queued = _queue(conn, sample)
    detecting = time.perf_counter()
    asyncio.run(_detect(conninfo, sample, history_end))
    detection_seconds = time.perf_counter() - detecting
    check_at = next_check(history_end)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with conn.transaction():
            copied = _copy_states(conn, set(sample))
            _stagger_control(conn, check_at)
        conn.execute("VACUUM ANALYZE detection_states, alerts, findings, readings_to_check")
        row = conn.execute(
            "SELECT count(*) FROM detection_states WHERE due_at <= %s", (check_at,)
        ).fetchone()
    due = int(row[0]) if row else 0
    seconds = time.perf_counter() - started
    return City(
        loaded, history_end, check_at, len(sample), queued, detection_seconds, copied, due, seconds
    )


@contextmanager
def database_copy(conninfo: str) -> Iterator[str]:
    """A copy of the (idle) database at `conninfo`, dropped afterwards."""
    source = conninfo_to_dict(conninfo)["dbname"]
    name = f"{source}_b"
    admin = make_conninfo(conninfo, dbname="postgres")
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
        sql.Identifier(name), sql.Identifier(str(source))
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        for attempt in range(_COPY_ATTEMPTS):
            try:
                conn.execute(create)
                break
            except psycopg.errors.ObjectInUse as exc:  # autovacuum still on it: wait
                if attempt == _COPY_ATTEMPTS - 1:
                    raise BenchError(f"could not copy the database: {exc}") from exc
                time.sleep(1)
    try:
        yield make_conninfo(conninfo, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))
