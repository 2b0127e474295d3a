"""A small clinic for page tests: a community with a doctor, an admin, two residents with a
week of readings and an alert each, and a daughter who may see only her mother."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from service.passwords import hash_password
from service.readings import summaries
from service.settings import Settings
from tests.conftest import LiveServer
from tests.factories import community, resident

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Clinic:
    """Who is who in the clinic."""

    community_id: int
    mother: int  # the daughter's mother
    neighbour: int  # another resident of the community
    alert_id: int  # the mother's open urgent alert


def _user(db: psycopg.Connection[Any], username: str, name: str, role: str, language: str) -> int:
    row = db.execute(
        """INSERT INTO users (username, display_name, role, password_hash, language)
           VALUES (%s, %s, %s, %s, %s) RETURNING id""",
        (username, name, role, hash_password(PASSWORD), language),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _readings(db: psycopg.Connection[Any], resident_id: int, serial: str, high: float) -> None:
    gateway = db.execute(
        "INSERT INTO gateways (name, token_hash) VALUES (%s, %s) RETURNING id",
        (serial, serial.encode()),
    ).fetchone()
    assert gateway is not None
    device = db.execute(
        """INSERT INTO devices (serial, kind, battery_percent, clock_offset_seconds, gateway_id)
           VALUES (%s, 'blood_pressure', 80, 12.5, %s) RETURNING id""",
        (serial, gateway[0]),
    ).fetchone()
    assert device is not None
    db.execute(
        "INSERT INTO device_users (device_id, user_index, resident_id) VALUES (%s, 255, %s)",
        (device[0], resident_id),
    )
    now = datetime.now(UTC).replace(microsecond=0)
    for day in range(7):
        at = now - timedelta(days=day, hours=2)
        db.execute(
            """INSERT INTO blood_pressure_readings (device_id, resident_id, measured_at,
                   systolic, diastolic, pulse, unit_sent)
               VALUES (%s, %s, %s, %s, %s, 72, 'mmHg')""",
            (device[0], resident_id, at, high if day == 0 else 138 + day, 86),
        )


async def _count_months(conninfo: str, residents: list[int]) -> None:
    """The residents' months, as after any load that bypasses the checks."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await summaries.rebuild_months(conn, residents)


def _alert(db: psycopg.Connection[Any], resident_id: int, rule: str, severity: str) -> int:
    now = datetime.now(UTC)
    row = db.execute(
        """INSERT INTO alerts (resident_id, rule, severity, audience, message, opened_at,
                               updated_at, reading_at)
           VALUES (%s, %s, %s, '{family,doctor}', 'Blood pressure 186/104', %s, %s, %s)
           RETURNING id""",
        (resident_id, rule, severity, now, now, now - timedelta(hours=2)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def open_clinic(db: psycopg.Connection[Any]) -> Clinic:
    """The clinic's people and data."""
    place = community(db, "敦仁社区")
    mother = resident(db, place, "王秀英")
    neighbour = resident(db, place, "李桂兰")
    doctor = _user(db, "dr.li", "李医生", "doctor", "zh-CN")
    db.execute("INSERT INTO user_communities VALUES (%s, %s)", (doctor, place))
    _user(db, "admin", "Admin", "admin", "en")
    daughter = _user(db, "xiaohong", "王小红", "family", "zh-CN")
    db.execute("INSERT INTO user_residents VALUES (%s, %s)", (daughter, mother))
    db.execute(
        """INSERT INTO contacts (resident_id, name, kind, relationship, phone, escalation_order)
           VALUES (%s, '王小红', 'family', '女儿', '+8613800138001', 1)""",
        (mother,),
    )
    _readings(db, mother, "BP-MOTHER", 186)
    _readings(db, neighbour, "BP-NEIGHBOUR", 150)
    with ThreadPoolExecutor(1) as aside:  # the browser tests' Playwright holds this thread's loop
        aside.submit(asyncio.run, _count_months(db.info.dsn, [mother, neighbour])).result()
    alert_id = _alert(db, mother, "bp.urgent", "urgent")
    _alert(db, neighbour, "bp.uncontrolled", "warning")
    return Clinic(place, mother, neighbour, alert_id)


# Fixtures of the tests that use the clinic: import them by name into the test module.
@pytest.fixture
def clinic(db: psycopg.Connection[Any]) -> Clinic:
    """The clinic, in the test's own database."""
    return open_clinic(db)


@pytest.fixture
def site(settings: Settings, clinic: Clinic) -> Iterator[str]:
    """The address of Linli serving the clinic (the pages and the API)."""
    with LiveServer(settings.model_copy(update={"run_worker": False})) as server:
        yield server.url
