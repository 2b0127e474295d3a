"""Twilio's callbacks under arbitrary forms: signed ones never break the service nor move an
alert or a message backwards; unsigned or forged ones are refused and change nothing. And the
words of an SMS reply, whatever unicode surrounds them, are read as the family meant them.

The household has a critical alert (a low sugar): texts to the daughter and the doctor, then a
call to the daughter. The fake Twilio's own status callbacks are off, so that every change in
the database comes from the fuzzed requests.
"""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.alerting.outbox import RANK
from service.alerting.replies import ACKNOWLEDGING, STARTING, STOPPING, reply_word
from tests.fuzzing import SHARED_FIXTURES, counted, examples
from tests.service.alerting_home import DAUGHTER, DOCTOR, SENDER, SON, Household, low_sugar

ALERT_RANK = {"open": 0, "notified": 1, "escalated": 2, "acknowledged": 3, "resolved": 4}
ROUTES = ("/v1/twilio/status", "/v1/twilio/inbound", "/v1/twilio/voice")
FIELDS = [
    "AccountSid",
    "ApiVersion",
    "Body",
    "CallSid",
    "CallStatus",
    "Digits",
    "ErrorCode",
    "From",
    "MessageSid",
    "MessageStatus",
    "SmsSid",
    "SmsStatus",
    "To",
]
TWILIO_STATUSES = [
    "accepted",
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "canceled",
    "DELIVERED",
]
# Form text as it can travel: any character UTF-8 can carry (lone surrogates cannot).
utf8_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=24)
WORDS = [*sorted(ACKNOWLEDGING | STOPPING | STARTING), "2", "no", "", " 1 ", "１", "ＯＫ！"]


@pytest.fixture
def alerted(household: Household) -> Household:
    """The household with a critical alert: two texts sent and a call placed."""
    h = household
    h.twilio.callbacks_enabled = False
    noticed = low_sugar(h)
    assert h.deliver(noticed) == 2
    assert h.deliver(noticed + timedelta(minutes=5)) == 1
    return h


def state(h: Household) -> dict[str, Any]:
    """What a callback may change: alerts, messages, and who stopped SMS."""
    return {
        "alerts": dict(h.db.execute("SELECT id, state FROM alerts").fetchall()),
        "notifications": dict(h.db.execute("SELECT id, status FROM notifications").fetchall()),
        "stopped": dict(h.db.execute("SELECT id, sms_stopped_at FROM contacts").fetchall()),
    }


def assert_only_forward(before: dict[str, Any], after: dict[str, Any]) -> None:
    for alert, was in before["alerts"].items():
        now = after["alerts"][alert]
        assert ALERT_RANK[now] >= ALERT_RANK[was], f"alert {alert}: {was} -> {now}"
    for notification, was in before["notifications"].items():
        now = after["notifications"][notification]
        assert RANK[now] >= RANK[was], f"notification {notification}: {was} -> {now}"
        if RANK[was] == max(RANK.values()):
            assert now == was, f"notification {notification}: final {was} -> {now}"


def known_values(h: Household) -> list[str]:
    """Values that mean something to the service: its sids, phones, statuses and words."""
    sids = [m["sid"] for m in h.twilio.messages] + [c["sid"] for c in h.twilio.calls]
    return [*sids, DAUGHTER, SON, DOCTOR, SENDER, h.twilio.account_sid, *TWILIO_STATUSES, *WORDS]


def requests_to(h: Household) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    """(url with its query, form) of a callback: delivery reports about the service's own
    messages and calls, replies from the family's phones and key presses, most of the time
    with a field changed or added; and forms of anything at all."""
    notifications = [row[0] for row in h.db.execute("SELECT id FROM notifications").fetchall()]
    sids = [m["sid"] for m in h.twilio.messages] + [c["sid"] for c in h.twilio.calls]
    known = st.sampled_from(known_values(h))
    near_misses = st.builds(
        lambda value, cut, extra: value[:cut] + extra + value[cut:],
        known,
        st.integers(0, 40),
        st.sampled_from("\x00\n\r\t\u2028\ufeff") | st.characters(codec="utf-8"),
    )
    values = utf8_text | known | near_misses
    anything = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, values))
    statuses = st.sampled_from(TWILIO_STATUSES)
    report = st.fixed_dictionaries(
        {"MessageSid": st.sampled_from(sids), "MessageStatus": statuses}
    ) | st.fixed_dictionaries({"CallSid": st.sampled_from(sids), "CallStatus": statuses})
    reply = st.fixed_dictionaries(
        {"From": st.sampled_from([DAUGHTER, SON, DOCTOR]), "Body": st.sampled_from(WORDS)}
    )
    press = st.fixed_dictionaries({"CallSid": st.sampled_from(sids), "Digits": known})
    ours = st.sampled_from(notifications)
    odd_id = st.integers() | st.integers(min_value=2**63 - 2, max_value=2**64) | utf8_text

    def url(route: str, notification: object) -> str:
        query = "" if notification is None else "?" + urlencode({"notification": notification})
        return f"{h.url}{route}{query}"

    def sent_to(route: str, notification: st.SearchStrategy[object]) -> st.SearchStrategy[str]:
        return st.builds(url, st.just(route), notification)

    def changed(form: st.SearchStrategy[dict[str, str]]) -> st.SearchStrategy[dict[str, str]]:
        """`form`, with fields added or changed now and then."""
        return st.builds(
            lambda fields, changed, more: fields | changed | more,
            form,
            st.just({}) | anything,
            st.just({}) | st.dictionaries(utf8_text, values, max_size=2),
        )

    return st.one_of(
        st.tuples(sent_to("/v1/twilio/status", st.none() | ours), changed(report)),
        st.tuples(sent_to("/v1/twilio/inbound", st.none()), changed(reply)),
        st.tuples(sent_to("/v1/twilio/voice", ours), changed(press)),
        st.tuples(
            st.sampled_from(ROUTES).flatmap(lambda r: sent_to(r, st.none() | ours | odd_id)),
            changed(anything),
        ),
    )


