"""Test data: gateways, residents, users and readings, made through Linli's own functions."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg

from service.admin.devices import assign_device
from service.admin.gateways import create_gateway, revoke_gateway
from service.tokens import USER_TOKEN_PREFIX, new_token, token_hash

T = TypeVar("T")
_serials = itertools.count(1)


def in_transaction(
    conninfo: str, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]
) -> T:
    """Run `work` in one committed transaction on the database."""

    async def main() -> T:
        async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
            return await work(conn)

    return asyncio.run(main())


def new_gateway(conninfo: str, name: str = "home") -> tuple[int, str]:
    """Register a gateway; return its id and bearer token."""
    gateway, token = in_transaction(conninfo, lambda conn: create_gateway(conn, name))
    return gateway.id, token


def revoke(conninfo: str, gateway_id: int) -> None:
    """Revoke a gateway's token."""
    in_transaction(conninfo, lambda conn: revoke_gateway(conn, gateway_id))


def assign(conninfo: str, serial: str, resident_id: int, user_index: int = 255) -> int:
    """Assign a device user to a resident; return how many waiting readings were attached."""
    result = in_transaction(
        conninfo, lambda conn: assign_device(conn, serial, user_index, resident_id)
    )
    return result.readings_attached


def community(db: psycopg.Connection[Any], name: str = "敦仁社区") -> int:
    """A community; returns its id."""
    row = db.execute("INSERT INTO communities (name) VALUES (%s) RETURNING id", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def resident(db: psycopg.Connection[Any], community_id: int, name: str = "王秀英") -> int:
    """A resident with hypertension and diabetes; returns the id."""
    row = db.execute(
        """INSERT INTO residents (name, sex, birth_date, conditions, community_id)
           VALUES (%s, 'female', '1944-03-02', '{hypertension,diabetes}', %s) RETURNING id""",
        (name, community_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def user_token(
    db: psycopg.Connection[Any],
    role: str,
    *,
    communities: tuple[int, ...] = (),
    residents: tuple[int, ...] = (),
) -> str:
    """A user with a fresh API token; doctors serve `communities`, family see `residents`."""
    username = f"{role}{next(_serials)}"
    row = db.execute(
        "INSERT INTO users (username, display_name, role) VALUES (%s, %s, %s) RETURNING id",
        (username, username, role),
    ).fetchone()
    assert row is not None
    user_id = int(row[0])
    for community_id in communities:
        db.execute("INSERT INTO user_communities VALUES (%s, %s)", (user_id, community_id))
    for resident_id in residents:
        db.execute("INSERT INTO user_residents VALUES (%s, %s)", (user_id, resident_id))
    token = new_token(USER_TOKEN_PREFIX)
    db.execute(
        "INSERT INTO user_tokens (user_id, token_hash) VALUES (%s, %s)",
        (user_id, token_hash(token)),
    )
    return token


def auth(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


BASE_TIME = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)


def blood_pressure(
    serial: str = "BP-1",
    *,
    minutes: int = 0,
    systolic: float = 128,
    diastolic: float = 82,
    **extra: Any,
) -> dict[str, Any]:
    """A blood-pressure reading as a gateway sends it (mmHg unless `unit` says otherwise)."""
    reading: dict[str, Any] = {
        "kind": "blood_pressure",
        "device_serial": serial,
        "measured_at": (BASE_TIME + timedelta(minutes=minutes)).isoformat(),
        "unit": "mmHg",
        "systolic": systolic,
        "diastolic": diastolic,
        "pulse": 72,
    }
    reading.update(extra)
    return reading


def glucose(
    serial: str = "GL-1",
    *,
    sequence: int | None = None,
    minutes: int = 0,
    mmol: float = 6.1,
    **extra: Any,
) -> dict[str, Any]:
    """A glucose reading as a gateway sends it (mmol/L unless `unit` says otherwise)."""
    reading: dict[str, Any] = {
        "kind": "glucose",
        "device_serial": serial,
        "measured_at": (BASE_TIME + timedelta(minutes=minutes)).isoformat(),
        "unit": "mmol/L",
        "concentration": mmol,
    }
    if sequence is not None:
        reading["sequence_number"] = sequence
    reading.update(extra)
    return reading


def count(db: psycopg.Connection[Any], table: str) -> int:
    """Rows in a readings table."""
    row = db.execute(
        psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))
    ).fetchone()
    assert row is not None
    return int(row[0])
