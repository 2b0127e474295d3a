"""The one small interface every message provider implements.

A provider sends an SMS or places a voice call and answers with its own id for it; it can
look up what it sent to a number since a moment (to reconcile a send whose answer was lost),
and says which failures are worth retrying. Alert logic never sees more than this.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Channel = Literal["sms", "voice"]


@dataclass(frozen=True)
class Outgoing:
    """One message to send."""

    notification_id: int
    channel: Channel
    to: str
    body: str
    language: str
    # Where the provider reports delivery, and (voice) where a key press is sent; None when
    # this service has no public address.
    status_url: str | None = None
    keypress_url: str | None = None


@dataclass(frozen=True)
class Accepted:
    """The provider took the message."""

    provider_id: str
    status: str = "queued"  # the provider's first word on it, as a notification status


class SendFailed(Exception):
    """The provider did not take the message."""

    def __init__(
        self,
        reason: str,
        *,
        temporary: bool,
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ):
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary  # 429, 5xx, a timeout: worth trying again
        self.retry_after = retry_after
        # The request went out but no answer came back (a read timeout): the provider may
        # have the message. It is looked up before it is ever sent again.
        self.maybe_sent = maybe_sent


class Provider(Protocol):
    """A way to reach people by SMS and voice."""

    name: str

    def can_send(self, channel: Channel) -> bool:
        """Whether this provider can carry `channel`."""
        ...

    async def send(self, message: Outgoing) -> Accepted:
        """Send the message; SendFailed when the provider did not take it."""
        ...

    async def find_sent(
        self, message: Outgoing, since: datetime, taken: Collection[str] = ()
    ) -> Accepted | None:
        """The provider's record of `message` sent since `since`, or None when there is
        none (or the provider cannot tell). Ids in `taken` are other messages' of ours: a
        call or a text with the same words to the same number is not this one."""
        ...
