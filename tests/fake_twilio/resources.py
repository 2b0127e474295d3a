"""Twilio-shaped JSON: resources, errors, validation, list filters and paging (no I/O here)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Mapping
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

Resource = dict[str, Any]

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MAX_BODY = 1600

_ERROR_TEXT = {
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21200: "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required to create a call",
    21201: "No 'To' number is specified",
    21211: "The 'To' number {to} is not a valid phone number.",
    21213: "No 'From' number is specified",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
_STATUS_CODE = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}

# GSM 03.38 basic character set, and the extension table (each counts as two septets).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


class TwilioError(Exception):
    """An error answer, rendered as Twilio's legacy error JSON (code/message/more_info/status)."""

    def __init__(self, status: int, code: int | None = None, message: str | None = None) -> None:
        self.status = status
        self.code = code if code is not None else _STATUS_CODE.get(status, 20500)
        self.message = message or _ERROR_TEXT.get(self.code, f"Error {self.code}")
        self.headers: dict[str, str] = {}
        super().__init__(f"{self.status} {self.code} {self.message}")

    def payload(self) -> Resource:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def new_sid(prefix: str) -> str:
    """A Twilio-style sid: two letters and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc2822(when: dt.datetime) -> str:
    """Twilio's date format in resources, e.g. 'Thu, 30 Jul 2015 20:12:31 +0000'."""
    return format_datetime(when.astimezone(dt.UTC).replace(microsecond=0))


def num_segments(body: str) -> int:
    """SMS segments: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67 per part, e.g. Chinese)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        units = len(body) + sum(ch in _GSM_EXTENDED for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


def validate_message(form: Mapping[str, str]) -> None:
    """Raise the 400 error Twilio gives for a bad create-message request."""
    to = form.get("To", "")
    if not to:
        raise TwilioError(400, 21604)
    if not (form.get("From") or form.get("MessagingServiceSid")):
        raise TwilioError(400, 21603)
    body = form.get("Body", "")
    if not (body or form.get("MediaUrl") or form.get("ContentSid")):
        raise TwilioError(400, 21602)
    if len(body) > MAX_BODY:
        raise TwilioError(400, 21617)
    if not E164.match(to):
        raise TwilioError(400, 21211, _ERROR_TEXT[21211].format(to=to))


def validate_call(form: Mapping[str, str]) -> None:
    """Raise the 400 error Twilio gives for a bad create-call request."""
    to = form.get("To", "")
    if not to:
        raise TwilioError(400, 21201)
    if not form.get("From"):
        raise TwilioError(400, 21213)
    if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
        raise TwilioError(400, 21200)
    if not E164.match(to):
        raise TwilioError(400, 21211, _ERROR_TEXT[21211].format(to=to))


def message_resource(account_sid: str, form: Mapping[str, str], now: dt.datetime) -> Resource:
    """The JSON Twilio answers to a created message (status queued, date_sent still null)."""
    sid = new_sid("SM")
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    body = form.get("Body", "")
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": rfc2822(now),
        "date_sent": None,
        "date_updated": rfc2822(now),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From") or None,
        "messaging_service_sid": form.get("MessagingServiceSid") or None,
        "num_media": "1" if form.get("MediaUrl") else "0",
        "num_segments": str(num_segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": form["To"],
        "uri": f"{uri}.json",
    }


def call_resource(account_sid: str, form: Mapping[str, str], now: dt.datetime) -> Resource:
    """The JSON Twilio answers to a created call (status queued, not started)."""
    sid = new_sid("CA")
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
    sub = ("notifications", "recordings", "payments", "events", "siprec", "streams")
    return {
        "account_sid": account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(now),
        "date_updated": rfc2822(now),
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": form["From"],
        "from_formatted": form["From"],
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {name: f"{uri}/{name.capitalize()}.json" for name in sub},
        "to": form["To"],
        "to_formatted": form["To"],
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }


# Query filters of the list endpoints. A `Name>` / `Name<` filter is inclusive, as in
# Twilio's `DateSent>=2024-01-31` URLs. A null date falls back to the next field listed.
_EQUAL_FILTERS = {
    "To": "to",
    "From": "from",
    "Status": "status",
    "ParentCallSid": "parent_call_sid",
}
_DATE_FILTERS = {
    "DateSent": ("date_sent", "date_created"),
    "StartTime": ("start_time", "date_created"),
    "EndTime": ("end_time",),
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "": lambda a, b: a == b,
    ">": lambda a, b: a >= b,
    "<": lambda a, b: a <= b,
}


def _parse_filter_date(name: str, value: str) -> dt.date | dt.datetime:
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid value for {name}: {value!r}") from None


def _date_matches(resource: Resource, fields: tuple[str, ...], op: str, wanted: Any) -> bool:
    text = next((resource[f] for f in fields if resource.get(f)), None)
    if text is None:
        return False
    when = parsedate_to_datetime(text)
    have = when if isinstance(wanted, dt.datetime) else when.date()
    return _COMPARE[op](have, wanted)


def matches(resource: Resource, query: Mapping[str, str]) -> bool:
    """Whether a resource passes the list filters of `query` (unknown parameters are ignored)."""
    for name, value in query.items():
        if name in _EQUAL_FILTERS and resource.get(_EQUAL_FILTERS[name]) != value:
            return False
        base, op = (name[:-1], name[-1]) if name[-1:] in "<>" else (name, "")
        if base in _DATE_FILTERS:
            wanted = _parse_filter_date(name, value)
            if not _date_matches(resource, _DATE_FILTERS[base], op, wanted):
                return False
    return True


def _page_start(records: list[Resource], token: str | None, size: int) -> int:
    """Index of a page's first record. Tokens: PA<sid> = after that sid, PB<sid> = before it."""
    if not token:
        return 0
    index = next((i for i, r in enumerate(records) if r["sid"] == token[2:]), None)
    if index is None or token[:2] not in ("PA", "PB"):
        raise TwilioError(400, 20001, f"Invalid PageToken {token!r}")
    return index + 1 if token[:2] == "PA" else max(0, index - size)


def list_page(key: str, path: str, records: list[Resource], query: Mapping[str, str]) -> Resource:
    """One page of `records` (already filtered, newest first) in Twilio's 2010 list shape."""
    try:
        size = min(max(int(query.get("PageSize", "50")), 1), 1000)
        number = max(int(query.get("Page", "0")), 0)
    except ValueError:
        raise TwilioError(400, 20001, "Invalid Page or PageSize") from None
    start = _page_start(records, query.get("PageToken"), size)
    chunk = records[start : start + size]
    filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

    def uri(page: int, token: str | None = None) -> str:
        params = {**filters, "PageSize": str(size), "Page": str(page)}
        if token:
            params["PageToken"] = token
        return f"{path}?{urlencode(params)}"

    more = start + size < len(records)
    return {
        key: chunk,
        "end": start + len(chunk) - 1 if chunk else 0,
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1, "PA" + chunk[-1]["sid"]) if more and chunk else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1, "PB" + chunk[0]["sid"]) if start and chunk else None,
        "start": start,
        "uri": uri(number, query.get("PageToken")),
    }
