"""Sending what the outbox holds: one worker per message, retries with backoff, giving up
after a horizon and moving on to the next channel or person, and reconciling a send whose
worker died before it could record the answer.

A message is claimed (status 'sending') in its own short transaction, sent outside any
transaction, and its outcome recorded in another. Two workers never claim the same row. A
worker killed between the provider's answer and the record leaves the row 'sending': after
a lease the row is looked up at the provider by recipient and time (passing over what other
messages of ours to the number already claim), and recorded, or sent again when the provider
has no trace of it; given up after the horizon when the provider cannot even be asked. A
message moving on to a channel or person the policy had planned for later brings that one
forward instead of writing it twice.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from analytics.findings import Severity
from service.alerting import messages, outbox
from service.alerting.notify import reading_of
from service.alerting.outbox import Notification
from service.alerting.people import Household, load_household
from service.alerting.plan import Planned, next_person
from service.alerting.providers.base import Outgoing, Provider, SendFailed
from service.settings import Settings

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 120.0
# A lookup at the provider passes over the ids of other messages to the same number claimed
# this long before the one looked up (the provider looks a little before it too).
TAKEN_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class Delivery:
    """How this service sends: the provider, where callbacks come back, the lease."""

    provider: Provider
    public_url: str | None = None
    lease: timedelta = timedelta(seconds=60)

    @classmethod
    def configured(cls, settings: Settings, provider: Provider) -> Delivery:
        """Sending through `provider` as the settings say: an unfinished send is looked up
        once three of its timeouts have passed."""
        lease = timedelta(seconds=3 * settings.send_timeout_seconds)
        return cls(provider, settings.public_url, lease)

    def outgoing(self, n: Notification) -> Outgoing:
        """The provider's view of a notification."""
        base = None if self.public_url is None else self.public_url.rstrip("/")
        # The report names the notification too: it may come before the provider's id for
        # the message is recorded here.
        status_url = None if base is None else f"{base}/v1/twilio/status?notification={n.id}"
        keypress = None
        if base is not None and n.channel == "voice":
            keypress = f"{base}/v1/twilio/voice?notification={n.id}"
        return Outgoing(n.id, n.channel, n.address, n.body, n.language, status_url, keypress)  # type: ignore[arg-type]


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempts + 1`: doubling from 5 s, at most 2 minutes, with
    jitter so that many workers do not retry in step; never sooner than the provider asked."""
    ceiling = min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


async def deliver_due(
    pool: AsyncConnectionPool, delivery: Delivery, now: datetime, horizon: timedelta
) -> int:
    """Send every message due by `now`; how many were handed to the provider."""
    clock = _Running(now)
    sent = 0
    while True:
        at = clock()
        async with pool.connection() as conn, conn.transaction():
            claimed = await outbox.claim_due(conn, at)
            if claimed is None:
                return sent
            if not await _still_wanted(conn, claimed):
                await outbox.record(conn, claimed.id, "cancelled")
                continue
        sent += await _send(pool, delivery, claimed, now, horizon)


class _Running:
    """`now`, moving on with the time a round of sends or lookups has taken so far.

    Each claim is stamped with the time it is made: a slow provider keeps a round going for
    longer than the lease, and a claim stamped with the round's start would look abandoned
    while its send is still under way (and be sent again by another worker). What a claim
    leads to (a retry's time, the horizon) still counts from the round's `now`."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.began = time.monotonic()

    def __call__(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.began)


async def _alert_waiting(conn: AsyncConnection[Any], alert_id: int | None) -> bool:
    """Whether the alert still waits for someone to acknowledge it."""
    cur = await conn.execute("SELECT state FROM alerts WHERE id = %s", (alert_id,))
    row = await cur.fetchone()
    return row is not None and row[0] in ("open", "notified", "escalated")


async def _still_wanted(conn: AsyncConnection[Any], n: Notification) -> bool:
    """A message about an alert goes out only while the alert waits for an acknowledgement.

    Acknowledging or resolving an alert cancels its waiting messages; this catches those
    that were being sent just then and came back to wait (a send that timed out and that the
    provider turned out not to have): nobody gets an alarm after the all-clear."""
    if n.alert_id is None or n.purpose not in ("alert", "escalation"):
        return True
    return await _alert_waiting(conn, n.alert_id)


async def _send(
    pool: AsyncConnectionPool,
    delivery: Delivery,
    n: Notification,
    now: datetime,
    horizon: timedelta,
) -> int:
    provider = delivery.provider
    try:
        if not provider.can_send(n.channel):  # type: ignore[arg-type]
            raise SendFailed(f"{provider.name} cannot place {n.channel}", temporary=False)
        accepted = await provider.send(delivery.outgoing(n))
    except SendFailed as failure:
        async with pool.connection() as conn, conn.transaction():
            await _failed(conn, n, failure, now, horizon)
        return 0
    async with pool.connection() as conn, conn.transaction():
        await outbox.record_accepted(
            conn, n.id, accepted.status, provider.name, accepted.provider_id
        )
        await _mark_alert(conn, n, now)
    return 1


async def _mark_alert(conn: AsyncConnection[Any], n: Notification, now: datetime) -> None:
    """Someone was told: the alert is notified (or escalated, for a later step)."""
    if n.alert_id is None or n.purpose not in ("alert", "escalation"):
        return
    if n.purpose == "escalation":
        await conn.execute(
            """UPDATE alerts SET state = 'escalated', escalated_at = coalesce(escalated_at, %s)
               WHERE id = %s AND state IN ('open', 'notified')""",
            (now, n.alert_id),
        )
    else:
        await conn.execute(
            """UPDATE alerts SET state = 'notified', notified_at = coalesce(notified_at, %s)
               WHERE id = %s AND state = 'open'""",
            (now, n.alert_id),
        )


async def _failed(
    conn: AsyncConnection[Any],
    n: Notification,
    failure: SendFailed,
    now: datetime,
    horizon: timedelta,
) -> None:
    if failure.maybe_sent:
        # Left 'sending': after the lease it is looked up at the provider, and recorded or
        # sent again (reconcile_stale), so it is neither lost nor doubled.
        log.warning("notification %d: %s; looked up after the lease", n.id, failure.reason)
        return
    started = n.first_attempt_at or now
    if failure.temporary and now - started < horizon:
        delay = timedelta(seconds=retry_delay(n.attempts, failure.retry_after))
        await outbox.record(conn, n.id, "pending", error=failure.reason, due_at=now + delay)
        log.info("notification %d: %s; retry in %s", n.id, failure.reason, delay)
        return
    status = "gave_up" if failure.temporary else "failed"
    await outbox.record(conn, n.id, status, error=failure.reason)
    log.warning("notification %d %s: %s", n.id, status, failure.reason)
    await move_on(conn, n, now)


async def move_on(conn: AsyncConnection[Any], n: Notification, now: datetime) -> int:
    """A message about an alert did not reach its person: try their other channel (for
    urgent alerts), else the next person; how many messages that adds."""
    if n.alert_id is None or n.resident_id is None or n.purpose not in ("alert", "escalation"):
        return 0
    if not await _alert_waiting(conn, n.alert_id):
        return 0
    household = await load_household(conn, n.resident_id)
    if household is None:
        return 0
    person = household.person(n.person_key)
    if person is None:
        return 0
    urgent = Severity.from_label(n.severity) >= Severity.URGENT
    if n.channel == "sms" and urgent and person.reachable_by("voice"):
        targets = [Planned(person, "voice", now, "escalation")]
    else:
        targets = [
            Planned(p, "sms", now, "escalation")
            for p in next_person(person, household.family, household.doctors)
        ]
    return await _add_moved_on(conn, household, n, targets, now)


async def _add_moved_on(
    conn: AsyncConnection[Any],
    household: Household,
    n: Notification,
    targets: list[Planned],
    now: datetime,
) -> int:
    if n.rule is None or n.resident_id is None or n.alert_id is None:
        return 0
    reading_at = await _alert_reading_at(conn, n.alert_id)
    reading = await reading_of(conn, n.resident_id, n.rule, reading_at)
    new = []
    for p in targets:
        # The policy may have planned the same message already (a call to the daughter
        # five minutes on, the son's text ten minutes on): it is sent now instead, not twice.
        if await outbox.already_on_its_way(conn, n.alert_id, p.person.key, p.channel, now):
            continue
        about = messages.About(
            household.name, n.rule, reading, reading_at, for_doctor=p.person.kind == "user"
        )
        body = (
            messages.alert_call(p.person.language, p.person.time_zone, about)
            if p.channel == "voice"
            else messages.alert_sms(p.person.language, p.person.time_zone, about, [])
        )
        new.append(outbox.NewMessage(p, body, n.severity))
    await outbox.add(
        conn, new, alert_id=n.alert_id, resident_id=n.resident_id, rule=n.rule, now=now
    )
    return len(new)


async def _alert_reading_at(conn: AsyncConnection[Any], alert_id: int | None) -> datetime | None:
    cur = await conn.execute("SELECT reading_at FROM alerts WHERE id = %s", (alert_id,))
    row = await cur.fetchone()
    return None if row is None else row[0]


async def reconcile_stale(
    pool: AsyncConnectionPool,
    delivery: Delivery,
    now: datetime,
    horizon: timedelta | None = None,
) -> int:
    """Settle messages whose worker died mid-send (or whose send timed out): recorded if the
    provider has them, sent again otherwise; how many were settled.

    While the provider cannot be asked, a message stays unsettled; once it has been tried
    for longer than `horizon`, it is given up and the alert moves on, as for a send that
    failed, so that a provider that stopped answering does not hold up the escalation.
    """
    clock = _Running(now)
    settled = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            stale = await outbox.claim_stale(conn, clock(), delivery.lease)
        if stale is None:
            return settled
        settled += 1
        await _settle(pool, delivery, stale, now, horizon)


async def _settle(
    pool: AsyncConnectionPool,
    delivery: Delivery,
    stale: Notification,
    now: datetime,
    horizon: timedelta | None,
) -> None:
    since = stale.first_attempt_at or stale.due_at
    provider = delivery.provider
    async with pool.connection() as conn:
        # Another message of ours to the number (a call of another alert, the same words
        # again) is not this one.
        taken = await outbox.provider_ids_to(conn, stale, provider.name, since - TAKEN_MARGIN)
    try:
        found = await provider.find_sent(delivery.outgoing(stale), since, taken)
    except SendFailed as failure:
        if horizon is None or now - since < horizon:
            log.warning("notification %d: cannot look it up yet: %s", stale.id, failure.reason)
            return
        async with pool.connection() as conn, conn.transaction():
            reason = f"no answer, and the provider cannot be asked: {failure.reason}"
            if await outbox.give_up_unconfirmed(conn, stale.id, reason):
                log.warning("notification %d gave_up: %s", stale.id, reason)
                await move_on(conn, stale, now)
        return
    async with pool.connection() as conn, conn.transaction():
        if found is not None:
            await outbox.record_accepted(
                conn, stale.id, found.status, provider.name, found.provider_id
            )
            await _mark_alert(conn, stale, now)
        else:
            await outbox.release(conn, stale.id, due_at=now)
