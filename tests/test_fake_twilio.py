"""The fake Twilio, driven by the official `twilio` client, so it answers as the client expects."""

from __future__ import annotations

import datetime as dt
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fake_twilio import FakeTwilio

SENDER = "+15005550006"
GRANDMA = "+8613800138000"
GRANDPA = "+8613800138001"
RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")


def make_client(fake: FakeTwilio, token: str | None = None, timeout: float = 2) -> Client:
    client = Client(
        fake.account_sid, token or fake.auth_token, http_client=TwilioHttpClient(timeout=timeout)
    )
    client.api.base_url = fake.url
    return client


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(callback_delay=0.01) as fake:
        yield fake


@pytest.fixture
def client(fake: FakeTwilio) -> Client:
    return make_client(fake)


@dataclass
class Hit:
    url: str
    form: dict[str, str]
    signature: str


class Receiver:
    """A stand-in for the service's webhooks: records every POST, answers `status`."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.status = 200
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
                hit = Hit(receiver.url + self.path, form, self.headers["X-Twilio-Signature"])
                with receiver.cond:
                    receiver.hits.append(hit)
                    receiver.cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", "11")
                self.end_headers()
                self.wfile.write(b"<Response/>")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def wait(self, n: int, timeout: float = 3.0) -> list[Hit]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.hits) >= n, timeout), self.hits
            return list(self.hits)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def signed_by(token: str, hit: Hit) -> bool:
    return bool(RequestValidator(token).validate(hit.url, hit.form, hit.signature))


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- messages -------------------------------------------------------------------------------


def test_creating_a_message_records_it_and_answers_like_twilio(
    fake: FakeTwilio, client: Client
) -> None:
    before = time.monotonic()
    message = client.messages.create(to=GRANDMA, from_=SENDER, body="血压偏高，请复测")

    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.to, message.from_, message.body) == (GRANDMA, SENDER, "血压偏高，请复测")
    assert (message.status, message.direction, message.account_sid) == (
        "queued",
        "outbound-api",
        fake.account_sid,
    )
    assert message.num_segments == "1"
    assert message.date_sent is None
    assert abs(message.date_created - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    [recorded] = fake.messages
    assert recorded["sid"] == message.sid
    assert RFC2822.match(recorded["date_created"])
    [request] = fake.requests
    assert (request.method, request.path, request.status) == (
        "POST",
        f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
        201,
    )
    assert request.form == {"To": GRANDMA, "From": SENDER, "Body": "血压偏高，请复测"}
    assert request.resource is not None
    assert request.resource["sid"] == message.sid
    assert before <= request.received <= time.monotonic()
    assert request.received_at.tzinfo is not None


def test_long_chinese_text_counts_ucs2_segments(client: Client) -> None:
    message = client.messages.create(to=GRANDMA, from_=SENDER, body="高" * 71)
    assert message.num_segments == "2"


def test_list_filters_by_recipient_and_date_sent(fake: FakeTwilio, client: Client) -> None:
    first = client.messages.create(to=GRANDMA, from_=SENDER, body="one")
    second = client.messages.create(to=GRANDMA, from_=SENDER, body="two")
    client.messages.create(to=GRANDPA, from_=SENDER, body="other")
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)

    found = client.messages.list(to=GRANDMA, date_sent_after=now - dt.timedelta(minutes=1))

    assert [m.sid for m in found] == [second.sid, first.sid]
    assert client.messages.list(to=GRANDMA, date_sent_after=now + day) == []
    assert client.messages.list(to=GRANDMA, date_sent_before=now - day) == []
    assert [m.body for m in client.messages.list(to=GRANDPA)] == ["other"]
    assert fake.requests[3].query["DateSent>"] == (now - dt.timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_list_follows_next_page_uri(fake: FakeTwilio, client: Client) -> None:
    sids = [client.messages.create(to=GRANDMA, from_=SENDER, body=str(i)).sid for i in range(5)]

    found = client.messages.list(to=GRANDMA, page_size=2)

    assert [m.sid for m in found] == sids[::-1]
    pages = [r for r in fake.requests if r.method == "GET"]
    assert len(pages) == 3
    assert pages[1].query["PageToken"] == "PA" + sids[3]
    assert all(p.query["To"] == GRANDMA for p in pages)


def test_client_sends_date_filters_as_wall_clock_time_labelled_utc(
    fake: FakeTwilio, client: Client
) -> None:
    """A pitfall of twilio-python: it formats an aware datetime without converting to UTC."""
    beijing = dt.timezone(dt.timedelta(hours=8))
    client.messages.list(date_sent_after=dt.datetime(2024, 1, 1, 8, 0, tzinfo=beijing))
    assert fake.requests[-1].query["DateSent>"] == "2024-01-01T08:00:00Z"


def test_fetch_one_message_and_unknown_sid(client: Client) -> None:
    message = client.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    assert client.messages(message.sid).fetch().body == "hi"
    with pytest.raises(TwilioRestException) as info:
        client.messages("SM" + "0" * 32).fetch()
    assert (info.value.status, info.value.code) == (404, 20404)


def test_wrong_auth_token_is_401(fake: FakeTwilio) -> None:
    wrong = make_client(fake, token="0" * 32)
    with pytest.raises(TwilioRestException) as info:
        wrong.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    assert (info.value.status, info.value.code) == (401, 20003)
    assert fake.messages == []
    # A failed list() raises the base TwilioException, without status or code.
    with pytest.raises(TwilioException) as listing:
        wrong.messages.list()
    assert not isinstance(listing.value, TwilioRestException)
    assert [r.status for r in fake.requests] == [401, 401]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": GRANDMA, "from_": SENDER}, 21602),
        ({"to": GRANDMA, "body": "hi"}, 21603),
        ({"to": "13800138000", "from_": SENDER, "body": "hi"}, 21211),
        ({"to": GRANDMA, "from_": SENDER, "body": "x" * 1601}, 21617),
    ],
)
def test_invalid_message_requests_get_twilio_400s(
    fake: FakeTwilio, client: Client, kwargs: dict[str, str], code: int
) -> None:
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(**kwargs)
    assert (info.value.status, info.value.code) == (400, code)
    assert fake.messages == []


def test_messaging_service_sid_replaces_from(client: Client) -> None:
    message = client.messages.create(to=GRANDMA, messaging_service_sid="MG" + "1" * 32, body="hi")
    assert message.messaging_service_sid == "MG" + "1" * 32


# -- failure injection ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_fail_next_fails_once_then_succeeds(fake: FakeTwilio, client: Client, status: int) -> None:
    fake.fail_next(status=status)
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    assert (info.value.status, info.value.code) == (status, 20000 + status)
    assert fake.messages == []
    message = client.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    assert [m["sid"] for m in fake.messages] == [message.sid]


def test_fail_next_429_carries_retry_after(fake: FakeTwilio) -> None:
    fake.fail_next(count=2, status=429)
    url = f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Calls.json"
    form = {"To": GRANDMA, "From": SENDER, "Twiml": "<Response/>"}
    auth = (fake.account_sid, fake.auth_token)
    answers = [httpx.post(url, data=form, auth=auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 201]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[0].json()["code"] == 20429
    assert len(fake.calls) == 1


def test_stall_times_the_client_out_and_creates_nothing(fake: FakeTwilio) -> None:
    impatient = make_client(fake, timeout=0.5)
    fake.stall_next(seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    [stalled] = fake.requests
    wait_until(lambda: stalled.status is not None)
    assert stalled.status == 503
    assert fake.messages == []
    assert impatient.messages.list(to=GRANDMA) == []


def test_stall_then_create_leaves_a_message_to_reconcile(fake: FakeTwilio) -> None:
    impatient = make_client(fake, timeout=0.5)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    fake.stall_next(seconds=1.5, then_create=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.messages.create(to=GRANDMA, from_=SENDER, body="lost answer")
    assert fake.messages == []
    [created] = fake.wait_for_messages(1, timeout=3)
    found = impatient.messages.list(to=GRANDMA, date_sent_after=since)
    assert [(m.sid, m.body) for m in found] == [(created["sid"], "lost answer")]


def test_rejected_number_fails_messages_and_calls(fake: FakeTwilio, client: Client) -> None:
    fake.reject_number(GRANDPA)
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to=GRANDPA, from_=SENDER, body="hi")
    assert (info.value.status, info.value.code) == (400, 21610)
    with pytest.raises(TwilioRestException) as call_info:
        client.calls.create(to=GRANDPA, from_=SENDER, twiml="<Response/>")
    assert call_info.value.code == 21610
    client.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    assert [m["to"] for m in fake.messages] == [GRANDMA]
    assert fake.calls == []


def test_wait_for_messages_times_out_with_an_explanation(fake: FakeTwilio) -> None:
    with pytest.raises(AssertionError, match=r"1 created message\(s\), got 0"):
        fake.wait_for_messages(1, timeout=0.1)


# -- calls ----------------------------------------------------------------------------------


def test_calls_create_fetch_and_list(fake: FakeTwilio, client: Client) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    call = client.calls.create(to=GRANDMA, from_=SENDER, twiml="<Response><Say>hi</Say></Response>")
    client.calls.create(to=GRANDPA, from_=SENDER, url="http://127.0.0.1:9/twiml")

    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid)
    assert (call.status, call.to, call._from) == ("queued", GRANDMA, SENDER)
    assert [c.sid for c in client.calls.list(to=GRANDMA, start_time_after=since)] == [call.sid]
    assert client.calls.list(to=GRANDMA, start_time_before=since) == []
    assert [c["sid"] for c in fake.wait_for_calls(2)] == [call.sid, fake.calls[1]["sid"]]
    wait_until(lambda: client.calls(call.sid).fetch().status == "completed")


def test_call_without_instructions_is_rejected(client: Client) -> None:
    with pytest.raises(TwilioRestException) as info:
        client.calls.create(to=GRANDMA, from_=SENDER)
    assert (info.value.status, info.value.code) == (400, 21200)


# -- status callbacks -----------------------------------------------------------------------


def test_message_status_callbacks_are_signed_and_in_order(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    url = receiver.url + "/v1/twilio/status"
    message = client.messages.create(to=GRANDMA, from_=SENDER, body="hi", status_callback=url)

    hits = receiver.wait(2)

    assert [h.form["MessageStatus"] for h in hits] == ["sent", "delivered"]
    assert all(h.url == url and signed_by(fake.auth_token, h) for h in hits)
    assert not signed_by("0" * 32, hits[0])
    assert hits[1].form == {
        "AccountSid": fake.account_sid,
        "ApiVersion": "2010-04-01",
        "From": SENDER,
        "MessageSid": message.sid,
        "MessageStatus": "delivered",
        "SmsSid": message.sid,
        "SmsStatus": "delivered",
        "To": GRANDMA,
    }
    assert [(c.params["MessageStatus"], c.status) for c in fake.wait_for_callbacks(2)] == [
        ("sent", 200),
        ("delivered", 200),
    ]
    assert client.messages(message.sid).fetch().status == "delivered"


@pytest.mark.parametrize(
    ("final", "statuses", "error"),
    [("undelivered", ["sent", "undelivered"], "30003"), ("failed", ["failed"], "30008")],
)
def test_chosen_final_message_status(
    fake: FakeTwilio,
    client: Client,
    receiver: Receiver,
    final: str,
    statuses: list[str],
    error: str,
) -> None:
    fake.final_status[GRANDMA] = final
    message = client.messages.create(
        to=GRANDMA, from_=SENDER, body="hi", status_callback=receiver.url + "/status"
    )
    hits = receiver.wait(len(statuses))
    time.sleep(0.1)  # nothing more arrives
    assert [h.form["MessageStatus"] for h in receiver.hits] == statuses
    assert hits[-1].form["ErrorCode"] == error
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == (final, int(error))


def test_final_status_refuses_unknown_statuses(fake: FakeTwilio) -> None:
    with pytest.raises(ValueError, match="unknown final status"):
        fake.final_status[GRANDMA] = "deliverd"


def test_call_status_callbacks(fake: FakeTwilio, client: Client, receiver: Receiver) -> None:
    fake.final_call_status[GRANDPA] = "no-answer"
    call = client.calls.create(
        to=GRANDMA, from_=SENDER, twiml="<Response/>", status_callback=receiver.url + "/a"
    )
    unanswered = client.calls.create(
        to=GRANDPA,
        from_=SENDER,
        twiml="<Response/>",
        status_callback=receiver.url + "/b",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )

    hits = receiver.wait(4)
    time.sleep(0.1)

    by_call = {
        sid: [h.form["CallStatus"] for h in receiver.hits if h.form["CallSid"] == sid]
        for sid in (call.sid, unanswered.sid)
    }
    assert by_call == {
        call.sid: ["completed"],
        unanswered.sid: ["initiated", "ringing", "no-answer"],
    }
    assert all(signed_by(fake.auth_token, h) for h in hits)
    completed = next(h for h in hits if h.form["CallSid"] == call.sid)
    assert (completed.form["To"], completed.form["From"]) == (GRANDMA, SENDER)
    assert completed.form["AccountSid"] == fake.account_sid


def test_callbacks_can_be_switched_off(receiver: Receiver) -> None:
    with FakeTwilio(callbacks=False, callback_delay=0.01) as fake:
        client = make_client(fake)
        client.messages.create(
            to=GRANDMA, from_=SENDER, body="hi", status_callback=receiver.url + "/status"
        )
        wait_until(lambda: fake.messages[0]["status"] == "delivered")
        time.sleep(0.05)
        assert fake.callbacks == []
        assert receiver.hits == []


def test_failed_callbacks_are_recorded_not_raised(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/status"
    receiver.status = 500
    client.messages.create(to=GRANDMA, from_=SENDER, body="a", status_callback=dead)
    client.messages.create(to=GRANDPA, from_=SENDER, body="b", status_callback=receiver.url)

    attempts = fake.wait_for_callbacks(4)

    assert sorted((a.url, a.status) for a in attempts) == sorted(
        [(dead, None), (dead, None), (receiver.url, 500), (receiver.url, 500)]
    )
    assert len(fake.callback_errors) == 4
    assert all(a.error for a in fake.callback_errors)


# -- people answering -----------------------------------------------------------------------


def test_reply_posts_a_signed_inbound_sms(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    client.messages.create(to=GRANDMA, from_="+15005550007", body="请回复1确认")
    url = receiver.url + "/v1/twilio/inbound"

    response = fake.reply(url, from_=GRANDMA, body="1")

    assert response.status_code == 200
    [hit] = receiver.hits
    assert hit.url == url
    assert signed_by(fake.auth_token, hit)
    assert {k: hit.form[k] for k in ("From", "To", "Body", "NumMedia", "AccountSid")} == {
        "From": GRANDMA,
        "To": "+15005550007",
        "Body": "1",
        "NumMedia": "0",
        "AccountSid": fake.account_sid,
    }
    assert re.fullmatch(r"SM[0-9a-f]{32}", hit.form["MessageSid"])
    fake.reply(url, from_=GRANDPA, body="2", to=SENDER)
    assert receiver.hits[1].form["To"] == SENDER


def test_press_posts_digits_to_the_gather_action(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    action = receiver.url + "/v1/twilio/gather?alert=42&amp;try=1"
    twiml = f'<Response><Gather numDigits="1" action="{action}"><Say>按1</Say></Gather></Response>'
    call = client.calls.create(to=GRANDMA, from_=SENDER, twiml=twiml)

    response = fake.press(call.sid, "1")

    assert response.status_code == 200
    [hit] = receiver.hits
    assert hit.url == receiver.url + "/v1/twilio/gather?alert=42&try=1"
    assert signed_by(fake.auth_token, hit)
    assert (hit.form["CallSid"], hit.form["Digits"]) == (call.sid, "1")
    assert (hit.form["To"], hit.form["From"]) == (GRANDMA, SENDER)


def test_press_needs_a_gather(fake: FakeTwilio, client: Client) -> None:
    call = client.calls.create(to=GRANDMA, from_=SENDER, twiml="<Response><Say>hi</Say></Response>")
    with pytest.raises(AssertionError, match="no <Gather>"):
        fake.press(call.sid, "1")
    with pytest.raises(AssertionError, match="no call"):
        fake.press("CA" + "0" * 32, "1")


def test_sign_matches_the_request_validator(fake: FakeTwilio) -> None:
    params = {"b": "2", "a": "1"}
    signature = fake.sign("https://example.org/hook", params)
    validator = RequestValidator(fake.auth_token)
    assert validator.validate("https://example.org/hook", params, signature)
    assert not validator.validate("https://example.org/other", params, signature)


# -- standalone -----------------------------------------------------------------------------


def test_runs_standalone_until_interrupted() -> None:
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0", "--auth-token", "t" * 32],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(
            r"(http://127\.0\.0\.1:\d+) account_sid=(AC\w{32}) auth_token=(t{32})", line
        )
        assert match, line
        standalone = Client(match[2], match[3], http_client=TwilioHttpClient(timeout=2))
        standalone.api.base_url = match[1]
        assert standalone.messages.create(to=GRANDMA, from_=SENDER, body="hi").status == "queued"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
