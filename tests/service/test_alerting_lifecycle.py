"""An alert's life as people see it: all clear when values return, no repeat of the same news
within hours unless it got worse, acknowledging from the dashboard, the messages sent, the
gaps in a resident's chain of people, and the log when Twilio is not configured."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from service.alerting.delivery import Delivery, deliver_due
from service.alerting.providers.console import ConsoleProvider
from service.jobs import provider_for
from tests.factories import auth, user_token
from tests.homes import bp
from tests.service.alerting_home import (
    DAUGHTER,
    DOCTOR,
    SON,
    Household,
    low_sugar,
    urgent_pressure,
)


def doctor_token(h: Household) -> str:
    community = h.db.execute(
        "SELECT community_id FROM residents WHERE id = %s", (h.home.resident_id,)
    ).fetchone()
    assert community is not None
    return user_token(h.db, "doctor", communities=(int(community[0]),))


class TestAllClear:
    def test_values_back_to_normal_tell_who_was_told_and_stop_the_escalation(self, household):
        h = household
        noticed = urgent_pressure(h)
        h.deliver(noticed)
        h.home.upload(bp(noticed - timedelta(minutes=1), 142, 86))  # re-measured lower
        h.check(noticed + timedelta(minutes=2))
        h.deliver(noticed + timedelta(minutes=2))
        first, clear = h.texts_to(DAUGHTER)
        assert "184/104" in first
        assert "恢复正常" in clear
        assert "184/104" in clear  # what was wrong, not the reading that cleared it
        assert "142/86" not in clear
        assert h.alert()[2] == "resolved"
        assert h.deliver(noticed + timedelta(minutes=20)) == 0
        assert h.texts_to(DOCTOR) == []  # the escalation was called off


class TestDoctors:
    def test_the_residents_own_doctor_is_told_instead_of_the_community(self, household):
        h = household
        own = h.db.execute(
            """INSERT INTO users (username, display_name, role, phone)
               VALUES ('dr.wang', '王医生', 'doctor', '+8613911113333') RETURNING id"""
        ).fetchone()
        assert own is not None
        h.db.execute("UPDATE residents SET doctor_id = %s", (own[0],))
        h.deliver(low_sugar(h))  # critical: the doctor at once
        assert len(h.texts_to("+8613911113333")) == 1
        assert h.texts_to(DOCTOR) == []

    def test_a_disabled_own_doctor_leaves_it_to_the_communitys(self, household):
        h = household
        own = h.db.execute(
            """INSERT INTO users (username, display_name, role, phone, disabled_at)
               VALUES ('dr.wang', '王医生', 'doctor', '+8613911113333', now()) RETURNING id"""
        ).fetchone()
        assert own is not None
        h.db.execute("UPDATE residents SET doctor_id = %s", (own[0],))
        h.deliver(low_sugar(h))
        assert h.texts_to("+8613911113333") == []
        assert len(h.texts_to(DOCTOR)) == 1


class TestLink:
    def test_a_community_link_reaches_the_texts(self, household):
        h = household
        h.db.execute(
            """UPDATE communities SET alerting_overrides = '{"link": "https://linli.example.org/a"}'"""
        )
        h.deliver(urgent_pressure(h))
        (text,) = h.texts_to(DAUGHTER)
        assert text.endswith("https://linli.example.org/a")


class TestRepeats:
    def test_the_same_news_is_not_sent_again_within_hours(self, household):
        h = household
        later = datetime.now(UTC).replace(microsecond=0)
        noticed = urgent_pressure(h, later - timedelta(hours=1))
        h.deliver(noticed)
        h.reply(DAUGHTER, "1")
        h.home.upload(bp(noticed - timedelta(minutes=1), 140, 85))
        h.check(noticed + timedelta(minutes=1))  # all clear
        h.deliver(noticed + timedelta(minutes=1))
        # An hour later the pressure is up again: a new alert, but the daughter heard of it
        # an hour ago, so she is not texted; nobody else is either until the doctor's turn.
        h.home.upload(
            bp(later - timedelta(minutes=5), 185, 100), bp(later - timedelta(minutes=2), 183, 102)
        )
        h.check(later)
        assert h.deliver(later) == 0
        assert len([t for t in h.texts_to(DAUGHTER) if "回复1" in t]) == 1
        assert h.deliver(later + timedelta(minutes=15)) == 1  # the doctor was not told before
        assert len(h.texts_to(DOCTOR)) == 1

    def test_news_that_got_worse_is_sent_again(self, household):
        h = household
        later = datetime.now(UTC).replace(microsecond=0)
        noticed = urgent_pressure(h, later - timedelta(minutes=30))
        h.deliver(noticed)
        h.home.upload(bp(later - timedelta(minutes=1), 212, 126))  # a crisis now
        h.check(later)
        h.deliver(later)
        texts = h.texts_to(DAUGHTER)
        assert len(texts) == 2
        assert "212/126" in texts[1]


class TestDashboardRoutes:
    def test_a_doctor_acknowledges_from_the_dashboard_and_sees_the_messages(self, household):
        h = household
        noticed = urgent_pressure(h)
        h.deliver(noticed)
        token = doctor_token(h)
        (alert_id,) = h.db.execute("SELECT id FROM alerts").fetchone() or ()
        answer = h.home.api.post(f"/v1/alerts/{alert_id}/acknowledge", headers=auth(token))
        assert answer.status_code == 204, answer.text
        again = h.home.api.post(f"/v1/alerts/{alert_id}/acknowledge", headers=auth(token))
        assert again.status_code == 409
        sent = h.home.api.get(f"/v1/alerts/{alert_id}/messages", headers=auth(token)).json()
        assert [(m["recipient_name"], m["channel"], m["purpose"]) for m in sent] == [
            ("王小红", "sms", "alert"),
            ("李医生", "sms", "escalation"),
        ]
        assert sent[1]["status"] == "cancelled"  # the doctor need not be told now
        state, by, via = h.alert()[2:]
        assert (state, via) == ("acknowledged", "api")
        assert by.startswith("user:")

    def test_others_cannot_see_or_acknowledge_an_alert(self, household):
        h = household
        h.deliver(urgent_pressure(h))
        (alert_id,) = h.db.execute("SELECT id FROM alerts").fetchone() or ()
        stranger = user_token(h.db, "family")
        answer = h.home.api.post(f"/v1/alerts/{alert_id}/acknowledge", headers=auth(stranger))
        assert answer.status_code == 404
        assert h.alert()[2] == "notified"

    def test_gaps_show_residents_nobody_could_be_texted_about(self, household):
        h = household
        token = doctor_token(h)
        assert h.home.api.get("/v1/alerting/gaps", headers=auth(token)).json() == []
        h.reply(DAUGHTER, "STOP")
        h.db.execute("UPDATE contacts SET phone = '+862372345678' WHERE phone = %s", (SON,))
        gaps = h.home.api.get("/v1/alerting/gaps", headers=auth(token)).json()
        assert [g["resident_name"] for g in gaps] == ["王秀英"]
        assert "no family contact can receive SMS" in gaps[0]["problems"]


class TestWithoutTwilio:
    def test_messages_go_to_the_log_when_twilio_is_not_configured(self, household, caplog):
        h = household
        bare = h.settings.model_copy(update={"twilio_account_sid": None})
        assert isinstance(provider_for(bare), ConsoleProvider)
        noticed = urgent_pressure(h)

        async def deliver(pool: AsyncConnectionPool) -> int:
            return await deliver_due(pool, Delivery(ConsoleProvider()), noticed, timedelta(1))

        with caplog.at_level(logging.WARNING, logger="linli.messages"):
            assert h.run(deliver) == 1
        assert any(
            DAUGHTER in r.getMessage() and "184/104" in r.getMessage() for r in caplog.records
        )
        assert h.twilio.messages == []
        assert h.outbox()[0] == (DAUGHTER, "sms", "alert", "delivered")
