"""The words of messages: both languages, the reading and its time, what to do, who else was
told, and never more than two SMS segments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analytics.rules import RULES
from dashboards.i18n import LANGUAGES
from service.alerting import messages
from service.alerting.messages import About, Reading, sms_segments

AT = datetime(2026, 11, 27, 0, 5, tzinfo=UTC)  # 08:05 in Chongqing
ALERTING_RULES = sorted(rule.id for rule in RULES.values() if not rule.is_record)
READINGS = {
    "bp": Reading(systolic=186, diastolic=104, pulse=132),
    "pulse": Reading(systolic=150, diastolic=90, pulse=132),
    "glucose": Reading(glucose_mmol_l=2.6),
}


def about(rule: str, name: str = "王秀英", for_doctor: bool = False) -> About:
    reading = READINGS.get(rule.split(".")[0])
    return About(name, rule, reading, AT, for_doctor=for_doctor)


class TestSegments:
    @pytest.mark.parametrize(
        ("text", "segments"),
        [
            ("a" * 160, 1),
            ("a" * 161, 2),
            ("a" * 306, 2),
            ("a" * 307, 3),
            ("{" * 80, 1),  # an escaped character counts twice
            ("{" * 81, 2),
            ("邻" * 70, 1),
            ("邻" * 71, 2),
            ("邻" * 134, 2),
            ("邻" * 135, 3),
        ],
    )
    def test_gsm_and_ucs2_lengths(self, text, segments):
        assert sms_segments(text) == segments


class TestAlertSms:
    def test_chinese_names_the_reading_its_local_time_the_advice_and_who_else_knows(self):
        text = messages.alert_sms("zh-CN", "Asia/Shanghai", about("bp.urgent"), ["李医生"])
        assert text == (
            "【邻里】王秀英：11月27日 08:05血压186/104mmHg，超过紧急转诊线。"
            "请联系：休息5分钟后复测，今天就医。已同时通知：李医生。回复1确认由您处理。"
        )

    def test_english_says_the_same(self):
        text = messages.alert_sms(
            "en", "Asia/Shanghai", about("glucose.hypo.level2", "Wang Xiuying"), ["Dr Li"]
        )
        assert text == (
            "[Linli] Wang Xiuying: sugar 2.6 mmol/L, dangerously low (Nov 27 08:05). "
            "Call now: sugar at once; if drowsy, dial 120. Told: Dr Li. Reply 1 to confirm."
        )

    def test_an_escalation_says_how_long_nobody_answered(self):
        text = messages.alert_sms(
            "zh-CN", "Asia/Shanghai", about("bp.crisis"), [], unanswered_minutes=10
        )
        assert text.startswith("【邻里】10分钟未确认：王秀英：")

    def test_the_doctor_is_asked_to_follow_up(self):
        text = messages.alert_sms("en", "Asia/Shanghai", about("bp.urgent", for_doctor=True), [])
        assert "Please follow up." in text
        assert "rest 5 min" not in text

    @pytest.mark.parametrize("language", LANGUAGES)
    @pytest.mark.parametrize("rule", ALERTING_RULES)
    def test_every_rule_fits_in_two_segments_even_with_long_names(self, language, rule):
        long_name = "欧阳" + "娜" * 30
        told = ["欧阳医生", "王小明（女儿）", "张阿姨（邻居）"]
        text = messages.alert_sms(
            language, "Asia/Shanghai", about(rule, long_name), told, unanswered_minutes=15
        )
        assert sms_segments(text) <= 2
        assert ("回复1" if language == "zh-CN" else "Reply 1") in text  # never cut

    @pytest.mark.parametrize("rule", ALERTING_RULES)
    def test_every_rule_has_chinese_words(self, rule):
        text = messages.alert_sms("zh-CN", "Asia/Shanghai", about(rule), [])
        english = messages.alert_sms("en", "Asia/Shanghai", about(rule), [])
        assert text != english
        assert not any(word in text for word in ("blood", "sugar", "Reply", "Please"))

    def test_no_link_is_ever_added(self):
        for language in LANGUAGES:
            for rule in ALERTING_RULES:
                text = messages.alert_sms(language, "Asia/Shanghai", about(rule), ["x"])
                assert "http" not in text
                assert "www." not in text


class TestOtherMessages:
    def test_a_call_speaks_the_alert_and_asks_for_a_key(self):
        text = messages.alert_call("zh-CN", "Asia/Shanghai", about("bp.crisis"))
        assert "王秀英" in text
        assert "186/104" in text
        assert "请按1" in text

    def test_the_all_clear_names_what_was_wrong(self):
        text = messages.all_clear_sms("en", "Asia/Shanghai", about("bp.urgent", "Wang"), AT)
        assert text == (
            "[Linli] Wang: back to normal (Nov 27 08:05) after: BP 186/104 mmHg, urgent. "
            "Nothing to do."
        )

    def test_the_digest_names_at_most_five_residents(self):
        names = ["王一", "王二", "王三", "王四", "王五", "王六", "王七"]
        text = messages.digest_sms("zh-CN", 7, names)
        assert "王五" in text
        assert "王六" not in text
        assert "另有2位" in text
        assert sms_segments(text) <= 2


class TestLink:
    def test_a_configured_link_is_added_when_it_fits(self):
        link = "https://linli.example.org/a"
        text = messages.alert_sms("zh-CN", "Asia/Shanghai", about("bp.urgent"), [], link=link)
        assert text.endswith(link)
        assert sms_segments(text) <= 2

    def test_a_link_that_does_not_fit_is_left_out_before_anything_else(self):
        link = "https://linli.example.org/" + "a" * 54
        told = ["欧阳医生", "王小明（女儿）"]
        text = messages.alert_sms("zh-CN", "Asia/Shanghai", about("bp.crisis"), told, link=link)
        assert link not in text
        assert "已同时通知" in text
