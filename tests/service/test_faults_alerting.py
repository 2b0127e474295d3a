"""Faults on the alerting path, with `linli serve` and `linli worker` as processes on the
embedded database and Twilio faked at the edge.

- A worker killed with SIGKILL at random moments of critical alerts' escalations (before a
  claim, while Twilio is being asked, after Twilio took a message but before it was
  recorded) and started again, round after round: every message the policy calls for goes
  out, is recorded once, moves forward only, and nobody hears the same thing twice.
- Twilio down for longer than the delivery horizon (answering 5xx, refusing connections,
  never answering): nothing is left hanging, escalation moves on to the next channel and
  person, and once Twilio is back what is still due goes out once.

Escalations are minutes apart in production; a community policy here makes them seconds
apart, and the settings shorten the send timeout and the horizon.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from service.alerting.delivery import deliver_due, reconcile_stale
from service.alerting.outbox import claim_due
from service.settings import Settings
from tests.effort import record, tries
from tests.fake_twilio import FakeTwilio, OutageMode
from tests.homes import bp, glucose
from tests.processes import Running, wait_until
from tests.service.alerting_home import DAUGHTER, DOCTOR, SON, Household, urgent_pressure
from tests.service.test_alerting_processes import Service

VOICE_AFTER = 2.0  # seconds after the alert: a call to the daughter
NEXT_AFTER = 4.0  # the son, by SMS and by a call
STEPS = [
    {"to": "family", "rank": 1},
    {"to": "doctor"},
    {"to": "family", "rank": 1, "channel": "voice", "after_minutes": VOICE_AFTER / 60},
    {"to": "family", "rank": 2, "after_minutes": NEXT_AFTER / 60},
    {"to": "family", "rank": 2, "channel": "voice", "after_minutes": NEXT_AFTER / 60},
]
# (to, channel, purpose) of every message one critical alert and its all-clear call for.
ESCALATION = {
    (DAUGHTER, "sms", "alert"),
    (DOCTOR, "sms", "alert"),
    (DAUGHTER, "voice", "escalation"),
    (SON, "sms", "escalation"),
    (SON, "voice", "escalation"),
}
ALL_CLEAR = {
    (DAUGHTER, "sms", "all_clear"),
    (DOCTOR, "sms", "all_clear"),
    (SON, "sms", "all_clear"),
}
SEND_TIMEOUT = 1.0  # seconds; a send unfinished after three of them is looked up at Twilio

# Every status change of every message, in order, kept by the test database itself.
WATCH_STATUSES = """
CREATE TABLE test_status_moves (
    seq bigint GENERATED ALWAYS AS IDENTITY, notification_id bigint, old text, new text);
CREATE FUNCTION test_note_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status THEN
        INSERT INTO test_status_moves (notification_id, old, new)
        VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER test_note_status AFTER INSERT OR UPDATE ON notifications
    FOR EACH ROW EXECUTE FUNCTION test_note_status();
