"""The escalation policy applied to a resident's people: who hears of an alert, how, when."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from analytics.findings import Audience
from service.alerting.plan import Person, next_person, plan_alert, plan_all_clear, quiet_until
from service.alerting.policy import DEFAULT_POLICY, policy_with_overrides

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Chongqing
BOTH = (Audience.FAMILY, Audience.DOCTOR)


def contact(rank: int, **changes: object) -> Person:
    fields: dict[str, object] = {
        "kind": "contact",
        "id": 10 + rank,
        "name": f"child {rank}",
        "phone": f"+861380013800{rank}",
        "language": "zh-CN",
        "time_zone": "Asia/Shanghai",
        "rank": rank,
    }
    return Person(**(fields | changes))  # type: ignore[arg-type]


DOCTOR = Person("user", 3, "Dr Li", "+8613911112222", "zh-CN", "Asia/Shanghai")
FAMILY = (contact(1), contact(2))


def summary(planned: list) -> list[tuple[str, str, float, str]]:
    return [
        (p.person.key, p.channel, (p.due_at - AT).total_seconds() / 60, p.purpose) for p in planned
    ]


class TestDefaults:
    def test_critical_texts_family_and_doctor_at_once_then_calls_then_the_next_contact(self):
        planned = plan_alert(DEFAULT_POLICY.critical, BOTH, FAMILY, (DOCTOR,), AT)
        assert summary(planned) == [
            ("contact:11", "sms", 0, "alert"),
            ("user:3", "sms", 0, "alert"),
            ("contact:11", "voice", 5, "escalation"),
            ("contact:12", "sms", 10, "escalation"),
            ("contact:12", "voice", 10, "escalation"),
        ]

    def test_urgent_texts_the_family_and_the_doctor_after_15_minutes(self):
        planned = plan_alert(DEFAULT_POLICY.urgent, BOTH, FAMILY, (DOCTOR,), AT)
        assert summary(planned) == [
            ("contact:11", "sms", 0, "alert"),
            ("user:3", "sms", 15, "escalation"),
        ]

    def test_a_warning_for_the_doctor_only_waits_for_the_digest(self):
        policy = DEFAULT_POLICY.warning
        assert plan_alert(policy, (Audience.DOCTOR,), FAMILY, (DOCTOR,), AT) == []
        assert policy.digest

    def test_information_stays_on_the_dashboard(self):
        assert plan_alert(DEFAULT_POLICY.info, BOTH, FAMILY, (DOCTOR,), AT) == []


class TestFallbacks:
    def test_without_family_the_doctor_is_told_at_once(self):
        planned = plan_alert(DEFAULT_POLICY.urgent, BOTH, (), (DOCTOR,), AT)
        assert summary(planned) == [("user:3", "sms", 0, "alert")]

    def test_a_landline_is_called_instead_of_texted(self):
        landline = contact(1, sms=False)
        planned = plan_alert(DEFAULT_POLICY.urgent, BOTH, (landline,), (DOCTOR,), AT)
        assert summary(planned)[0] == ("contact:11", "voice", 0, "alert")

    def test_a_critical_call_already_planned_is_not_planned_twice(self):
        landline = contact(1, sms=False)
        planned = plan_alert(DEFAULT_POLICY.critical, BOTH, (landline,), (DOCTOR,), AT)
        assert [p for p in summary(planned) if p[0] == "contact:11"] == [
            ("contact:11", "voice", 0, "alert")
        ]

    def test_people_told_lately_are_not_told_again(self):
        planned = plan_alert(
            DEFAULT_POLICY.urgent, BOTH, FAMILY, (DOCTOR,), AT, frozenset({"contact:11"})
        )
        assert summary(planned) == [("user:3", "sms", 15, "escalation")]

    def test_after_a_failed_contact_comes_the_next_then_the_doctor(self):
        assert next_person(FAMILY[0], FAMILY, (DOCTOR,)) == [FAMILY[1]]
        assert next_person(FAMILY[1], FAMILY, (DOCTOR,)) == [DOCTOR]
        assert next_person(DOCTOR, FAMILY, (DOCTOR,)) == []


class TestQuietHours:
    night = contact(1, quiet_hours=(time(22, 0), time(7, 0)))

    @pytest.mark.parametrize(
        ("utc_hour", "held_until_utc_hour"),
        [(13, 13), (14, 23), (18, 23), (22, 23), (23, 23)],  # 21:00, 22:00, 02:00, 06:00, 07:00
    )
    def test_a_message_in_quiet_hours_waits_for_their_end(self, utc_hour, held_until_utc_hour):
        at = datetime(2026, 11, 27, utc_hour, 0, tzinfo=UTC)
        held = quiet_until(self.night, at)
        assert held.astimezone(UTC).hour == held_until_utc_hour
        assert held >= at
        assert held - at < timedelta(hours=10)

    def test_urgent_messages_ignore_quiet_hours_and_warnings_wait(self):
        at = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # midnight in Chongqing
        urgent = plan_alert(DEFAULT_POLICY.urgent, BOTH, (self.night,), (), at)
        assert urgent[0].due_at == at
        warning = plan_alert(DEFAULT_POLICY.warning, BOTH, (self.night,), (), at)
        assert warning[0].due_at == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 07:00

    def test_quiet_hours_follow_the_contacts_own_clock(self):
        away = contact(1, quiet_hours=(time(22, 0), time(7, 0)), time_zone="Europe/London")
        at = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 23:00 in London, 07:00 in Chongqing
        assert quiet_until(away, at) == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)

    def test_an_all_clear_is_texted_to_who_was_told_and_keeps_quiet_hours(self):
        at = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
        planned = plan_all_clear([self.night, DOCTOR, self.night], at)
        assert [(p.person.key, p.due_at) for p in planned] == [
            ("contact:11", datetime(2026, 11, 27, 23, 0, tzinfo=UTC)),
            ("user:3", at),
        ]


class TestOverrides:
    def test_a_severity_override_keeps_the_default_steps(self):
        policy = policy_with_overrides({"urgent": {"repeat_hours": 2}})
        assert policy.urgent.repeat_hours == 2
        assert policy.urgent.steps == DEFAULT_POLICY.urgent.steps

    def test_steps_can_be_replaced(self):
        policy = policy_with_overrides(
            {"urgent": {"steps": [{"to": "doctor"}, {"to": "family", "after_minutes": 30}]}}
        )
        planned = plan_alert(policy.urgent, BOTH, FAMILY, (DOCTOR,), AT)
        assert summary(planned) == [
            ("user:3", "sms", 0, "alert"),
            ("contact:11", "sms", 30, "escalation"),
        ]

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"loud": 1}, "alerting_overrides.loud"),
            ({"urgent": {"steps": [{"to": "nobody"}]}}, "alerting_overrides.urgent.steps.0.to"),
            ({"critical": {"repeat_hours": -1}}, "alerting_overrides.critical.repeat_hours"),
            ({"link": "ftp://example.org"}, "alerting_overrides.link"),
        ],
    )
    def test_bad_overrides_say_what_is_wrong(self, overrides, reason):
        with pytest.raises(ValueError, match=reason.replace(".", r"\.")):
            policy_with_overrides(overrides)
