"""Seeding the demo district once: places, doctors, residents and their children through the
admin functions an operator's commands use; each resident's devices with 90 days of readings
from the synthetic cohort (`analytics.synthetic`), attached to the resident as an admin's
device assignment attaches them; then detection over that history, so the alerts still open
today stand, without messaging anyone about the past.

The demo's database remembers it was seeded in the `linli_demo` table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from analytics.synthetic import (
    BP,
    FLAG_NAMES,
    MEALS,
    Period,
    Profile,
    Track,
    draw_profile,
    resident_track,
)
from service.admin.communities import create_community, create_grid
from service.admin.contacts import create_contact
from service.admin.devices import assign_device
from service.admin.residents import create_resident
from service.admin.schemas import (
    CommunityCreate,
    ContactCreate,
    GridCreate,
    ResidentCreate,
    UserCreate,
)
from service.admin.users import create_user, grant_community, grant_resident
from service.demo import district
from service.detection.service import check_resident
from service.readings import summaries
from service.tokens import GATEWAY_TOKEN_PREFIX, new_token, token_hash

LOCAL = ZoneInfo("Asia/Shanghai")
HISTORY_DAYS = 90
# The bit the meter sets on a short sample (Sensor Status Annunciation).
SAMPLE_SIZE_INSUFFICIENT = 1 << 2
Step = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class Home:
    """A resident whose home is emulated live: their devices on the demo's gateway."""

    resident_id: int
    index: int  # in the cohort: the same profile, history and future
    name: str
    bp_serial: str
    glucose_serial: str


@dataclass(frozen=True)
class Seeded:
    """What the demo needs of its district on every run."""

    seed: int
    residents: int
    seeded_at: datetime
    gateway_id: int
    homes: tuple[Home, ...]
    family_user: str


def period_ending(now: datetime, future_days: int = 0) -> tuple[Period, int]:
    """The cohort's period: HISTORY_DAYS days up to today, and `future_days` after; and how
    many seconds of it had passed at `now`."""
    today = now.astimezone(LOCAL).date()
    start = today - timedelta(days=HISTORY_DAYS)
    midnight = datetime(start.year, start.month, start.day, tzinfo=LOCAL)
    return Period(start, HISTORY_DAYS + 1 + future_days), int((now - midnight).total_seconds())


def cohort_member(seed: int, index: int, period: Period) -> tuple[Profile, Track]:
    """Resident `index` of the cohort: the same profile and readings on every call."""
    rng = np.random.default_rng([seed, index])
    profile = draw_profile(rng, f"R{index:04d}", period)
    return profile, resident_track(rng, profile, period)


async def seeded(conn: AsyncConnection[Any]) -> Seeded | None:
    """The district this database holds, if the demo seeded it."""
    cur = await conn.execute("SELECT to_regclass('linli_demo') IS NOT NULL")
    row = await cur.fetchone()
    if not (row and row[0]):
        return None
    cur = await conn.execute(
        "SELECT seed, residents, seeded_at, gateway_id, homes, family_user FROM linli_demo"
    )
    found = await cur.fetchone()
    if found is None:
        return None
    seed, residents, at, gateway_id, homes, family_user = found
    return Seeded(
        seed, residents, at, gateway_id, tuple(Home(**home) for home in homes), family_user
    )


