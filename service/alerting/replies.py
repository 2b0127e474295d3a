"""What comes back from people and the provider: delivery reports, SMS replies and key
presses. Provider-neutral: the Twilio routes (and any other provider's) translate into these.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from service.alerting import messages, outbox
from service.alerting.delivery import move_on
from service.alerting.notify import acknowledge

log = logging.getLogger(__name__)

# A reply that means "I have seen it and I am on it".
ACKNOWLEDGING = frozenset(
    {"1", "ok", "okay", "yes", "y", "收到", "好", "好的", "确认", "是", "知道了", "已收到"}
)
# Carrier keywords: no more SMS, and SMS again.
STOPPING = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td"})
STARTING = frozenset({"start", "unstop", "yes start"})
# Whitespace of any kind and the punctuation people end a reply with, at either end.
_AROUND = re.compile(r"^[\s.!。！,，~]+|[\s.!。！,，~]+$")


def reply_word(body: str) -> str:
    """The reply as one lower-case word: full-width digits and letters folded, and the spaces
    and punctuation typed around it taken away, in whatever order they come ("1 。", "ok!\t")."""
    text = unicodedata.normalize("NFKC", body).lower()
    return _AROUND.sub("", text)


async def delivery_report(
    conn: AsyncConnection[Any],
    provider: str,
    provider_id: str,
    status: str,
    now: datetime,
    notification_id: int | None = None,
) -> bool:
    """Record what the provider says became of a message (forward only); a message to the
    family that failed moves the alert on to the next person. False for an unknown id."""
    notification = await outbox.claim_report(conn, provider, provider_id, notification_id)
    if notification is None:
        log.warning("delivery report for unknown %s message %s ignored", provider, provider_id)
        return False
    if await outbox.move_forward(conn, notification, status) and status in outbox.FAILED:
        await move_on(conn, notification, now)
    return True


async def sms_reply(
    conn: AsyncConnection[Any], sender: str, body: str, now: datetime
) -> str | None:
    """Act on an SMS from `sender`; the answer to send back (None: say nothing)."""
    word = reply_word(body)
    if word in STOPPING:
        await conn.execute(
            "UPDATE contacts SET sms_stopped_at = %s WHERE phone = %s AND sms_stopped_at IS NULL",
            (now, sender),
        )
        return None  # the carrier confirms the opt-out itself
    if word in STARTING:
        await conn.execute("UPDATE contacts SET sms_stopped_at = NULL WHERE phone = %s", (sender,))
        return None
    latest = await outbox.latest_to(conn, sender)
    language = latest.language if latest is not None else "zh-CN"
    if latest is None or latest.alert_id is None or word not in ACKNOWLEDGING:
        return messages.nothing_to_acknowledge_reply(language)
    done = await acknowledge(conn, latest.alert_id, latest.person_key, "sms", now)
    if not done:
        return messages.nothing_to_acknowledge_reply(language)
    return messages.acknowledged_reply(language)


async def key_press(
    conn: AsyncConnection[Any], notification_id: int, digits: str, now: datetime
) -> str | None:
    """Act on a key pressed during a call; the language to thank them in, or None when the
    press acknowledged nothing."""
    notification = await outbox.get(conn, notification_id)
    if notification is None or notification.alert_id is None or digits.strip() != "1":
        return None
    done = await acknowledge(conn, notification.alert_id, notification.person_key, "voice", now)
    return notification.language if done else None
