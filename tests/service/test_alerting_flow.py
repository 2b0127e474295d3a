"""Alerts reaching people through the real twilio client and a fake Twilio: who is texted,
escalation on a clock, acknowledgement by reply and by key press, delivery reports, STOP,
and forged callbacks."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.service.alerting_home import (
    DAUGHTER,
    DOCTOR,
    SON,
    low_sugar,
    urgent_pressure,
)


class TestEscalation:
    def test_urgent_texts_the_daughter_then_the_doctor_after_15_minutes(self, household):
        h = household
        noticed = urgent_pressure(h)
        assert h.deliver(noticed) == 1
        (text,) = h.texts_to(DAUGHTER)
        assert "王秀英" in text
        assert "184/104" in text
        assert "回复1" in text
        assert h.alert()[:3] == ("bp.urgent", "urgent", "notified")
        assert h.deliver(noticed + timedelta(minutes=14)) == 0
        assert h.deliver(noticed + timedelta(minutes=15)) == 1
        (to_doctor,) = h.texts_to(DOCTOR)
        assert "15分钟未确认" in to_doctor
        assert "请跟进" in to_doctor
        assert h.alert()[2] == "escalated"

    def test_a_reply_of_1_acknowledges_and_stops_the_escalation(self, household):
        h = household
        noticed = urgent_pressure(h)
        h.deliver(noticed)
        answer = h.reply(DAUGHTER, "1")
        assert answer.status_code == 200
        assert "谢谢，已确认" in answer.text
        assert h.alert() == ("bp.urgent", "urgent", "acknowledged", f"contact:{h.daughter}", "sms")
        assert h.deliver(noticed + timedelta(minutes=30)) == 0
        assert h.texts_to(DOCTOR) == []
        h.twilio.wait_for_callbacks(2)
        assert h.outbox() == [
            (DAUGHTER, "sms", "alert", "delivered"),
            (DOCTOR, "sms", "escalation", "cancelled"),
        ]

    def test_chinese_and_full_width_replies_acknowledge_too(self, household):
        h = household
        h.deliver(urgent_pressure(h))
        assert "谢谢" in h.reply(DAUGHTER, " 收到！").text
        assert h.alert()[2] == "acknowledged"

    def test_a_reply_with_nothing_to_confirm_says_so(self, household):
        h = household
        answer = h.reply(SON, "1")
        assert answer.status_code == 200
        assert "没有需要确认的提醒" in answer.text

    def test_critical_calls_after_5_minutes_and_a_key_press_acknowledges(self, household):
        h = household
        noticed = low_sugar(h)
        assert h.deliver(noticed) == 2  # the daughter and the doctor at once
        assert len(h.texts_to(DAUGHTER)) == 1
        assert len(h.texts_to(DOCTOR)) == 1
        assert h.deliver(noticed + timedelta(minutes=5)) == 1
        (call,) = h.calls_to(DAUGHTER)
        spoken = h.spoken(call)
        assert "2.6" in spoken
        assert 'language="cmn-CN"' in spoken
        pressed = h.twilio.press(call["sid"], "1")
        assert pressed.status_code == 200
        assert h.alert()[2:] == ("acknowledged", f"contact:{h.daughter}", "voice")
        assert h.deliver(noticed + timedelta(minutes=10)) == 0
        assert h.texts_to(SON) == []
        assert h.calls_to(SON) == []


class TestDeliveryReports:
    def test_reports_move_a_message_forward_only(self, household):
        h = household
        h.deliver(urgent_pressure(h))
        h.twilio.wait_for_callbacks(2)  # sent, then delivered
        assert h.outbox()[0] == (DAUGHTER, "sms", "alert", "delivered")
        (message,) = h.twilio.messages
        late = {"MessageSid": message["sid"], "MessageStatus": "sent"}
        url = f"{h.url}/v1/twilio/status"
        answer = httpx.post(
            url, data=late, headers={"X-Twilio-Signature": h.twilio.sign(url, late)}
        )
        assert answer.status_code == 204
        assert h.outbox()[0] == (DAUGHTER, "sms", "alert", "delivered")

    def test_a_report_about_an_unknown_message_is_ignored(self, household):
        h = household
        unknown = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
        url = f"{h.url}/v1/twilio/status"
        answer = httpx.post(
            url, data=unknown, headers={"X-Twilio-Signature": h.twilio.sign(url, unknown)}
        )
        assert answer.status_code == 204
        assert h.outbox() == []

    def test_an_undelivered_text_is_followed_by_a_call_then_the_next_contact(self, household):
        h = household
        h.twilio.final_status[DAUGHTER] = "undelivered"
        h.twilio.final_call_status[DAUGHTER] = "no-answer"
        noticed = urgent_pressure(h)
        h.deliver(noticed)
        h.twilio.wait_for_callbacks(2)
        h.deliver(noticed + timedelta(minutes=1))  # the report moved it on at the real time
        h.twilio.wait_for_calls(1)
        h.twilio.wait_for_callbacks(3)  # the call: no answer
        h.deliver(noticed + timedelta(minutes=2))
        assert len(h.texts_to(SON)) == 1
        assert h.outbox() == [
            (DAUGHTER, "sms", "alert", "undelivered"),
            (DOCTOR, "sms", "escalation", "pending"),
            (DAUGHTER, "voice", "escalation", "undelivered"),
            (SON, "sms", "escalation", "queued"),
        ]


class TestInboundRequests:
    def test_forged_or_unsigned_callbacks_are_refused_and_change_nothing(self, household):
        h = household
        h.deliver(urgent_pressure(h))
        url = f"{h.url}/v1/twilio/inbound"
        form = {"From": DAUGHTER, "To": "+15005550006", "Body": "1"}
        forged = httpx.post(url, data=form, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
        unsigned = httpx.post(url, data=form)
        other_key = form | {"Body": "OK"}  # signed for another body
        replayed = httpx.post(
            url, data=other_key, headers={"X-Twilio-Signature": h.twilio.sign(url, form)}
        )
        assert [forged.status_code, unsigned.status_code, replayed.status_code] == [403] * 3
        assert h.alert()[2] == "notified"

    def test_stop_ends_texts_to_that_contact_who_is_called_instead(self, household):
        h = household
        assert h.reply(DAUGHTER, "STOP").status_code == 200
        stopped = h.db.execute(
            "SELECT sms_stopped_at IS NOT NULL FROM contacts WHERE id = %s", (h.daughter,)
        ).fetchone()
        assert stopped == (True,)
        h.deliver(urgent_pressure(h))
        assert h.texts_to(DAUGHTER) == []
        assert len(h.calls_to(DAUGHTER)) == 1
        h.reply(DAUGHTER, "START")
        assert h.db.execute(
            "SELECT sms_stopped_at FROM contacts WHERE id = %s", (h.daughter,)
        ).fetchone() == (None,)
