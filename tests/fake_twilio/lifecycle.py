"""How a created message or call moves on after `queued`, and the status callbacks it causes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tests.fake_twilio.resources import API_VERSION, Resource, rfc2822

MESSAGE_STATUSES = ("delivered", "undelivered", "failed", "sent")
CALL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
DEFAULT_SENDER = "+15005550006"  # the number a Messaging Service "picks"
_MESSAGE_ERRORS = {
    "undelivered": (30003, "Unreachable destination handset"),
    "failed": (30008, "Unknown error"),
}
_CALL_DURATION = "7"


@dataclass(frozen=True)
class Step:
    """One status change; `report` says whether it is posted to the StatusCallback."""

    status: str
    report: bool = True


def message_steps(final: str) -> list[Step]:
    """`sent` then the final status; a `failed` message never leaves Twilio, so no `sent`."""
    if final not in MESSAGE_STATUSES:
        raise ValueError(f"unknown final message status {final!r}, use one of {MESSAGE_STATUSES}")
    if final == "failed":
        return [Step("failed")]
    if final == "sent":
        return [Step("sent")]
    return [Step("sent"), Step(final)]


def call_steps(final: str, events: list[str]) -> list[Step]:
    """initiated, ringing, in-progress (if answered), final; reported as StatusCallbackEvent asks.

    Without StatusCallbackEvent Twilio reports only the `completed` event, which carries the
    final status (completed, busy, no-answer, failed, canceled).
    """
    if final not in CALL_STATUSES:
        raise ValueError(f"unknown final call status {final!r}, use one of {CALL_STATUSES}")
    wanted = set(events) or {"completed"}
    steps = [Step("initiated", "initiated" in wanted)]
    if final != "failed":
        steps.append(Step("ringing", "ringing" in wanted))
    if final == "completed":
        steps.append(Step("in-progress", "answered" in wanted))
    steps.append(Step(final, "completed" in wanted))
    return steps


def advance_message(resource: Resource, step: Step, now: dt.datetime) -> None:
    resource["status"] = step.status
    resource["date_updated"] = rfc2822(now)
    if step.status != "failed":
        resource["date_sent"] = resource["date_sent"] or rfc2822(now)
        resource["from"] = resource["from"] or DEFAULT_SENDER
    if step.status in _MESSAGE_ERRORS:
        resource["error_code"], resource["error_message"] = _MESSAGE_ERRORS[step.status]


def advance_call(resource: Resource, step: Step, now: dt.datetime) -> None:
    resource["status"] = step.status
    resource["date_updated"] = rfc2822(now)
    if step.status == "initiated":
        resource["start_time"] = rfc2822(now)
    if step.status in CALL_STATUSES:
        resource["end_time"] = rfc2822(now)
        resource["duration"] = _CALL_DURATION if step.status == "completed" else "0"


def message_callback(resource: Resource) -> dict[str, str]:
    """The form fields of a message status callback, for the resource's current status."""
    params = {
        "AccountSid": resource["account_sid"],
        "ApiVersion": API_VERSION,
        "From": resource["from"] or "",
        "MessageSid": resource["sid"],
        "MessageStatus": resource["status"],
        "SmsSid": resource["sid"],
        "SmsStatus": resource["status"],
        "To": resource["to"],
    }
    if resource["messaging_service_sid"]:
        params["MessagingServiceSid"] = resource["messaging_service_sid"]
    if resource["status"] in _MESSAGE_ERRORS:
        params["ErrorCode"] = str(resource["error_code"])
    return params


def call_callback(resource: Resource, sequence: int, now: dt.datetime) -> dict[str, str]:
    """The form fields of a call status callback, for the resource's current status."""
    params = {
        "AccountSid": resource["account_sid"],
        "ApiVersion": API_VERSION,
        "CallSid": resource["sid"],
        "CallStatus": resource["status"],
        "CallbackSource": "call-progress-events",
        "Direction": "outbound-api",
        "From": resource["from"],
        "SequenceNumber": str(sequence),
        "Timestamp": rfc2822(now),
        "To": resource["to"],
    }
    if resource["status"] in CALL_STATUSES:
        params["CallDuration"] = resource["duration"]
    return params
