"""The words of every message, in the recipient's language (gettext catalogs through Babel).

The English text is the message id; the Chinese is in the catalog the pages use too
(`dashboards/locale`, loaded by `dashboards.i18n`).
An SMS is kept to at most two segments: when the whole text is longer, the parts that matter
least (a link, who else was told, then the advice) are shortened first. A link is added only
when a community configures one: carriers in mainland China reject unregistered links.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from dashboards.i18n import translations

MAX_SEGMENTS = 2

# The GSM 03.38 basic alphabet: texts made only of these go as 7-bit (160 a segment).
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> int:
    """How many SMS segments `text` takes (GSM 7-bit, or UCS-2 for anything else)."""
    if all(c in _GSM7 or c in _GSM7_EXTENDED for c in text):
        units = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        single, part = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, part = 70, 67
    return 1 if units <= single else -(-units // part)


@dataclass(frozen=True)
class Reading:
    """The values of the reading an alert is about."""

    systolic: float | None = None
    diastolic: float | None = None
    pulse: float | None = None
    glucose_mmol_l: float | None = None


@dataclass(frozen=True)
class About:
    """What a message is about."""

    resident_name: str
    rule: str
    reading: Reading | None
    reading_at: datetime | None
    for_doctor: bool = False


def _n(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _what(_: Callable[[str], str], about: About) -> str:
    """What happened, with the values."""
    r = about.reading or Reading()
    bp = {"systolic": _n(r.systolic), "diastolic": _n(r.diastolic)}
    texts = {
        "bp.crisis": _("BP {systolic}/{diastolic} mmHg, dangerously high"),
        "bp.urgent": _("BP {systolic}/{diastolic} mmHg, urgent"),
        "bp.low": _("BP {systolic}/{diastolic} mmHg, too low"),
        "pulse.abnormal": _("pulse {pulse}/min, out of the safe range"),
        "glucose.hypo.level2": _("sugar {glucose} mmol/L, dangerously low"),
        "glucose.hypo.level1": _("sugar {glucose} mmol/L, low"),
        "glucose.hyper.urgent": _("sugar {glucose} mmol/L, very high"),
        "glucose.hyper.repeated": _("blood sugar high several times this week"),
        "bp.uncontrolled": _("blood pressure above target two weeks running"),
        "glucose.uncontrolled": _("fasting blood sugar above target two weeks running"),
        "bp.drift.up": _("blood pressure risen for several days"),
        "pulse.irregular": _("irregular pulse several times in two weeks"),
        "adherence.missed": _("no measurement for longer than usual"),
        "gateway.offline": _("the home gateway is offline"),
    }
    text = texts.get(about.rule, _("a new alert"))
    return text.format(**bp, pulse=_n(r.pulse), glucose=_n(r.glucose_mmol_l))


def _advice(_: Callable[[str], str], about: About) -> str:
    """What the recipient should do."""
    if about.for_doctor:
        return _("Please follow up.")
    texts = {
        "bp.crisis": _("Call now; chest pain or weakness: dial 120."),
        "bp.urgent": _("Call: rest 5 min, re-measure, doctor today."),
        "bp.low": _("Call: sit or lie down, drink water, re-measure."),
        "pulse.abnormal": _("Call and ask how they feel."),
        "glucose.hypo.level2": _("Call now: sugar at once; if drowsy, dial 120."),
        "glucose.hypo.level1": _("Call: 15 g of sugar, re-measure in 15 min."),
        "glucose.hyper.urgent": _("Call: drink water, re-measure, doctor today."),
    }
    return texts.get(about.rule, _("Please check in."))


def _when(language: str, at: datetime | None, zone: str) -> str:
    if at is None:
        return ""
    local = at.astimezone(ZoneInfo(zone))
    locale = language.replace("-", "_")
    day = format_skeleton("MMMd", local, locale=locale)
    return f"{day} {format_skeleton('Hm', local, locale=locale)}"


def _fit(candidates: Sequence[str]) -> str:
    """The first candidate text that fits in two segments; the last one cut to fit
    otherwise."""
    for text in candidates:
        if sms_segments(text) <= MAX_SEGMENTS:
            return text
    text = candidates[-1]
    while sms_segments(text) > MAX_SEGMENTS:
        text = text[:-2] + "…"
    return text


def _short_name(name: str) -> str:
    return name if len(name) <= 20 else name[:19] + "…"


def _joined(language: str, parts: Sequence[str]) -> str:
    """Sentences one after another: with spaces in English, none in Chinese."""
    return ("" if language.startswith("zh") else " ").join(p for p in parts if p)


def alert_sms(
    language: str,
    zone: str,
    about: About,
    also_told: Sequence[str],
    *,
    unanswered_minutes: float | None = None,
    link: str | None = None,
) -> str:
    """The SMS telling someone of an alert (or, with `unanswered_minutes`, escalating it);
    with `link` (a community's setting) when it fits."""
    translation = translations(language)
    _ = translation.gettext
    head = _("[Linli] ")
    if unanswered_minutes is not None:
        head += _("Unconfirmed {minutes} min: ").format(minutes=f"{unanswered_minutes:g}")
    what = head + _("{name}: {what} ({when}).").format(
        name=_short_name(about.resident_name),
        what=_what(_, about),
        when=_when(language, about.reading_at, zone),
    )
    advice = _advice(_, about)
    told = _("Told: {names}.").format(names=_("; ").join(also_told)) if also_told else ""
    counted = (
        translation.ngettext("{count} other told.", "{count} others told.", len(also_told)).format(
            count=len(also_told)
        )
        if also_told
        else ""
    )
    reply = _("Reply 1 to confirm.")
    candidates = [
        [what, advice, told, reply],
        [what, advice, counted, reply],
        [what, advice, reply],
        [what, reply],
    ]
    if link:
        candidates = [[*c, link] for c in candidates[:3]] + candidates
    return _fit([_joined(language, c) for c in candidates])


def alert_call(language: str, zone: str, about: About) -> str:
    """The words of a voice call about an alert; a key press acknowledges it."""
    _ = translations(language).gettext
    return _joined(
        language,
        [
            _("This is Linli, about {name}.").format(name=about.resident_name),
            _("{what}, at {when}.").format(
                what=_what(_, about), when=_when(language, about.reading_at, zone)
            ),
            _advice(_, about),
            _("Press 1 to confirm you are on it."),
        ],
    )


def all_clear_sms(language: str, zone: str, about: About, at: datetime) -> str:
    """The SMS saying an alert's values are back to normal."""
    _ = translations(language).gettext
    text = _("[Linli] {name}: back to normal ({when}) after: {what}. Nothing to do.")
    return _fit(
        [
            text.format(
                name=_short_name(about.resident_name),
                when=_when(language, at, zone),
                what=_what(_, about),
            )
        ]
    )


def acknowledged_reply(language: str) -> str:
    """The answer to a reply that acknowledged an alert."""
    return translations(language).gettext("[Linli] Thank you, confirmed.")


def acknowledged_spoken(language: str) -> str:
    """What a call says after the key press acknowledged the alert."""
    return translations(language).gettext("Thank you, confirmed. Goodbye.")


def nothing_to_acknowledge_reply(language: str) -> str:
    """The answer to a reply that matched no open alert."""
    return translations(language).gettext("[Linli] There is no open alert to confirm.")


def digest_sms(language: str, count: int, names: Sequence[str]) -> str:
    """The morning digest: the residents with new warnings for the doctor."""
    _ = translations(language).gettext
    shown = _("; ").join(_short_name(n) for n in names[:5])
    more = _(" and {count} more").format(count=len(names) - 5) if len(names) > 5 else ""
    text = _("[Linli] New warnings since yesterday for {count}: {names}{more}. See the dashboard.")
    return _fit([text.format(count=count, names=shown, more=more)])
