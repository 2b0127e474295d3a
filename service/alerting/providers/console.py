"""The provider used when Twilio is not configured: every message is written to the log."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from service.alerting.providers.base import Accepted, Channel, Outgoing

log = logging.getLogger("linli.messages")


class ConsoleProvider:
    """Writes each message to the log instead of sending it; useful on a laptop."""

    name = "console"

    def can_send(self, channel: Channel) -> bool:
        """Both channels: the log takes anything."""
        return True

    async def send(self, message: Outgoing) -> Accepted:
        """Log the message; it counts as delivered."""
        log.warning("%s to %s: %s", message.channel.upper(), message.to, message.body)
        return Accepted(f"console-{message.notification_id}", status="delivered")

    async def find_sent(
        self, message: Outgoing, since: datetime, taken: Collection[str] = ()
    ) -> Accepted | None:
        """A logged message may or may not have been written: send it again."""
        return None