"""
# How far along a message is. It may go back only from 'sending' to 'pending': Twilio did not
# take it, and it is tried again.
STAGE = {"pending": 0, "sending": 1, "queued": 2, "sent": 3}
FINAL = ("delivered", "undelivered", "failed", "gave_up", "cancelled")


@dataclass(frozen=True)
class Row:
    """A message of the outbox, as the test looks at it."""

    id: int
    alert_id: int
    address: str
    channel: str
    purpose: str
    status: str
    provider_id: str | None
    body: str
    error: str | None

    @property
    def step(self) -> tuple[str, str, str]:
        return (self.address, self.channel, self.purpose)


def outbox(db: psycopg.Connection[Any], alert_id: int | None = None) -> list[Row]:
    rows = db.execute(
        """SELECT id, alert_id, address, channel, purpose, status, provider_id, body, error
           FROM notifications WHERE %(alert)s::bigint IS NULL OR alert_id = %(alert)s
           ORDER BY id""",
        {"alert": alert_id},
    ).fetchall()
    return [Row(*row) for row in rows]


def backward_moves(db: psycopg.Connection[Any]) -> tuple[int, list[tuple[Any, ...]]]:
    """How many status changes there were, and those that went back."""
    moves = db.execute(
        "SELECT notification_id, old, new FROM test_status_moves ORDER BY seq"
    ).fetchall()
    back = []
    for n, old, new in moves:
        if old is None or (old, new) == ("sending", "pending"):
            continue
        if old in FINAL or (new in STAGE and STAGE[new] <= STAGE[old]):
            back.append((n, old, new))
    return len(moves), back


def open_alerts(db: psycopg.Connection[Any]) -> list[int]:
    """Alerts not resolved that wrote messages."""
    rows = db.execute(
        """SELECT a.id FROM alerts a WHERE a.state <> 'resolved'
           AND EXISTS (SELECT 1 FROM notifications n WHERE n.alert_id = a.id) ORDER BY a.id"""
    ).fetchall()
    return [int(r[0]) for r in rows]


def sent_by_twilio(twilio: FakeTwilio) -> dict[str, dict[str, Any]]:
    """Every message and call Twilio created, by sid."""
    return {r["sid"]: r for r in [*twilio.messages, *twilio.calls]}


def creates(twilio: FakeTwilio) -> list[Any]:
    """The requests that asked Twilio to create a message or a call."""
    return [
        r
        for r in twilio.requests
        if r.method == "POST" and r.path.endswith(("/Messages.json", "/Calls.json"))
    ]


def unrecorded_sends(rows: list[Row], twilio: FakeTwilio) -> list[dict[str, Any]]:
    """What Twilio sent that no message of the outbox claims: sent twice (or from nowhere)."""
    recorded = {r.provider_id for r in rows}
    return [r for sid, r in sent_by_twilio(twilio).items() if sid not in recorded]


def check_recorded_as_sent(rows: list[Row], twilio: FakeTwilio) -> None:
    """Every message with a provider id is one Twilio has, to the same number and words."""
    sent = sent_by_twilio(twilio)
    for row in rows:
        if row.provider_id is None:
            continue
        assert row.provider_id in sent, f"{row} is not one Twilio has"
        resource = sent[row.provider_id]
        assert resource["to"] == row.address, (row, resource)
        if row.channel == "sms":
            assert resource["body"] == row.body, (row, resource)


def eventually(
    what: str, check: Callable[[], bool], seconds: float, also: Callable[[], str]
) -> None:
    """Wait for `check` to hold; after `seconds`, fail saying `what` and `also()`."""
    try:
        wait_until(check, seconds)
    except AssertionError:
        raise AssertionError(f"{what}: not within {seconds} s\n{also()}") from None


class Worker:
    """`linli worker`, killed with SIGKILL and started again when the test says."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.kills = 0
        self.running = Running("worker", settings=env)
        self.running.wait_for("worker ready")

    def kill_and_restart(self) -> None:
        self.running.kill()
        self.kills += 1
        self.running = Running("worker", settings=self.env)

    def close(self) -> None:
        self.running.stop()

    def state(self, db: psycopg.Connection[Any]) -> str:
        """The outbox and the worker's last words, to say where a test got stuck."""
        rows = "\n".join(str(row) for row in outbox(db))
        return f"outbox:\n{rows}\nworker:\n{self.running.output()}"


