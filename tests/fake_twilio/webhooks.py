"""Requests the fake sends to the service under test, signed like Twilio's webhooks."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator

from tests.fake_twilio.resources import API_VERSION, Resource, new_sid, num_segments, utcnow

WEBHOOK_TIMEOUT = 5.0


@dataclass
class CallbackAttempt:
    """One status callback the fake posted, and what the service answered."""

    url: str
    params: dict[str, str]
    status: int | None  # None: no HTTP answer at all (refused, timed out...)
    error: str | None = None  # why it counts as a failure, if it does
    sent: float = field(default_factory=time.monotonic)
    sent_at: dt.datetime = field(default_factory=utcnow)

    @property
    def ok(self) -> bool:
        return self.error is None


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature of a form POST to `url` (HMAC-SHA1 of url + sorted params)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def post_signed(auth_token: str, url: str, params: Mapping[str, str]) -> httpx.Response:
    """POST `params` form-encoded to `url` as Twilio does, with a valid signature."""
    headers = {
        "X-Twilio-Signature": sign(auth_token, url, params),
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "User-Agent": "TwilioProxy/1.1",
    }
    return httpx.post(url, data=dict(params), headers=headers, timeout=WEBHOOK_TIMEOUT)


def deliver(auth_token: str, url: str, params: dict[str, str]) -> CallbackAttempt:
    """Post a status callback; never raises, failures are described in the attempt."""
    try:
        response = post_signed(auth_token, url, params)
    except httpx.HTTPError as exc:
        return CallbackAttempt(url, params, None, f"{type(exc).__name__}: {exc}")
    error = None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
    return CallbackAttempt(url, params, response.status_code, error)


def inbound_sms(account_sid: str, from_: str, to: str, body: str) -> dict[str, str]:
    """The form fields of Twilio's incoming-message webhook."""
    sid = new_sid("SM")
    return {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "Body": body,
        "From": from_,
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": str(num_segments(body)),
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
    }


def gather_digits(call: Resource, digits: str) -> dict[str, str]:
    """The form fields Twilio posts to a <Gather> action when the callee pressed `digits`."""
    return {
        "AccountSid": call["account_sid"],
        "ApiVersion": API_VERSION,
        "CallSid": call["sid"],
        "CallStatus": "in-progress",
        "Digits": digits,
        "Direction": "outbound-api",
        "From": call["from"],
        "To": call["to"],
    }


def gather_action(twiml: str) -> str:
    """The action URL of the first <Gather> in `twiml`; AssertionError if there is none."""
    try:
        root = ElementTree.fromstring(twiml)  # noqa: S314 - TwiML written by the code under test
    except ElementTree.ParseError as exc:
        raise AssertionError(f"the call's TwiML is not XML ({exc}): {twiml!r}") from None
    gather = next(root.iter("Gather"), None)
    if gather is None:
        raise AssertionError(f"the call's TwiML has no <Gather>: {twiml!r}")
    action = gather.get("action", "")
    if not action.startswith(("http://", "https://")):
        raise AssertionError(f"<Gather> needs an absolute action URL, got {action!r}: {twiml!r}")
    if gather.get("method", "POST").upper() != "POST":
        raise AssertionError(f"only <Gather method='POST'> is supported: {twiml!r}")
    return action
