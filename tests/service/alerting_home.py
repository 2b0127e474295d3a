"""A household for alerting tests: a resident's home uploading to a live service, a daughter,
a son and the community doctor with phones, and Twilio faked at the edge.

Detection and delivery run in the test, on a clock the test moves; the service answers
Twilio's callbacks on a real socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from service.alerting.delivery import Delivery, deliver_due, reconcile_stale
from service.alerting.providers.twilio import TwilioProvider
from service.detection.service import check_resident
from service.settings import Settings
from tests.fake_twilio import FakeTwilio
from tests.homes import Home, bp, glucose

SENDER = "+15005550006"
DAUGHTER = "+8613800138001"
SON = "+8613800138002"
DOCTOR = "+8613911112222"
T = TypeVar("T")


@dataclass
class Household:
    """The resident's home, the people around them, the service and the fake Twilio."""

    home: Home
    settings: Settings
    twilio: FakeTwilio
    db: psycopg.Connection[Any]
    daughter: int
    son: int
    doctor: int

    @property
    def url(self) -> str:
        assert self.settings.public_url is not None
        return self.settings.public_url

    def run(self, work: Callable[[AsyncConnectionPool], Awaitable[T]]) -> T:
        """Run `work` on a pool of the test database."""

        async def main() -> T:
            url = self.settings.database_url or ""
            async with AsyncConnectionPool(url, min_size=1, max_size=4, open=False) as pool:
                return await work(pool)

        return asyncio.run(main())

    def delivery(self) -> Delivery:
        return Delivery.configured(self.settings, TwilioProvider(self.settings))

    def check(self, now: datetime) -> None:
        """Detection checks the resident's uploads as of `now`."""
        self.run(lambda pool: check_resident(pool, self.home.resident_id, now))

    def deliver(self, now: datetime) -> int:
        """A worker sends what is due at `now`; how many went to Twilio."""
        horizon = timedelta(minutes=self.settings.send_retry_minutes)
        return self.run(lambda pool: deliver_due(pool, self.delivery(), now, horizon))

    def reconcile(self, now: datetime) -> int:
        return self.run(lambda pool: reconcile_stale(pool, self.delivery(), now))

    def alert(self) -> tuple[Any, ...]:
        row = self.db.execute(
            """SELECT rule, severity, state, acknowledged_by, acknowledged_via FROM alerts
               ORDER BY id DESC LIMIT 1"""
        ).fetchone()
        assert row is not None
        return tuple(row)

    def outbox(self) -> list[tuple[Any, ...]]:
        """(address, channel, purpose, status) of every message, in order."""
        rows = self.db.execute(
            "SELECT address, channel, purpose, status FROM notifications ORDER BY id"
        ).fetchall()
        return [tuple(row) for row in rows]

    def texts_to(self, number: str) -> list[str]:
        return [m["body"] for m in self.twilio.messages if m["to"] == number]

    def calls_to(self, number: str) -> list[dict[str, Any]]:
        return [c for c in self.twilio.calls if c["to"] == number]

    def spoken(self, call: dict[str, Any]) -> str:
        """The TwiML a call was placed with."""
        for request in self.twilio.requests:
            if request.resource is not None and request.resource.get("sid") == call["sid"]:
                return str(request.form["Twiml"])
        raise AssertionError(f"no request created call {call['sid']}")

    def reply(self, number: str, body: str) -> httpx.Response:
        return self.twilio.reply(f"{self.url}/v1/twilio/inbound", number, body, to=SENDER)


def alerting_settings(settings: Settings, twilio: FakeTwilio, port: int) -> Settings:
    """Settings of a service sending through the fake Twilio, reachable on `port`."""
    return settings.model_copy(
        update={
            "run_worker": False,
            "twilio_account_sid": twilio.account_sid,
            "twilio_auth_token": SecretStr(twilio.auth_token),
            "twilio_from": SENDER,
            "twilio_base_url": twilio.url,
            "public_url": f"http://127.0.0.1:{port}",
            "send_timeout_seconds": 1.0,
        }
    )


def add_people(db: psycopg.Connection[Any], resident_id: int) -> tuple[int, int, int]:
    """A daughter and a son (in that order of escalation), and the community's doctor."""
    ids = []
    for order, (name, phone) in enumerate([("王小红", DAUGHTER), ("王小明", SON)], start=1):
        row = db.execute(
            """INSERT INTO contacts (resident_id, name, kind, phone, escalation_order)
               VALUES (%s, %s, 'family', %s, %s) RETURNING id""",
            (resident_id, name, phone, order),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    row = db.execute(
        """INSERT INTO users (username, display_name, role, phone)
           VALUES ('dr.li', '李医生', 'doctor', %s) RETURNING id""",
        (DOCTOR,),
    ).fetchone()
    assert row is not None
    db.execute(
        """INSERT INTO user_communities (user_id, community_id)
           SELECT %s, community_id FROM residents WHERE id = %s""",
        (row[0], resident_id),
    )
    return ids[0], ids[1], int(row[0])


def urgent_pressure(h: Household, noticed: datetime | None = None) -> datetime:
    """Two readings over the urgent line, three minutes apart: an urgent alert, noticed at
    `noticed` (default now; readings cannot come from the future). Returns that time."""
    now = noticed or datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(minutes=10)
    h.home.upload(bp(first, 186, 100), bp(first + timedelta(minutes=3), 184, 104))
    h.check(now)
    return now


def low_sugar(h: Household) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    h.home.upload(glucose(now - timedelta(minutes=2), 2.6))
    h.check(now)
    return now
