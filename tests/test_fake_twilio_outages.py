"""The fake Twilio's outages and late answers, driven by the official `twilio` client: what the
alerting fault tests rely on when they take Twilio down."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from tests.fake_twilio import FakeTwilio
from tests.test_fake_twilio import GRANDMA, SENDER, make_client, wait_until


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(callback_delay=0.01) as fake:
        yield fake


@pytest.mark.parametrize("status", [500, 503])
def test_an_error_outage_answers_every_request_until_restored(fake: FakeTwilio, status: int):
    client = make_client(fake)
    fake.outage("error", status=status)
    for _ in range(3):
        with pytest.raises(TwilioRestException) as info:
            client.messages.create(to=GRANDMA, from_=SENDER, body="hi")
        assert info.value.status == status
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        client.messages.list(to=GRANDMA)  # lookups fail too
    assert fake.messages == []
    fake.restore()
    client.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    assert [m["body"] for m in fake.messages] == ["hi"]


def test_a_refusing_outage_refuses_connections_then_listens_again(fake: FakeTwilio):
    client = make_client(fake)
    fake.outage("refuse")
    with pytest.raises((requests.ConnectionError, TwilioException)):
        client.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    fake.restore()
    client.calls.create(to=GRANDMA, from_=SENDER, twiml="<Response/>")
    assert len(fake.calls) == 1


def test_a_hanging_outage_times_the_client_out_and_creates_nothing(fake: FakeTwilio):
    impatient = make_client(fake, timeout=0.5)
    fake.outage("hang")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    assert time.monotonic() - started < 3
    fake.outage("error", status=500)  # another kind of outage ends the hanging one
    with pytest.raises(TwilioRestException):
        impatient.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    fake.restore()
    assert fake.messages == []
    impatient.messages.create(to=GRANDMA, from_=SENDER, body="after")
    assert [m["body"] for m in fake.messages] == ["after"]


def test_a_fake_closed_during_a_hanging_outage_closes_at_once():
    fake = FakeTwilio()
    impatient = make_client(fake, timeout=0.3)
    fake.outage("hang")
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.messages.create(to=GRANDMA, from_=SENDER, body="hi")
    started = time.monotonic()
    fake.close()
    assert time.monotonic() - started < 3


def test_a_held_answer_comes_after_the_message_exists(fake: FakeTwilio):
    impatient = make_client(fake, timeout=0.5)
    fake.hold_answer_next(seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.messages.create(to=GRANDMA, from_=SENDER, body="taken")
    assert [m["body"] for m in fake.messages] == ["taken"]  # before the answer came
    [held] = fake.requests
    wait_until(lambda: held.status is not None)
    assert held.status == 201
