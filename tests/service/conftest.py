"""Fixtures of the service tests: Twilio faked at the edge, and a household to alert."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from service.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.fake_twilio import FakeTwilio
from tests.homes import make_home
from tests.service.alerting_home import Household, add_people, alerting_settings


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def household(
    settings: Settings, db: psycopg.Connection[Any], twilio: FakeTwilio
) -> Iterator[Household]:
    port = free_port()
    ours = alerting_settings(settings, twilio, port)
    with (
        LiveServer(ours, port) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        home = make_home(ours, db, api)
        daughter, son, doctor = add_people(db, home.resident_id)
        yield Household(home, ours, twilio, db, daughter, son, doctor)
