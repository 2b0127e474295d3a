"""Sending the outbox when Twilio misbehaves: retries, giving up and moving on, two workers,
answers lost in a timeout, a worker gone mid-send, and the doctors' morning digest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from service.alerting import outbox
from service.alerting.delivery import deliver_due
from service.alerting.digest import prepare_digests
from tests.service.alerting_home import (
    DAUGHTER,
    DOCTOR,
    SON,
    Household,
    low_sugar,
    urgent_pressure,
)


def deliver_until_done(h: Household, start: datetime, step: timedelta, limit: int = 40) -> None:
    """Workers run every `step` from `start` until the first messages are all sent."""
    now = start
    for _ in range(limit):
        h.deliver(now)
        pending = h.db.execute(
            """SELECT count(*) FROM notifications
               WHERE purpose = 'alert' AND status IN ('pending', 'sending')"""
        ).fetchone()
        if pending == (0,):
            return
        now += step
    raise AssertionError(f"still sending after {limit} rounds: {h.outbox()}")


class TestRetries:
    def test_twilio_failing_for_a_while_delivers_every_message_once(self, household):
        h = household
        h.twilio.fail_next(2, status=500)
        h.twilio.fail_next(1, status=429)
        h.twilio.fail_next(1, status=503)
        noticed = low_sugar(h)  # critical: the daughter and the doctor at once
        deliver_until_done(h, noticed, timedelta(seconds=30), limit=12)
        assert len(h.texts_to(DAUGHTER)) == 1
        assert len(h.texts_to(DOCTOR)) == 1
        attempts = h.db.execute(
            "SELECT sum(attempts) FROM notifications WHERE purpose = 'alert'"
        ).fetchone()
        assert attempts == (6,)  # four failures, two successes

    def test_retries_wait_longer_each_time(self, household):
        h = household
        h.twilio.fail_next(3, status=500)
        noticed = urgent_pressure(h)
        h.deliver(noticed)
        waits = []
        for _ in range(3):
            (due,) = (
                h.db.execute("SELECT due_at FROM notifications WHERE purpose = 'alert'").fetchone()
                or ()
            )
            waits.append((due - noticed).total_seconds())
            h.deliver(due)
        assert waits[0] < waits[1] < waits[2]
        assert 2.5 <= waits[0] <= 5
        assert len(h.texts_to(DAUGHTER)) == 1

    def test_after_the_horizon_the_next_channel_is_tried(self, household):
        h = household
        h.twilio.fail_next(1000, status=503)  # Twilio down for good
        noticed = urgent_pressure(h)
        now = noticed
        while now < noticed + timedelta(minutes=13):  # retries come at most 2 minutes apart
            h.deliver(now)
            now += timedelta(minutes=1)
        statuses = h.db.execute(
            "SELECT address, channel, status FROM notifications ORDER BY id"
        ).fetchall()
        assert statuses[0] == (DAUGHTER, "sms", "gave_up")
        assert (DAUGHTER, "voice", "pending") in statuses

    def test_a_number_that_refuses_is_not_retried_and_the_next_person_is_told(self, household):
        h = household
        h.twilio.reject_number(DAUGHTER, code=21610)
        noticed = urgent_pressure(h)
        h.deliver(noticed)
        h.deliver(noticed + timedelta(seconds=1))
        assert len(h.texts_to(SON)) == 1
        rows = h.db.execute(
            "SELECT address, channel, status, attempts FROM notifications ORDER BY id"
        ).fetchall()
        assert rows[0] == (DAUGHTER, "sms", "failed", 1)
        assert (DAUGHTER, "voice", "failed", 1) in rows


def _pending_texts(h: Household, count: int) -> None:
    """`count` messages waiting in the outbox, each to its own number."""
    for i in range(count):
        h.db.execute(
            """INSERT INTO notifications (purpose, severity, user_id, channel, address,
                                          language, body, due_at)
               VALUES ('alert', 'urgent', %s, 'sms', %s, 'en', %s, now() - interval '1 s')""",
            (h.doctor, f"+86139{i:08d}", f"message {i}"),
        )


class TestWorkers:
    def test_two_workers_never_send_one_message_twice(self, household):
        h = household
        _pending_texts(h, 30)
        horizon = timedelta(minutes=10)

        async def two_workers(pool: AsyncConnectionPool) -> list[int]:
            now = datetime.now(UTC)
            return list(
                await asyncio.gather(
                    deliver_due(pool, h.delivery(), now, horizon),
                    deliver_due(pool, h.delivery(), now, horizon),
                )
            )

        counts = h.run(two_workers)
        assert sum(counts) == 30
        assert all(count > 0 for count in counts)  # both took a share
        bodies = [m["body"] for m in h.twilio.messages]
        assert sorted(bodies) == sorted(f"message {i}" for i in range(30))

    def test_an_answer_lost_in_a_timeout_is_looked_up_not_sent_again(self, household):
        h = household
        h.twilio.stall_next(1, seconds=1.5, then_create=True)  # the client gives up at 1 s
        noticed = urgent_pressure(h)
        assert h.deliver(noticed) == 0
        assert h.outbox()[0][3] == "sending"
        h.twilio.wait_for_messages(1)  # Twilio did take it
        assert h.reconcile(noticed + timedelta(seconds=2)) == 0  # the lease still runs
        assert h.reconcile(noticed + timedelta(seconds=4)) == 1
        assert h.deliver(noticed + timedelta(seconds=5)) == 0
        assert len(h.texts_to(DAUGHTER)) == 1
        row = h.db.execute(
            "SELECT provider_id, status FROM notifications ORDER BY id LIMIT 1"
        ).fetchone()
        assert row is not None
        assert row[0] == h.twilio.messages[0]["sid"]
        assert row[1] in ("queued", "sent", "delivered")
        assert h.alert()[2] == "notified"

    def test_a_worker_gone_before_twilio_heard_of_it_is_sent_again_once(self, household):
        h = household
        noticed = urgent_pressure(h)

        async def claim_and_die(pool: AsyncConnectionPool) -> Any:
            async with pool.connection() as conn:
                return await outbox.claim_due(conn, noticed)

        assert h.run(claim_and_die) is not None  # claimed, then the worker vanished
        assert h.deliver(noticed) == 0  # nobody else takes it while it might be in flight
        h.reconcile(noticed + timedelta(seconds=4))
        assert h.deliver(noticed + timedelta(seconds=4)) == 1
        assert len(h.texts_to(DAUGHTER)) == 1


class TestEarlyReports:
    def test_a_report_before_the_send_is_recorded_is_kept_and_acted_on(self, household):
        h = household
        noticed = urgent_pressure(h)

        async def claim(pool: AsyncConnectionPool) -> Any:
            async with pool.connection() as conn:
                return await outbox.claim_due(conn, noticed)

        claimed = h.run(claim)  # being sent; Twilio's answer not recorded yet
        url = f"{h.url}/v1/twilio/status?notification={claimed.id}"
        report = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "undelivered"}
        answer = httpx.post(
            url, data=report, headers={"X-Twilio-Signature": h.twilio.sign(url, report)}
        )
        assert answer.status_code == 204

        async def accepted(pool: AsyncConnectionPool) -> None:
            async with pool.connection() as conn:
                await outbox.record_accepted(conn, claimed.id, "queued", "twilio", "SM" + "1" * 32)

        h.run(accepted)  # the worker records Twilio's answer after the report
        rows = h.db.execute(
            "SELECT address, channel, status, provider_id FROM notifications ORDER BY id"
        ).fetchall()
        assert rows[0] == (DAUGHTER, "sms", "undelivered", "SM" + "1" * 32)
        assert (DAUGHTER, "voice", "pending", None) in rows  # it moved on at once


class TestDigest:
    def test_doctors_get_one_morning_digest_of_their_warnings(self, household):
        h = household
        morning = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 08:30 in Chongqing
        h.db.execute(
            """INSERT INTO alerts (resident_id, rule, severity, audience, message,
                                   opened_at, updated_at)
               VALUES (%s, 'bp.drift.up', 'warning', '{doctor}', 'risen', %s, %s)""",
            (h.home.resident_id, morning - timedelta(hours=9), morning - timedelta(hours=9)),
        )

        async def digests(pool: AsyncConnectionPool, at: datetime) -> int:
            async with pool.connection() as conn:
                return await prepare_digests(conn, at, hour=8)

        assert h.run(lambda pool: digests(pool, morning - timedelta(hours=1))) == 0  # 07:30
        assert h.run(lambda pool: digests(pool, morning)) == 1
        assert h.run(lambda pool: digests(pool, morning + timedelta(minutes=1))) == 0
        h.deliver(morning)
        (text,) = h.texts_to(DOCTOR)
        assert "王秀英" in text
        assert "工作台" in text