class Readings:
    """Readings of the resident's monitor and meter, each measured after the last."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.last = datetime.now(UTC) - timedelta(hours=1)

    def _next(self) -> datetime:
        at = max(self.last + timedelta(seconds=1), datetime.now(UTC) - timedelta(seconds=5))
        self.last = at.replace(microsecond=0)
        return self.last

    def pressure(self, systolic: float, diastolic: float) -> None:
        self.service.home.upload(bp(self._next(), systolic, diastolic))

    def sugar(self, mmol: float) -> None:
        self.service.home.upload(glucose(self._next(), mmol))


def worker_env(service: Service, horizon_seconds: float) -> dict[str, str]:
    return {
        **service.env,
        "LINLI_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
        "LINLI_SEND_RETRY_MINUTES": str(horizon_seconds / 60),
    }


@pytest.fixture
def service(
    settings: Settings, db: psycopg.Connection[Any], twilio: FakeTwilio
) -> Iterator[Service]:
    """`linli serve` and a home whose community escalates critical alerts within seconds."""
    running = Service(settings, db, twilio)
    try:
        policy = {"critical": {"steps": STEPS, "repeat_hours": 0}}
        db.execute(
            """UPDATE communities SET alerting_overrides = %s
               WHERE id = (SELECT community_id FROM residents WHERE id = %s)""",
            (json.dumps(policy), running.home.resident_id),
        )
        db.execute(WATCH_STATUSES)
        yield running
    finally:
        running.close()


# -- a worker killed at random moments --------------------------------------------------------

KILLS = ("at a random moment", "before Twilio took it", "after Twilio took it")
# Which send of a round a fault hits, by how many the round made before: the daughter's
# text, her call, the son's text, the first all-clear (each a while after the one before).
TARGETS = (0, 2, 3, 5)


@dataclass
class Round:
    """One critical alert, its escalation and its all-clear, with the worker killed once."""

    service: Service
    db: psycopg.Connection[Any]
    twilio: FakeTwilio
    worker: Worker
    readings: Readings
    rng: random.Random
    kill: str

    def run(self) -> int:
        """Run the round; the alert's id."""
        asked = len(creates(self.twilio))
        target = self.rng.choice(TARGETS)
        kill_after = self.rng.uniform(0, NEXT_AFTER + 2)
        injected_at = self._inject(asked) if target == 0 else None
        self.readings.pressure(200 + self.rng.randrange(30), 124)
        alert_id = self._alert()
        started = time.monotonic()
        killed = cleared = False
        deadline = started + 90
        while True:
            requests = creates(self.twilio)
            if injected_at is None and len(requests) >= asked + target:
                injected_at = self._inject(len(requests))
            if not killed and self._time_to_kill(requests, injected_at, started, kill_after):
                self.worker.kill_and_restart()
                killed = True
            rows = outbox(self.db, alert_id)
            if not cleared and self._delivered(rows, ESCALATION):
                self.readings.pressure(130, 80)
                cleared = True
            if killed and cleared and self._delivered(rows, ESCALATION | ALL_CLEAR):
                return alert_id
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"round ({self.kill}, send {target}) unfinished after 90 s\n"
                    + self.worker.state(self.db)
                )
            time.sleep(0.02)

    def _inject(self, asked: int) -> int | None:
        """Make the next send a faulty one (unless the worker is killed at a random moment);
        how many sends were asked for before it."""
        if self.kill == KILLS[1]:  # asked, never created, answered after the worker died
            self.twilio.stall_next(1, seconds=0.8)
        elif self.kill == KILLS[2]:  # created at once, answered after the worker died
            self.twilio.hold_answer_next(1, seconds=0.8)
        return asked

    def _alert(self) -> int:
        opened = lambda: open_alerts(self.db) != []  # noqa: E731
        eventually("the alert", opened, 30, lambda: self.worker.state(self.db))
        (alert_id,) = open_alerts(self.db)
        return alert_id

    def _time_to_kill(
        self, requests: list[Any], injected_at: int | None, started: float, kill_after: float
    ) -> bool:
        if self.kill == KILLS[0]:
            return time.monotonic() - started >= kill_after
        if injected_at is None or len(requests) <= injected_at:
            return False
        faulty = requests[injected_at]  # the send the fault hit, not answered yet
        if self.kill == KILLS[1]:
            return faulty.status is None
        return faulty.status is None and faulty.resource is not None

    @staticmethod
    def _delivered(rows: list[Row], steps: set[tuple[str, str, str]]) -> bool:
        return {r.step for r in rows if r.status == "delivered"} >= steps