async def holds_other_data(conn: AsyncConnection[Any]) -> bool:
    """Whether the database holds people the demo did not seed (then it is not the demo's)."""
    cur = await conn.execute(
        "SELECT to_regclass('linli_demo') IS NULL AND EXISTS (SELECT 1 FROM residents)"
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def new_gateway_token(conn: AsyncConnection[Any], gateway_id: int) -> str:
    """A fresh token for the demo's gateway (the old one is never stored, so never shown)."""
    token = new_token(GATEWAY_TOKEN_PREFIX)
    await conn.execute(
        "UPDATE gateways SET token_hash = %s, revoked_at = NULL WHERE id = %s",
        (token_hash(token), gateway_id),
    )
    return token


@dataclass
class _Places:
    communities: list[tuple[int, district.Place]]
    grids: dict[int, list[int]]


async def _places(conn: AsyncConnection[Any]) -> _Places:
    found = _Places([], {})
    for place in district.places():
        community = await create_community(
            conn, CommunityCreate(name=place.community, subdistrict=place.subdistrict)
        )
        found.communities.append((community.id, place))
        found.grids[community.id] = [
            (await create_grid(conn, community.id, GridCreate(name=grid))).id
            for grid in place.grids
        ]
    return found


async def _doctors(conn: AsyncConnection[Any], places: _Places) -> dict[str, int]:
    """Users: an admin, and each subdistrict's doctor serving its communities."""
    await create_user(
        conn,
        UserCreate(
            username="admin",
            display_name="管理员",
            role="admin",
            password=district.PASSWORD,
            language="zh-CN",
        ),
    )
    # The fiction range from its far end: the children's numbers come from its start.
    phones = reversed(list(district.fictional_phones()))
    by_subdistrict = {}
    for doctor in district.doctors():
        user = await create_user(
            conn,
            UserCreate(
                username=doctor.username,
                display_name=doctor.display_name,
                role="doctor",
                password=district.PASSWORD,
                phone=next(phones),
            ),
        )
        for community_id, place in places.communities:
            if place.subdistrict == doctor.subdistrict:
                await grant_community(conn, user.id, community_id)
        by_subdistrict[doctor.subdistrict] = user.id
    return by_subdistrict


async def _resident(
    conn: AsyncConnection[Any],
    person: district.Person,
    profile: Profile,
    community_id: int,
    grid_id: int,
    doctor_id: int,
) -> int:
    conditions = [
        name
        for name, has in (("hypertension", profile.hypertension), ("diabetes", profile.diabetes))
        if has
    ]
    resident = await create_resident(
        conn,
        ResidentCreate(
            name=person.name,
            sex=person.sex,
            birth_date=profile.birth_date,
            conditions=conditions,
            community_id=community_id,
            grid_id=grid_id,
            doctor_id=doctor_id,
        ),
    )
    for child in person.children:
        await create_contact(
            conn,
            resident.id,
            ContactCreate(
                name=child.name, kind="family", relationship=child.relationship, phone=child.phone
            ),
        )
    return resident.id


async def _device(
    conn: AsyncConnection[Any],
    serial: str,
    kind: str,
    gateway_id: int,
    synced: datetime,
    rng: np.random.Generator,
) -> int:
    cur = await conn.execute(
        """INSERT INTO devices (serial, kind, model, manufacturer, gateway_id, battery_percent,
                                last_sync_at, clock_offset_seconds, first_seen_at)
           VALUES (%s, %s, %s, 'Linli demo', %s, %s, %s, %s, %s - interval '120 days')
           RETURNING id""",
        (
            serial,
            kind,
            "BP-100" if kind == "blood_pressure" else "GL-200",
            gateway_id,
            int(rng.integers(35, 101)),
            synced,
            round(float(rng.normal(0, 20)), 1),
            synced,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def _at(midnight: datetime, seconds: np.ndarray) -> list[datetime]:
    return [midnight + timedelta(seconds=int(s)) for s in seconds]


def _flag(flags: int, name: str) -> bool:
    return any(bit & flags for bit, flag in FLAG_NAMES if flag == name)


async def _history(
    conn: AsyncConnection[Any],
    track: Track,
    devices: tuple[int, int],
    period: Period,
    passed: int,
) -> None:
    """The readings measured and received before now, stored unassigned on the devices."""
    midnight = datetime(period.start.year, period.start.month, period.start.day, tzinfo=LOCAL)
    arrived = (track.t < passed) & (track.received < passed)
    measured, received = _at(midnight, track.t[arrived]), _at(midnight, track.received[arrived])
    rows = np.flatnonzero(arrived)
    bp_device, glucose_device = devices
    async with conn.cursor() as cur:
        async with cur.copy(
            """COPY blood_pressure_readings (device_id, measured_at, received_at, systolic,
                   diastolic, pulse, unit_sent, body_movement, cuff_loose, irregular_pulse)
               FROM STDIN"""
        ) as copy:
            for n, i in enumerate(rows):
                if track.kind[i] != BP:
                    continue
                flags = int(track.flags[i])
                pulse = None if np.isnan(track.pulse[i]) else round(float(track.pulse[i]))
                await copy.write_row(
                    (
                        bp_device,
                        measured[n],
                        received[n],
                        round(float(track.systolic[i])),
                        round(float(track.diastolic[i])),
                        pulse,
                        "mmHg",
                        _flag(flags, "body_movement"),
                        _flag(flags, "cuff_loose"),
                        bool(track.irregular[i]),
                    )
                )
        async with cur.copy(
            """COPY glucose_readings (device_id, measured_at, received_at, glucose_mmol,
                   value_sent, unit_sent, meal, sensor_status, control_solution)
               FROM STDIN"""
        ) as copy:
            for n, i in enumerate(rows):
                if track.kind[i] == BP:
                    continue
                flags = int(track.flags[i])
                value = round(float(track.glucose[i]), 1)
                meal = MEALS[int(track.meal[i])] if track.meal[i] >= 0 else None
                short = SAMPLE_SIZE_INSUFFICIENT if _flag(flags, "device_error") else 0
                control = _flag(flags, "control_solution")
                await copy.write_row(
                    (
                        glucose_device,
                        measured[n],
                        received[n],
                        value,
                        value,
                        "mmol/L",
                        meal,
                        short,
                        control,
                    )
                )


def _home_indexes(profiles: list[Profile], first_community: list[int], homes: int) -> list[int]:
    """Live homes: residents of the first community who have both conditions, then any."""
    both = [i for i in first_community if profiles[i].hypertension and profiles[i].diabetes]
    rest = [i for i in first_community if i not in both]
    return (both + rest)[:homes]


async def seed(
    pool: AsyncConnectionPool,
    residents: int,
    homes: int,
    seed_value: int,
    now: datetime,
    step: Step,
) -> Seeded:
    """Seed the district into the (empty, migrated) database; `step` hears of progress."""
    period, passed = period_ending(now)
    people = district.people(residents, seed_value)
    members = [cohort_member(seed_value, i, period) for i in range(residents)]
    step("people", 0, residents)
    async with pool.connection() as conn, conn.transaction():
        places = await _places(conn)
        doctors = await _doctors(conn, places)
        gateway = await conn.execute(
            "INSERT INTO gateways (name, token_hash, last_seen_at) VALUES (%s, %s, %s) "
            "RETURNING id",
            ("邻里演示网关", token_hash(new_token(GATEWAY_TOKEN_PREFIX)), now),
        )
        gateway_row = await gateway.fetchone()
        assert gateway_row is not None
        demo_gateway = int(gateway_row[0])
        where: list[tuple[int, int]] = []
        ids: list[int] = []
        rng = np.random.default_rng([seed_value, 1_000_000])
        for i, (person, (profile, _track)) in enumerate(zip(people, members, strict=True)):
            community_id, place = places.communities[i % len(places.communities)]
            grid_id = places.grids[community_id][int(rng.integers(len(place.grids)))]
            ids.append(
                await _resident(
                    conn, person, profile, community_id, grid_id, doctors[place.subdistrict]
                )
            )
            where.append((community_id, grid_id))
            step("people", i + 1, residents)
        first = places.communities[0][0]
        chosen = _home_indexes(
            [p for p, _ in members], [i for i, (c, _) in enumerate(where) if c == first], homes
        )
        home_list = []
        for number, index in enumerate(chosen, start=1):
            home_list.append(
                Home(
                    ids[index],
                    index,
                    people[index].name,
                    f"EMU-BP-{number:03d}",
                    f"EMU-GL-{number:03d}",
                )
            )
        family = people[chosen[0]].children[0] if chosen else people[0].children[0]
        relative = ids[chosen[0]] if chosen else ids[0]
        family_user = await create_user(
            conn,
            UserCreate(
                username="family",
                display_name=family.name,
                role="family",
                password=district.PASSWORD,
            ),
        )
        await grant_resident(conn, family_user.id, relative)
    step("readings", 0, residents)
    live = {h.index: h for h in home_list}
    for i, (resident_id, (_profile, track)) in enumerate(zip(ids, members, strict=True)):
        async with pool.connection() as conn, conn.transaction():
            home = live.get(i)
            if home is not None:
                gateway_id, serials = demo_gateway, (home.bp_serial, home.glucose_serial)
            else:
                cur = await conn.execute(
                    "INSERT INTO gateways (name, token_hash, last_seen_at) "
                    "VALUES (%s, %s, %s) RETURNING id",
                    (f"{people[i].name}家", token_hash(new_token(GATEWAY_TOKEN_PREFIX)), now),
                )
                row = await cur.fetchone()
                assert row is not None
                gateway_id, serials = int(row[0]), (f"DEMO-BP-{i:04d}", f"DEMO-GL-{i:04d}")
            devices = (
                await _device(conn, serials[0], "blood_pressure", gateway_id, now, rng),
                await _device(conn, serials[1], "glucose", gateway_id, now, rng),
            )
            await _history(conn, track, devices, period, passed)
            for serial in serials:
                await assign_device(conn, serial, 255, resident_id)
        step("readings", i + 1, residents)
    step("detection", 0, residents)
    for i, resident_id in enumerate(ids):
        await check_resident(pool, resident_id, now, tell=False)
        step("detection", i + 1, residents)
    await summaries.refresh_everyone(pool, now, limit=residents)
    result = Seeded(seed_value, residents, now, demo_gateway, tuple(home_list), "family")
    async with pool.connection() as conn, conn.transaction():
        await _remember(conn, result)
    return result


async def _remember(conn: AsyncConnection[Any], seeded_district: Seeded) -> None:
    await conn.execute(
        """CREATE TABLE linli_demo (seed integer, residents integer, seeded_at timestamptz,
                                    gateway_id bigint, homes jsonb, family_user text)"""
    )
    homes = [
        {
            "resident_id": h.resident_id,
            "index": h.index,
            "name": h.name,
            "bp_serial": h.bp_serial,
            "glucose_serial": h.glucose_serial,
        }
        for h in seeded_district.homes
    ]
    await conn.execute(
        "INSERT INTO linli_demo VALUES (%s, %s, %s, %s, %s, %s)",
        (
            seeded_district.seed,
            seeded_district.residents,
            seeded_district.seeded_at,
            seeded_district.gateway_id,
            Jsonb(homes),
            seeded_district.family_user,
        ),
    )
