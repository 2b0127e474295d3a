"""A home for service tests: a resident with a monitor and a meter behind one gateway, the API
to upload to, and readings built in a line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from analytics.readings import Kind, Reading
from service.settings import Settings
from tests.factories import assign, community, new_gateway, resident

# Residents' readings in these tests are a few days old at most; a large stale limit lets the
# replay (which has no receipt times) and the live service (which has) judge them alike.
SETTINGS = {"stale_hours": 24 * 365}


@dataclass
class Home:
    """A resident with a monitor and a meter behind one gateway, and the API to upload to."""

    api: httpx.Client
    token: str
    resident_id: int
    serial_suffix: str = ""  # a neighbour's devices: "BP-HOME-2", "GL-HOME-2"

    def upload(self, *readings: Reading) -> None:
        items = [item(r, self.serial_suffix) for r in readings]
        answer = self.api.post(
            "/v1/readings",
            json={"readings": items},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["rejected"] == 0, answer.text


def item(reading: Reading, serial_suffix: str = "") -> dict[str, Any]:
    when = reading.measured_at.isoformat()
    if reading.kind is Kind.BLOOD_PRESSURE:
        return {
            "kind": "blood_pressure",
            "device_serial": "BP-HOME" + serial_suffix,
            "measured_at": when,
            "unit": "mmHg",
            "systolic": reading.systolic,
            "diastolic": reading.diastolic,
            "pulse": reading.pulse,
        }
    return {
        "kind": "glucose",
        "device_serial": "GL-HOME" + serial_suffix,
        "measured_at": when,
        "unit": "mmol/L",
        "concentration": reading.glucose_mmol_l,
        "meal": None if reading.meal is None else str(reading.meal),
    }


def start_of(days_ago: float) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days_ago)).replace(microsecond=0)


def bp(at: datetime, systolic: float, diastolic: float, pulse: float = 72) -> Reading:
    return Reading("live", at, Kind.BLOOD_PRESSURE, systolic, diastolic, pulse)


def glucose(at: datetime, mmol: float) -> Reading:
    return Reading("live", at, Kind.GLUCOSE, glucose_mmol_l=mmol)


def make_home(settings: Settings, db: psycopg.Connection[Any], api: httpx.Client) -> Home:
    place = community(db)
    resident_id = resident(db, place)
    db.execute(
        "UPDATE residents SET detection_overrides = %s WHERE id = %s",
        (json.dumps(SETTINGS), resident_id),
    )
    _, token = new_gateway(settings.database_url or "", "王家")
    home = Home(api, token, resident_id)
    long_ago = start_of(400)  # registers both devices; before the resident had them
    home.upload(bp(long_ago, 120, 80), glucose(long_ago, 6.0))
    assign(settings.database_url or "", "BP-HOME", resident_id)
    assign(settings.database_url or "", "GL-HOME", resident_id)
    return home


def alerts(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT rule, severity, state FROM alerts ORDER BY id").fetchall()