def test_a_worker_killed_at_random_moments_loses_nothing_and_doubles_nothing(
    service: Service, db: psycopg.Connection[Any], twilio: FakeTwilio
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    rounds = tries(len(KILLS), 30)  # each kind of kill once in the quick variant
    worker = Worker(worker_env(service, horizon_seconds=60))
    readings = Readings(service)
    alerts = []
    kills: Counter[str] = Counter()
    try:
        for n in range(rounds):
            kill = KILLS[n % len(KILLS)] if n < len(KILLS) else rng.choice(KILLS)
            alerts.append(Round(service, db, twilio, worker, readings, rng, kill).run())
            kills[kill] += 1
    finally:
        worker.close()
    rows = [r for r in outbox(db) if r.alert_id in alerts]  # not a doctor's digest
    for alert_id in alerts:
        steps = Counter(r.step for r in rows if r.alert_id == alert_id)
        assert set(steps) == ESCALATION | ALL_CLEAR, f"seed {seed}, alert {alert_id}: {steps}"
        assert max(steps.values()) == 1, f"seed {seed}: a step recorded twice: {steps}"
    assert [r for r in rows if r.status != "delivered"] == [], f"seed {seed}"
    check_recorded_as_sent(rows, twilio)
    doubled = unrecorded_sends(rows, twilio)
    moves, back = backward_moves(db)
    test = "faults.alerting.worker_killed"
    record(test, "rounds survived", rounds)
    record(test, "kills", worker.kills)
    for kill, count in kills.items():
        record(test, f"kills {kill}", count)
    record(test, "notifications checked", len(rows))
    record(test, "status changes checked", moves)
    record(test, "duplicate sends", len(doubled))
    assert back == [], f"seed {seed}: statuses moved back: {back}"
    # A send whose worker died is looked up at Twilio before it is sent again: none twice.
    assert doubled == [], f"seed {seed}: sent twice: {doubled}"
    assert db.execute("SELECT DISTINCT state FROM alerts").fetchall() == [("resolved",)]


# -- Twilio down for longer than the delivery horizon -----------------------------------------

HORIZON = 4.0  # seconds one message is retried before its next channel or person is tried
# After a message to them gave up: a text is followed by a call (critical alerts), a call by
# the next person's text; the doctor's call ends the chain.
NEXT = {
    "sms": {DAUGHTER: (DAUGHTER, "voice"), SON: (SON, "voice"), DOCTOR: (DOCTOR, "voice")},
    "voice": {DAUGHTER: (SON, "sms"), SON: (DOCTOR, "sms")},
}
# Twilio down one way after another: never answering until a message whose send timed out
# has been given up; then answering 503, and refusing connections, each until the worker
# has tried it.
OUTAGE: list[tuple[OutageMode, int, str]] = [
    ("hang", 503, "given up"),
    ("error", 503, "tries"),
    ("refuse", 503, "tries"),
]


def progress(db: psycopg.Connection[Any], what: str) -> int:
    """How many sends were tried ("tries"), or messages given up ("given up"), so far."""
    if what == "tries":
        row = db.execute("SELECT coalesce(sum(attempts), 0) FROM notifications").fetchone()
    else:
        row = db.execute("SELECT count(*) FROM notifications WHERE status = 'gave_up'").fetchone()
    assert row is not None
    return int(row[0])


def test_twilio_down_longer_than_the_horizon_moves_on_and_loses_nothing(
    service: Service, db: psycopg.Connection[Any], twilio: FakeTwilio
) -> None:
    need = tries(1, 3)  # the long variant: each kind of outage lasts three times as long...
    kinds = 1 if need == 1 else 2  # ...and a low sugar comes beside the high pressure
    worker = Worker(worker_env(service, horizon_seconds=HORIZON))
    readings = Readings(service)
    down = time.monotonic()
    try:
        twilio.outage(*OUTAGE[0][:2])
        readings.pressure(210, 126)
        if kinds == 2:
            readings.sugar(2.6)
        eventually("the alerts", lambda: len(open_alerts(db)) == kinds, 30, worker.running.output)
        alerts = open_alerts(db)
        for mode, status, until in OUTAGE:
            twilio.outage(mode, status)
            target = progress(db, until) + need
            eventually(
                f"{until} while Twilio is down ({mode}, {status})",
                lambda until=until, target=target: progress(db, until) >= target,
                60,
                lambda: worker.state(db),
            )
        twilio.restore()
        outage = time.monotonic() - down
        assert sent_by_twilio(twilio) == {}

        def settled() -> bool:
            return all(r.status in FINAL for r in outbox(db) if r.alert_id in alerts)

        eventually("every message settled", settled, 90, lambda: worker.state(db))
    finally:
        worker.close()
    rows = [r for r in outbox(db) if r.alert_id in alerts]
    given_up = [r for r in rows if r.status == "gave_up"]
    # What was still due when Twilio came back went out; the rest gave up, each saying why.
    assert {r.status for r in rows} <= {"delivered", "gave_up"}, rows
    assert all(r.error for r in given_up), given_up
    assert given_up, f"nothing gave up in a {outage:.0f} s outage: {rows}"
    for r in given_up:  # ...and the alert moved on to the next channel or person
        after = NEXT[r.channel].get(r.address)
        steps = {(o.address, o.channel) for o in rows if o.alert_id == r.alert_id}
        assert after is None or after in steps, f"{r} gave up and the alert did not move on: {rows}"
    for alert_id in alerts:  # somebody heard of it, or every step gave up to the chain's end
        mine = [r for r in rows if r.alert_id == alert_id]
        heard = any(r.status == "delivered" for r in mine)
        assert heard or (DOCTOR, "voice") in {(r.address, r.channel) for r in mine}, mine
    check_recorded_as_sent(rows, twilio)
    doubled = unrecorded_sends(rows, twilio)
    told = Counter((r.alert_id, r.address, r.channel) for r in rows if r.provider_id)
    moves, back = backward_moves(db)
    test = "faults.alerting.twilio_down"
    record(test, "outage seconds", round(outage, 1))
    record(test, "alerts", len(alerts))
    record(test, "notifications checked", len(rows))
    record(test, "given up", len(given_up))
    record(test, "sent after the outage", len(told))
    record(test, "status changes checked", moves)
    record(test, "duplicate sends", len(doubled) + sum(n - 1 for n in told.values()))
    assert told, f"nothing went out once Twilio was back: {rows}"
    assert back == [], f"statuses moved back: {back}"
    assert doubled == [], f"sent twice: {doubled}"
    assert max(told.values()) == 1, f"somebody heard the same thing twice: {told}"


# -- the faults those found, one at a time ------------------------------------------------


def waiting(h: Household, channel: str, address: str, words: str) -> None:
    """A message for the doctor, due now, written straight into the outbox."""
    h.db.execute(
        """INSERT INTO notifications (purpose, severity, user_id, channel, address,
                                      language, body, due_at)
           VALUES ('alert', 'critical', %s, %s, %s, 'en', %s, now())""",
        (h.doctor, channel, address, words),
    )


def test_a_lost_call_is_not_taken_for_an_earlier_call_to_the_same_number(
    household: Household,
) -> None:
    h = household
    waiting(h, "voice", DOCTOR, "the first alert")
    now = datetime.now(UTC)
    assert h.deliver(now) == 1
    waiting(h, "voice", DOCTOR, "the second alert")

    async def claim_and_die(pool: Any) -> Any:
        async with pool.connection() as conn:
            return await claim_due(conn, datetime.now(UTC))

    assert h.run(claim_and_die) is not None  # Twilio never heard of the second call
    assert h.reconcile(now + timedelta(seconds=4)) == 1
    assert h.deliver(now + timedelta(seconds=4)) == 1
    calls = h.calls_to(DOCTOR)
    recorded = h.db.execute("SELECT provider_id FROM notifications ORDER BY id").fetchall()
    assert [sid for (sid,) in recorded] == [c["sid"] for c in calls]


def test_a_slow_twilio_with_many_messages_due_sends_none_twice(household: Household) -> None:
    h = household
    for i in range(4):
        waiting(h, "sms", f"+86139{i:08d}", f"message {i}")
    # Twilio takes 0.9 s over each (under the 1 s timeout): a worker sending all four is still
    # at its last one a lease (3 s) after its round began.
    h.twilio.stall_next(4, seconds=0.9, then_create=True)
    horizon = timedelta(minutes=10)
    pending = "SELECT count(*) FROM notifications WHERE status = 'pending'"

    async def a_worker_and_a_job_starting_later(pool: AsyncConnectionPool) -> None:
        began = time.monotonic()
        sending = asyncio.create_task(deliver_due(pool, h.delivery(), datetime.now(UTC), horizon))
        while True:  # until the worker is at its last send, a lease after its round began
            if h.db.execute(pending).fetchone() == (0,) and time.monotonic() - began > 3.1:
                break
            await asyncio.sleep(0.02)
        # Another delivery starts, settling abandoned sends first: the last one is not.
        await reconcile_stale(pool, h.delivery(), datetime.now(UTC))
        await deliver_due(pool, h.delivery(), datetime.now(UTC), horizon)
        await sending

    h.run(a_worker_and_a_job_starting_later)
    assert sorted(m["body"] for m in h.twilio.messages) == [f"message {i}" for i in range(4)]


def test_an_alert_that_cleared_while_its_send_hung_is_not_sent_late(household: Household) -> None:
    h = household
    h.twilio.stall_next(1, seconds=1.5)  # no answer within the timeout; nothing sent
    noticed = urgent_pressure(h)
    assert h.deliver(noticed) == 0
    assert h.outbox()[0] == (DAUGHTER, "sms", "alert", "sending")
    h.home.upload(bp(noticed - timedelta(seconds=30), 135, 85))  # re-measured: back down
    h.check(noticed + timedelta(seconds=1))
    assert h.alert()[2] == "resolved"
    h.reconcile(noticed + timedelta(seconds=4))  # Twilio has no trace of it
    h.deliver(noticed + timedelta(seconds=4))
    assert h.texts_to(DAUGHTER) == []  # no crisis text after the pressure came down
    assert h.outbox()[0] == (DAUGHTER, "sms", "alert", "cancelled")
