"""Twilio SMS and voice through the official `twilio` library.

The library is synchronous; each request runs in a worker thread with a timeout. A voice
call speaks the message in the recipient's language and, when this service has a public
address, gathers one key press: 1 acknowledges the alert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from service.alerting.providers.base import Accepted, Channel, Outgoing, SendFailed
from service.settings import Settings

# Amazon Polly voices Twilio offers, by recipient language.
_VOICES = {"zh-CN": ("Polly.Zhiyu", "cmn-CN"), "en": ("Polly.Joanna", "en-US")}
# Twilio's own words for a message or a call, as a notification status.
_STATUSES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "initiated": "queued",
    "ringing": "sent",
    "in-progress": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "completed": "delivered",
    "undelivered": "undelivered",
    "busy": "undelivered",
    "no-answer": "undelivered",
    "canceled": "undelivered",
    "failed": "failed",
}


def notification_status(twilio_status: str | None) -> str | None:
    """The notification status for one of Twilio's message or call statuses."""
    return _STATUSES.get((twilio_status or "").lower())


def voice_for(language: str) -> tuple[str, str]:
    """The Twilio voice and language code that speak `language`."""
    return _VOICES.get(language, _VOICES["en"])


def call_twiml(message: Outgoing) -> str:
    """The TwiML of a call: the message spoken, with a key press gathered when possible."""
    voice, language = voice_for(message.language)
    response = VoiceResponse()
    if message.keypress_url:
        gather = response.gather(
            num_digits=1, action=message.keypress_url, method="POST", timeout=8
        )
        gather.say(message.body, voice=voice, language=language)
        response.say(message.body, voice=voice, language=language)  # once more, then hang up
    else:
        response.say(message.body, voice=voice, language=language, loop=2)
    return str(response)


class TwilioProvider:
    """Sends through Twilio's REST API (or a host standing in for it)."""

    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        token = settings.twilio_auth_token
        http = TwilioHttpClient(timeout=settings.send_timeout_seconds)
        self.client = Client(
            settings.twilio_account_sid,
            None if token is None else token.get_secret_value(),
            http_client=http,
        )
        if settings.twilio_base_url:
            self.client.api.base_url = settings.twilio_base_url.rstrip("/")
        self.sender = settings.twilio_from
        self.messaging_service = settings.twilio_messaging_service_sid

    def can_send(self, channel: Channel) -> bool:
        """SMS always; voice only from a number of our own."""
        return channel == "sms" or self.sender is not None

    async def send(self, message: Outgoing) -> Accepted:
        """Create the message or call; SendFailed says whether to try again."""
        resource = await self._call(self._create, message)
        return Accepted(resource.sid, notification_status(resource.status) or "queued")

    async def find_sent(
        self, message: Outgoing, since: datetime, taken: Collection[str] = ()
    ) -> Accepted | None:
        """The earliest message or call Twilio has to this number since `since`, with this
        body (a call: any call), that is none of `taken`; or None."""
        found = await self._call(self._lookup, message, since, frozenset(taken))
        if found is None:
            return None
        return Accepted(found.sid, notification_status(found.status) or "queued")

    def _create(self, message: Outgoing) -> Any:
        if message.channel == "voice":
            options: dict[str, Any] = {"to": message.to, "from_": self.sender}
            if message.status_url:
                options |= {
                    "status_callback": message.status_url,
                    "status_callback_event": ["completed"],
                }
            return self.client.calls.create(twiml=call_twiml(message), **options)
        options = {"to": message.to, "body": message.body}
        if self.messaging_service:
            options["messaging_service_sid"] = self.messaging_service
        else:
            options["from_"] = self.sender
        if message.status_url:
            options["status_callback"] = message.status_url
        return self.client.messages.create(**options)

    def _lookup(self, message: Outgoing, since: datetime, taken: frozenset[str]) -> Any:
        # The client writes a datetime filter as if it were UTC, whatever its zone.
        after = (since - timedelta(minutes=1)).astimezone(UTC)
        candidates: list[Any]
        if message.channel == "voice":
            # A call says nothing of its words: any call to the number that no other
            # message of ours has taken is this one (another alert's may be among them).
            candidates = self.client.calls.list(to=message.to, start_time_after=after, limit=20)
        else:
            sent = self.client.messages.list(to=message.to, date_sent_after=after, limit=50)
            candidates = [m for m in sent if m.body == message.body]
        # Twilio lists the newest first; the earliest left was asked for first.
        return next((c for c in reversed(candidates) if c.sid not in taken), None)

    async def _call(self, function: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(function, *args)
        except TwilioRestException as exc:
            temporary = exc.status == 429 or exc.status >= 500
            raise SendFailed(
                f"Twilio {exc.status} (code {exc.code}): {exc.msg}", temporary=temporary
            ) from None
        except requests.ReadTimeout:
            raise SendFailed(
                "Twilio did not answer in time", temporary=True, maybe_sent=True
            ) from None
        except (requests.RequestException, TwilioException) as exc:
            raise SendFailed(f"Twilio unreachable: {exc}", temporary=True) from None