class TestSignedCallbacks:
    def test_any_signed_form_is_answered_and_moves_nothing_backwards(
        self, alerted: Household
    ) -> None:
        h = alerted

        @counted
        @examples(150, 1500, suppress_health_check=SHARED_FIXTURES)
        @given(request=requests_to(h))
        def post(request: tuple[str, dict[str, str]]) -> None:
            url, form = request
            before = state(h)
            signature = h.twilio.sign(url, form)
            answer = h.home.api.post(url, data=form, headers={"X-Twilio-Signature": signature})
            assert answer.status_code < 500, answer.text
            # Signed by Twilio, so never refused as forged. A bad ?notification= is a 422, and
            # a NUL character (which no text or call holds) a 400.
            nul = any("\x00" in key + value for key, value in form.items())
            assert answer.status_code in ((400,) if nul else (200, 204, 422)), answer.text
            assert_only_forward(before, state(h))

        post()

    def test_forged_or_unsigned_forms_are_refused_and_change_nothing(
        self, alerted: Household
    ) -> None:
        h = alerted

        @counted
        @examples(60, 600, suppress_health_check=SHARED_FIXTURES)
        @given(request=requests_to(h), forgery=st.sampled_from(["none", "key", "url", "form"]))
        def post(request: tuple[str, dict[str, str]], forgery: str) -> None:
            url, form = request
            headers = {}
            if forgery == "key":
                signature = h.twilio.sign(url, form)
                headers["X-Twilio-Signature"] = signature[::-1] if signature else "Zm9yZ2Vk"
            elif forgery == "url":
                headers["X-Twilio-Signature"] = h.twilio.sign(url + "&x=1", form)
            elif forgery == "form":
                headers["X-Twilio-Signature"] = h.twilio.sign(url, form | {"Body": "forged!"})
            before = state(h)
            answer = h.home.api.post(url, data=form, headers=headers)
            assert answer.status_code in (403, 422), answer.text
            assert state(h) == before

        post()

    def test_a_nul_in_a_signed_form_is_a_bad_request_that_changes_nothing(
        self, alerted: Household
    ) -> None:
        h = alerted
        url = f"{h.url}/v1/twilio/inbound"
        form = {"From": DAUGHTER + "\x00", "Body": "1"}  # was a 500: PostgreSQL text has no NUL
        before = state(h)
        answer = h.home.api.post(
            url, data=form, headers={"X-Twilio-Signature": h.twilio.sign(url, form)}
        )
        assert answer.status_code == 400
        assert answer.json()["detail"] == "a form field holds the NUL character"
        assert state(h) == before


def decorated(word: str) -> st.SearchStrategy[str]:
    """`word` as people type it: spaces, punctuation, full-width forms around it."""
    around = st.text(alphabet=" \t\u3000\u00a0.!。！,，~～", max_size=4)
    typed = st.sampled_from([word, word.upper(), to_full_width(word)])
    return st.builds(lambda a, w, b: a + w + b, around, typed, around)


def to_full_width(text: str) -> str:
    """ASCII letters and digits as their full-width forms (１, ＯＫ), as Chinese keyboards type."""
    return "".join(
        chr(ord(c) + 0xFEE0) if c in string.ascii_letters + string.digits else c for c in text
    )


class TestReplyWords:
    @pytest.mark.parametrize(
        ("text", "word"),
        [("1\t.", "1"), ("ok!\t", "ok"), ("0\x1f", "0"), ("\u3000收到。 ", "收到")],
    )
    def test_what_surrounds_a_word_goes_in_any_order(self, text: str, word: str) -> None:
        assert reply_word(text) == word

    @counted
    @examples(500, 5000)
    @given(text=st.text())
    def test_any_text_gives_one_stripped_word(self, text: str) -> None:
        word = reply_word(text)
        assert word == word.strip()
        assert reply_word(word) == word

    @counted
    @examples(300, 3000)
    @given(data=st.data(), word=st.sampled_from(sorted(ACKNOWLEDGING | STOPPING | STARTING)))
    def test_a_keyword_is_read_whatever_surrounds_it(self, data: st.DataObject, word: str) -> None:
        assert reply_word(data.draw(decorated(word))) == word
